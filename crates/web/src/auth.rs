//! Admin authentication: `Authorization: Bearer <key>` against named keys.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use cohai_domain::{LeadScope, Principal, Role, StaffDirectory};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// One accepted key: its name (recorded as the actor), the SHA-256 digest of the key, and
/// what it may use.
#[derive(Clone)]
pub struct AdminKey {
    name: String,
    digest: [u8; 32],
    role: Role,
    scope: LeadScope,
}

impl std::fmt::Debug for AdminKey {
    /// Never prints the digest.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminKey")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("scope", &self.scope)
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
    /// Two keys share a name (names are actors and assignees: they must tell keys apart).
    #[error("two admin keys are named {0:?}")]
    DuplicateName(String),
    /// Only a manager can be limited to locations.
    #[error("admin key {0:?} has `locations`, which only a `manager` key can have")]
    LocationsForAdmin(String),
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
            role: Role::Admin,
            scope: LeadScope::All,
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
            role: Role::Admin,
            scope: LeadScope::All,
        })
    }

    /// This key with `role` and, for a manager, a lead scope (an admin sees every lead).
    pub fn with_access(mut self, role: Role, scope: LeadScope) -> Result<Self, AdminKeyError> {
        if role == Role::Admin && scope != LeadScope::All {
            return Err(AdminKeyError::LocationsForAdmin(self.name));
        }
        self.role = role;
        self.scope = scope;
        Ok(self)
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A fingerprint of the key: the SHA-256 (hex) of its digest. A console session keeps it,
    /// so that replacing a key under the same name ends the sessions it opened; it reveals
    /// neither the key nor the digest in the configuration.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(self.digest))
    }

    /// The key's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The leads the key may see.
    pub fn scope(&self) -> &LeadScope {
        &self.scope
    }

    /// Who presents this key.
    pub fn principal(&self) -> Principal {
        Principal {
            name: self.name.clone(),
            role: self.role,
            scope: self.scope.clone(),
        }
    }
}

/// The configured keys.
#[derive(Debug, Clone, Default)]
pub struct AdminKeys(Vec<AdminKey>);

impl AdminKeys {
    /// These keys; their names must differ.
    pub fn new(keys: Vec<AdminKey>) -> Result<Self, AdminKeyError> {
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].iter().any(|earlier| earlier.name == key.name) {
                return Err(AdminKeyError::DuplicateName(key.name.clone()));
            }
        }
        Ok(Self(keys))
    }

    /// The keys' names and lead scopes (who can own a lead).
    pub fn directory(&self) -> StaffDirectory {
        StaffDirectory::new(self.0.iter().map(|k| (k.name.clone(), k.scope.clone())))
    }

    /// The key named `name` (case-sensitive), if there is one.
    pub fn by_name(&self, name: &str) -> Option<&AdminKey> {
        self.0.iter().find(|key| key.name == name)
    }

    /// Every key, in configuration order.
    pub fn iter(&self) -> impl Iterator<Item = &AdminKey> {
        self.0.iter()
    }

    /// True when no key is configured (every admin request is then refused).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The key matching `presented`, comparing digests in constant time and always against
    /// every key.
    pub fn authenticate(&self, presented: &str) -> Option<&AdminKey> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for key in &self.0 {
            if bool::from(key.digest.ct_eq(&digest)) && found.is_none() {
                found = Some(key);
            }
        }
        found
    }

    /// The key of the request's bearer token, if it is one of these.
    pub fn authenticate_request(&self, req: &HttpRequest) -> Option<&AdminKey> {
        bearer_token(req).and_then(|token| self.authenticate(token))
    }
}

/// The admin who made the request, as the route's authorisation
/// ([`crate::authorize::authorize`]) found it. Extracting it on a route declared without
/// authorisation is a server error, so such a route cannot serve anyone by mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    /// The key's name, recorded as the actor of changes.
    pub name: String,
    /// What the key may use.
    pub role: Role,
    /// The leads it may see and change.
    pub scope: LeadScope,
}

impl Admin {
    /// The key as the services know it.
    pub fn principal(&self) -> Principal {
        Principal {
            name: self.name.clone(),
            role: self.role,
            scope: self.scope.clone(),
        }
    }
}

impl From<Principal> for Admin {
    fn from(p: Principal) -> Self {
        Self {
            name: p.name,
            role: p.role,
            scope: p.scope,
        }
    }
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
        let principal = req.extensions().get::<Principal>().cloned();
        ready(principal.map(Admin::from).ok_or_else(|| {
            log::error!(
                "{} was routed without an authorisation declaration",
                req.match_pattern().unwrap_or_default()
            );
            ApiError::internal()
        }))
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
        ])
        .expect("keys");
        let name = |k: &str| keys.authenticate(k).map(AdminKey::name);
        assert_eq!(name("first-key"), Some("admin"));
        assert_eq!(name("second-key"), Some("manager"));
        assert_eq!(name("wrong"), None);
        assert!(AdminKeys::default().authenticate("").is_none());
    }

    #[test]
    fn a_key_carries_its_role_and_scope_into_the_principal() {
        let scope = LeadScope::from_locations(Some(&[2]));
        let key = AdminKey::from_plain("olga", "k")
            .and_then(|k| k.with_access(Role::Manager, scope.clone()))
            .expect("key");
        let principal = key.principal();
        assert_eq!(principal.role, Role::Manager);
        assert_eq!(principal.scope, scope);
        assert_eq!(principal.name, "olga");
    }

    #[test]
    fn rejects_duplicate_names_and_admins_limited_to_locations() {
        let twice = AdminKeys::new(vec![
            AdminKey::from_plain("anna", "a").expect("key"),
            AdminKey::from_plain("anna", "b").expect("key"),
        ]);
        assert!(matches!(twice, Err(AdminKeyError::DuplicateName(n)) if n == "anna"));
        let limited_admin = AdminKey::from_plain("boss", "k")
            .expect("key")
            .with_access(Role::Admin, LeadScope::from_locations(Some(&[1])));
        assert!(matches!(
            limited_admin,
            Err(AdminKeyError::LocationsForAdmin(_))
        ));
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
