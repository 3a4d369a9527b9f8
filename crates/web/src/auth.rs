//! Admin authentication: `Authorization: Bearer <key>` against named keys.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

/// One accepted key: its name (recorded as the actor) and the SHA-256 digest of the key.
#[derive(Clone)]
pub struct AdminKey {
    name: String,
    digest: [u8; 32],
}

impl std::fmt::Debug for AdminKey {
    /// Never prints the digest.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Why a configured key was rejected.
#[derive(Debug, thiserror::Error)]
pub enum AdminKeyError {
    /// The digest is not 64 hex characters.
    #[error("the SHA-256 digest of admin key {0:?} must be 64 hexadecimal characters")]
    BadDigest(String),
    /// The key or name is empty.
    #[error("admin keys need a non-empty name and key")]
    Empty,
}

impl AdminKey {
    /// A key given in plain text (e.g. from `COHAI_ADMIN_API_KEY`); only its digest is kept.
    pub fn from_plain(name: &str, key: &str) -> Result<Self, AdminKeyError> {
        if name.is_empty() || key.is_empty() {
            return Err(AdminKeyError::Empty);
        }
        Ok(Self {
            name: name.to_owned(),
            digest: Sha256::digest(key.as_bytes()).into(),
        })
    }

    /// A key given as the hex SHA-256 digest of the key (as stored in the config file).
    pub fn from_sha256_hex(name: &str, digest_hex: &str) -> Result<Self, AdminKeyError> {
        if name.is_empty() {
            return Err(AdminKeyError::Empty);
        }
        let mut digest = [0u8; 32];
        hex::decode_to_slice(digest_hex.trim(), &mut digest)
            .map_err(|_| AdminKeyError::BadDigest(name.to_owned()))?;
        Ok(Self {
            name: name.to_owned(),
            digest,
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The configured keys.
#[derive(Debug, Clone, Default)]
pub struct AdminKeys(Vec<AdminKey>);

impl AdminKeys {
    /// These keys.
    pub fn new(keys: Vec<AdminKey>) -> Self {
        Self(keys)
    }

    /// True when no key is configured (every admin request is then refused).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The name of the key matching `presented`, comparing digests in constant time and
    /// always against every key.
    pub fn authenticate(&self, presented: &str) -> Option<&str> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for key in &self.0 {
            if bool::from(key.digest.ct_eq(&digest)) && found.is_none() {
                found = Some(key.name.as_str());
            }
        }
        found
    }
}

/// An authenticated admin; extracting it answers 401 for a missing, malformed or wrong key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// The key's name, recorded as the actor of changes.
    pub name: String,
}

/// The bearer token of the request's one `Authorization` header; none when the header is
/// missing, malformed or given more than once (which of two would be meant is unknowable).
fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let name = req
            .app_data::<web::Data<AppState>>()
            .zip(bearer_token(req))
            .and_then(|(state, token)| {
                state
                    .settings
                    .admin_keys
                    .authenticate(token)
                    .map(str::to_owned)
            });
        ready(
            name.map(|name| Admin { name })
                .ok_or_else(ApiError::unauthorized),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authenticates_plain_and_digest_keys_by_name() {
        let digest = hex::encode(Sha256::digest(b"second-key"));
        let keys = AdminKeys::new(vec![
            AdminKey::from_plain("admin", "first-key").expect("key"),
            AdminKey::from_sha256_hex("manager", &digest).expect("key"),
        ]);
        assert_eq!(keys.authenticate("first-key"), Some("admin"));
        assert_eq!(keys.authenticate("second-key"), Some("manager"));
        assert_eq!(keys.authenticate("wrong"), None);
        assert_eq!(AdminKeys::default().authenticate(""), None);
    }

    #[test]
    fn rejects_malformed_digests_and_empty_keys() {
        assert!(AdminKey::from_sha256_hex("x", "abc").is_err());
        assert!(AdminKey::from_plain("admin", "").is_err());
    }

    #[test]
    fn two_authorization_headers_give_no_token() {
        let req = actix_web::test::TestRequest::default()
            .append_header((header::AUTHORIZATION, "Bearer a"))
            .append_header((header::AUTHORIZATION, "Bearer b"))
            .to_http_request();
        assert_eq!(bearer_token(&req), None);
        let req = actix_web::test::TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Bearer a"))
            .to_http_request();
        assert_eq!(bearer_token(&req), Some("a"));
    }

    #[test]
    fn debug_output_hides_the_digest() {
        let key = AdminKey::from_plain("admin", "k").expect("key");
        assert!(!format!("{key:?}").contains("digest"));
    }
}
