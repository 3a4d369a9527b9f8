//! The `Cohai-Signature` header of a webhook delivery (API §7):
//! `t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>`.
//!
//! The server signs with the key it stores for a webhook, SHA-256 of its secret; a receiver
//! checks with the secret itself, and both give the same HMAC because the secret is longer than
//! SHA-256's block (see `cohai_domain::webhook_secret`, where secrets are made).

use cohai_domain::webhook_secret::SHA256_BLOCK_LEN;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

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

    use cohai_domain::webhook_secret::WebhookSecret;

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
    fn signing_with_the_stored_key_equals_hmac_with_the_raw_secret() {
        for _ in 0..32 {
            let secret = WebhookSecret::generate();
            let body = br#"{"id":"e1","type":"lead.created"}"#;
            let header = signature_header(&secret.signing_key(), 1_764_000_000, body);
            let expected = reference_hmac(
                secret.expose().as_bytes(),
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
        let header = signature_header(&Sha256::digest(b"short"), 1, b"x");
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
}
