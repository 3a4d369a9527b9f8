//! Who may do what with the admin API (API.md §3.1): a key's role and, for a manager, the
//! studios whose leads it may see.

use std::collections::BTreeSet;

use crate::string_enum;

string_enum! {
    /// What an admin key may use.
    Role {
        /// Everything.
        Admin => "admin",
        /// Only the leads endpoints, optionally limited to some locations.
        Manager => "manager",
    }
}

/// The leads a key may see and change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LeadScope {
    /// Every lead.
    #[default]
    All,
    /// Only leads of these locations; a lead without a location is outside.
    Locations(BTreeSet<i64>),
}

impl LeadScope {
    /// A scope from a configured location list (`None`: every lead).
    pub fn from_locations(locations: Option<&[i64]>) -> Self {
        match locations {
            None => Self::All,
            Some(ids) => Self::Locations(ids.iter().copied().collect()),
        }
    }

    /// Whether a lead of `location_id` is inside the scope.
    pub fn allows(&self, location_id: Option<i64>) -> bool {
        match self {
            Self::All => true,
            Self::Locations(ids) => location_id.is_some_and(|id| ids.contains(&id)),
        }
    }

    /// The location limit, if any (for a query's `WHERE location_id IN (…)`).
    pub fn location_limit(&self) -> Option<Vec<i64>> {
        match self {
            Self::All => None,
            Self::Locations(ids) => Some(ids.iter().copied().collect()),
        }
    }
}

/// An authenticated admin key: its name (the actor of its changes), role and lead scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's name.
    pub name: String,
    /// What the key may use.
    pub role: Role,
    /// The leads it may see (always [`LeadScope::All`] for an admin).
    pub scope: LeadScope,
}

impl Principal {
    /// An admin: every endpoint, every lead.
    pub fn admin(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            role: Role::Admin,
            scope: LeadScope::All,
        }
    }
}

/// The configured keys by name, as the lead rules need them: an assignee must name one, and a
/// location-limited manager may only own leads of its locations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffDirectory {
    members: Vec<(String, LeadScope)>,
}

impl StaffDirectory {
    /// The directory of these `(name, scope)` pairs.
    pub fn new(members: impl IntoIterator<Item = (String, LeadScope)>) -> Self {
        Self {
            members: members.into_iter().collect(),
        }
    }

    /// The scope of the key named `name` (case-sensitive), if there is one.
    pub fn scope_of(&self, name: &str) -> Option<&LeadScope> {
        self.members
            .iter()
            .find(|(member, _)| member == name)
            .map(|(_, scope)| scope)
    }

    /// Whether a key is named `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.scope_of(name).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_scope_allows_only_its_locations_and_never_a_lead_without_one() {
        let scope = LeadScope::from_locations(Some(&[1, 3]));
        assert!(scope.allows(Some(1)));
        assert!(scope.allows(Some(3)));
        assert!(!scope.allows(Some(2)));
        assert!(!scope.allows(None));
        assert_eq!(scope.location_limit(), Some(vec![1, 3]));
    }

    #[test]
    fn the_unlimited_scope_allows_every_lead() {
        let scope = LeadScope::from_locations(None);
        assert!(scope.allows(None));
        assert!(scope.allows(Some(7)));
        assert_eq!(scope.location_limit(), None);
    }

    #[test]
    fn the_directory_finds_names_case_sensitively() {
        let staff = StaffDirectory::new([
            ("admin".to_owned(), LeadScope::All),
            ("olga".to_owned(), LeadScope::from_locations(Some(&[2]))),
        ]);
        assert!(staff.contains("olga"));
        assert!(!staff.contains("Olga"));
        assert_eq!(
            staff.scope_of("olga"),
            Some(&LeadScope::from_locations(Some(&[2])))
        );
    }

    #[test]
    fn roles_read_their_wire_names_only() {
        assert_eq!("manager".parse::<Role>().ok(), Some(Role::Manager));
        assert!("Manager".parse::<Role>().is_err());
    }
}
