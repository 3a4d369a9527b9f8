//! A webhook's secret (API.md §7): made once, shown once, kept only as its signing key.
//!
//! A receiver checks a delivery with the secret it was given at registration:
//! `Cohai-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, the HMAC
//! key being the secret string's UTF-8 bytes.
//!
//! # Why the server stores only [`WebhookSecret::signing_key`]
//!
//! A secret is `whsec_` and 64 hex digits: 70 bytes, longer than SHA-256's 64-byte block.
//! RFC 2104 §2 says that HMAC first replaces such a key by its hash, so
//! `HMAC(secret, m) == HMAC(SHA-256(secret), m)` for every message `m`. The server therefore
//! keeps SHA-256(secret), which is exactly what signing needs, and never the secret itself: a
//! copy of the database does not hand out the secrets receivers check with (though it can
//! sign, as any verifier key of a symmetric scheme can). The equality holds only for keys
//! longer than the block (a shorter key is zero-padded, not hashed), which is why secrets are
//! only ever made by [`WebhookSecret::generate`], whose length a compile-time assertion keeps
//! above it.

use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// What every secret starts with, so that it is recognisable in a receiver's configuration.
pub const SECRET_PREFIX: &str = "whsec_";

/// Random bytes in a secret, written as twice as many hex digits.
const SECRET_RANDOM_BYTES: usize = 32;

/// Length in bytes of every secret.
pub const SECRET_LEN: usize = SECRET_PREFIX.len() + 2 * SECRET_RANDOM_BYTES;

/// SHA-256's block: HMAC hashes a longer key first, which is what lets the hash stand in.
pub const SHA256_BLOCK_LEN: usize = 64;

// The stored key signs like the secret only while the secret is longer than the block.
const _: () = assert!(SECRET_LEN > SHA256_BLOCK_LEN);

/// A new webhook's secret, shown once. `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// A fresh secret: [`SECRET_PREFIX`] and 64 lower-case hex digits (256 bits from the
    /// thread-local CSPRNG, which the operating system seeds).
    pub fn generate() -> Self {
        let mut bytes = [0_u8; SECRET_RANDOM_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(format!("{SECRET_PREFIX}{}", hex::encode(bytes)))
    }

    /// The secret itself, for the one reply that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The key the server stores and signs with: SHA-256 of the secret's UTF-8 bytes, equal
    /// to the secret as an HMAC-SHA256 key (see the module docs).
    pub fn signing_key(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_the_prefix_and_64_lowercase_hex_digits_and_fresh_each_time() {
        let secret = WebhookSecret::generate();
        assert_eq!(secret.expose().len(), SECRET_LEN);
        let digits = secret.expose().strip_prefix("whsec_").expect("the prefix");
        assert_eq!(digits.len(), 64);
        assert!(
            digits
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        );
        let mut all: Vec<String> = (0..64)
            .map(|_| WebhookSecret::generate().expose().to_owned())
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 64, "all different");
        assert!(!format!("{secret:?}").contains(digits), "Debug hides it");
    }

    #[test]
    fn the_signing_key_is_sha256_of_the_secret() {
        let secret = WebhookSecret("abc".to_owned());
        assert_eq!(
            hex::encode(secret.signing_key()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
