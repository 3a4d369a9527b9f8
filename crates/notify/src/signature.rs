//! Webhook secrets and the `Cohai-Signature` header.
//!
//! A receiver checks a delivery with the secret it was given once, at registration:
//! `Cohai-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, where the
//! HMAC key is the secret string's UTF-8 bytes (API §7).
//!
//! # Why the server stores only [`signing_key`]
//!
//! A secret from [`new_secret`] is `whsec_` and 64 hex digits: 70 bytes, longer than
//! SHA-256's 64-byte block. RFC 2104 §2 says that HMAC first replaces such a key by its hash,
//! so `HMAC(secret, m) == HMAC(SHA-256(secret), m)` for every message `m`. The server therefore
//! keeps `signing_key(secret)` = SHA-256(secret), which is exactly what signing needs, and never
//! the secret itself: a copy of the database does not hand out the secrets that receivers
//! check with (though it can sign, as any verifier key of a symmetric scheme can).
//!
//! The equality holds only for keys longer than the block: a secret of 64 bytes or fewer is
//! zero-padded, not hashed. That is why secrets are only ever made by [`new_secret`], whose
//! length a compile-time assertion keeps above 64 bytes.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// What every webhook secret starts with, so that it is recognisable in a receiver's config.
pub const SECRET_PREFIX: &str = "whsec_";

/// Random bytes in a secret (hex-encoded after the prefix).
const SECRET_RANDOM_BYTES: usize = 32;

/// Length in bytes of every secret from [`new_secret`].
pub const SECRET_LEN: usize = SECRET_PREFIX.len() + 2 * SECRET_RANDOM_BYTES;

/// SHA-256's block size: HMAC hashes keys longer than this (RFC 2104).
const SHA256_BLOCK_LEN: usize = 64;

// `signing_key` stands in for the secret only while HMAC hashes the secret (see module docs).
const _: () = assert!(SECRET_LEN > SHA256_BLOCK_LEN);

/// A new webhook secret: `whsec_` and 64 lowercase hex digits (256 bits from the thread-local
/// CSPRNG, which is seeded from the operating system).
///
/// Shown to the administrator once; only [`signing_key`] of it is stored.
pub fn new_secret() -> String {
    let mut bytes = [0_u8; SECRET_RANDOM_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", hex::encode(bytes))
}

/// The key the server stores and signs with: SHA-256 of the secret's UTF-8 bytes.
///
/// For a secret from [`new_secret`], HMAC with this key equals HMAC with the secret itself
/// (see the module docs); for a secret of 64 bytes or fewer it would not.
pub fn signing_key(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// The `Cohai-Signature` header value: `t=<unix_seconds>,v1=<64 lowercase hex>`, where `v1` is
/// HMAC-SHA256 with `key` over `"<unix_seconds>.<body>"`.
///
/// ```
/// let h = cohai_notify::signature::signature_header(b"key", 1_700_000_000, b"{}");
/// assert!(h.starts_with("t=1700000000,v1="));
/// assert_eq!(h.len(), "t=1700000000,v1=".len() + 64);
/// ```
pub fn signature_header(key: &[u8], unix_seconds: i64, body: &[u8]) -> String {
    let mut mac = hmac_sha256(key);
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let v1 = hex::encode(mac.finalize().into_bytes());
    format!("t={unix_seconds},v1={v1}")
}

/// HMAC-SHA256 keyed with `key` of any length.
///
/// The key is turned into one block the way RFC 2104 says (hashed when longer than the block,
/// zero-padded otherwise), which is what `Hmac::new_from_slice` does too; doing it here makes
/// construction infallible instead of a `Result` that can never be an error.
fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    let mut block = [0_u8; SHA256_BLOCK_LEN];
    if key.len() > SHA256_BLOCK_LEN {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    <Hmac<Sha256> as KeyInit>::new(&block.into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// HMAC-SHA256 as the hmac crate computes it from a raw key: what a receiver does.
    fn reference_hmac(key: &[u8], message: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }

    fn v1(header: &str) -> &str {
        header.split_once(",v1=").unwrap().1
    }

    #[test]
    fn a_new_secret_is_the_prefix_and_64_lowercase_hex_digits() {
        let secret = new_secret();
        assert_eq!(secret.len(), SECRET_LEN);
        let digits = secret.strip_prefix("whsec_").unwrap();
        assert_eq!(digits.len(), 64);
        assert!(
            digits
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        );
    }

    #[test]
    fn new_secrets_are_longer_than_the_sha256_block_and_all_different() {
        let secrets: Vec<String> = (0..64).map(|_| new_secret()).collect();
        assert!(secrets.iter().all(|s| s.len() > 64));
        let mut unique = secrets.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), secrets.len());
    }

    #[test]
    fn signing_with_the_stored_key_equals_hmac_with_the_raw_secret() {
        for _ in 0..32 {
            let secret = new_secret();
            let body = br#"{"id":"e1","type":"lead.created"}"#;
            let header = signature_header(&signing_key(&secret), 1_764_000_000, body);
            let expected = reference_hmac(
                secret.as_bytes(),
                b"1764000000.{\"id\":\"e1\",\"type\":\"lead.created\"}",
            );
            assert_eq!(v1(&header), expected);
        }
    }

    #[test]
    fn the_signature_matches_the_hmac_crate_for_keys_of_every_length() {
        for len in [0, 1, 31, 32, 63, 64, 65, 70, 128, 200] {
            let key: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let header = signature_header(&key, 42, b"body");
            assert_eq!(
                v1(&header),
                reference_hmac(&key, b"42.body"),
                "key length {len}"
            );
        }
    }

    #[test]
    fn a_short_secret_is_not_equivalent_to_its_hash() {
        // Why secrets must stay longer than 64 bytes: a short key is padded, not hashed.
        let header = signature_header(&signing_key("short"), 1, b"x");
        assert_ne!(v1(&header), reference_hmac(b"short", b"1.x"));
    }

    #[test]
    fn the_header_is_exactly_t_and_v1_in_lowercase_hex() {
        let header = signature_header(&[7; 32], 1_764_000_000, b"{}");
        let (t, hex) = header
            .strip_prefix("t=")
            .unwrap()
            .split_once(",v1=")
            .unwrap();
        assert_eq!(t, "1764000000");
        assert_eq!(hex.len(), 64);
        assert!(hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    }

    #[test]
    fn the_keyed_hmac_matches_a_published_hmac_sha256_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut mac = hmac_sha256(b"Jefe");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signing_key_is_sha256_of_the_secret() {
        assert_eq!(
            hex::encode(signing_key("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
