//! Funnel statistics of the leads (API.md §3.1 `GET /api/v1/admin/leads/stats`).
//!
//! The storage counts in SQL ([`LeadCounts`]); [`LeadStats::from_counts`] turns the counts into
//! the answer: every status and source present, the location and campaign lists in their
//! documented order, the conversion rate.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use crate::{LeadSource, LeadStatus};

/// Which leads the statistics count: created in `[created_from, created_to)` (a missing bound
/// leaves that side open), of one location, within the caller's location limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LeadStatsFilter {
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_to: Option<DateTime<Utc>>,
    /// Only this location.
    pub location_id: Option<i64>,
    /// Only leads of these locations (the caller's lead scope); a lead without one is left out.
    pub location_limit: Option<Vec<i64>>,
}

/// Leads and conversions of one group (a location, a UTM source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupCount {
    /// Leads in the group.
    pub total: i64,
    /// Of them, converted.
    pub converted: i64,
}

/// What the storage counts, by `GROUP BY`: groups without leads may be missing, and a status or
/// source may appear more than once (its counts add up: the storage may group by several
/// columns at once).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LeadCounts {
    /// Leads per status.
    pub by_status: Vec<(LeadStatus, i64)>,
    /// Leads per source.
    pub by_source: Vec<(LeadSource, i64)>,
    /// Leads and conversions per location (`None`: no location).
    pub by_location: Vec<(Option<i64>, GroupCount)>,
    /// Leads and conversions per UTM source (`None`: none given).
    pub by_utm_source: Vec<(Option<String>, GroupCount)>,
    /// The median of the minutes from creation to the first `status_changed` away from `new`,
    /// over the leads that have one.
    pub median_first_contact_minutes: Option<f64>,
}

/// Leads and conversions of one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocationTally {
    /// The location; `null` for leads without one.
    pub location_id: Option<i64>,
    /// Leads.
    pub total: i64,
    /// Converted leads.
    pub converted: i64,
}

/// Leads and conversions of one UTM source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UtmSourceTally {
    /// The `utm_source`; `null` for leads without one.
    pub utm_source: Option<String>,
    /// Leads.
    pub total: i64,
    /// Converted leads.
    pub converted: i64,
}

/// The statistics as the API answers them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadStats {
    /// Leads in the window.
    pub total: i64,
    /// Leads per status, every status present, in declaration order.
    #[serde(serialize_with = "as_map")]
    pub by_status: Vec<(LeadStatus, i64)>,
    /// Leads per source, every source present, in declaration order.
    #[serde(serialize_with = "as_map")]
    pub by_source: Vec<(LeadSource, i64)>,
    /// Every location with a lead in the window: by `total` descending, then id, `null` last.
    pub by_location: Vec<LocationTally>,
    /// Every UTM source with a lead in the window: by `total` descending, then the value in
    /// code-point order, `null` last.
    pub by_utm_source: Vec<UtmSourceTally>,
    /// Converted leads / `total`; 0 when there are none.
    pub conversion_rate: f64,
    /// See [`LeadCounts::median_first_contact_minutes`].
    pub median_first_contact_minutes: Option<f64>,
}

/// Serialises `(key, count)` pairs as a JSON object in their order.
fn as_map<K: Serialize, S: Serializer>(pairs: &[(K, i64)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, n)| (k, n)))
}

/// Every value of `all` with its count in `counted` (0 when missing), in `all`'s order.
fn every<K: Copy + PartialEq>(all: &[K], counted: &[(K, i64)]) -> Vec<(K, i64)> {
    all.iter()
        .map(|k| {
            let n = counted.iter().filter(|(c, _)| c == k).map(|(_, n)| n).sum();
            (*k, n)
        })
        .collect()
}

/// By `total` descending, then by value ascending with `None` last.
fn by_total_then_value<K: Ord>(
    a: (&Option<K>, &GroupCount),
    b: (&Option<K>, &GroupCount),
) -> Ordering {
    b.1.total.cmp(&a.1.total).then_with(|| match (a.0, b.0) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    })
}

impl LeadStats {
    /// The answer for these counts. `String`'s order is code-point order (UTF-8 bytes compare
    /// as their code points), so the UTM sources are ordered the same on every backend.
    pub fn from_counts(counts: LeadCounts) -> Self {
        let by_status = every(LeadStatus::ALL, &counts.by_status);
        let by_source = every(LeadSource::ALL, &counts.by_source);
        let total: i64 = by_status.iter().map(|(_, n)| n).sum();
        let converted = by_status
            .iter()
            .find(|(s, _)| *s == LeadStatus::Converted)
            .map_or(0, |(_, n)| *n);
        let mut locations = counts.by_location;
        locations.sort_by(|a, b| by_total_then_value((&a.0, &a.1), (&b.0, &b.1)));
        let mut utm_sources = counts.by_utm_source;
        utm_sources.sort_by(|a, b| by_total_then_value((&a.0, &a.1), (&b.0, &b.1)));
        Self {
            total,
            by_status,
            by_source,
            by_location: locations
                .into_iter()
                .map(|(location_id, t)| LocationTally {
                    location_id,
                    total: t.total,
                    converted: t.converted,
                })
                .collect(),
            by_utm_source: utm_sources
                .into_iter()
                .map(|(utm_source, t)| UtmSourceTally {
                    utm_source,
                    total: t.total,
                    converted: t.converted,
                })
                .collect(),
            conversion_rate: if total == 0 {
                0.0
            } else {
                converted as f64 / total as f64
            },
            median_first_contact_minutes: counts.median_first_contact_minutes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(total: i64, converted: i64) -> GroupCount {
        GroupCount { total, converted }
    }

    #[test]
    fn every_status_and_source_is_present_and_the_rate_is_converted_over_total() {
        let stats = LeadStats::from_counts(LeadCounts {
            by_status: vec![
                (LeadStatus::Converted, 1),
                (LeadStatus::New, 2),
                (LeadStatus::New, 1),
            ],
            by_source: vec![(LeadSource::Vk, 4)],
            ..LeadCounts::default()
        });
        assert_eq!(stats.total, 4);
        assert_eq!(stats.by_status.len(), LeadStatus::ALL.len());
        assert_eq!(stats.by_source.len(), LeadSource::ALL.len());
        assert_eq!(stats.conversion_rate, 0.25);
        let json = serde_json::to_value(&stats).expect("serialise");
        assert_eq!(
            json["by_status"],
            serde_json::json!({"new": 3, "contacted": 0, "trial_scheduled": 0, "converted": 1, "lost": 0})
        );
        assert_eq!(json["by_source"]["vk"], 4);
        assert_eq!(json["by_source"]["website"], 0);
    }

    #[test]
    fn no_leads_give_zeros_and_a_zero_rate() {
        let stats = LeadStats::from_counts(LeadCounts::default());
        assert_eq!((stats.total, stats.conversion_rate), (0, 0.0));
        assert!(stats.by_status.iter().all(|(_, n)| *n == 0));
        assert_eq!(stats.median_first_contact_minutes, None);
    }

    #[test]
    fn groups_are_by_total_descending_then_value_with_null_last() {
        let stats = LeadStats::from_counts(LeadCounts {
            by_location: vec![
                (None, tally(5, 0)),
                (Some(9), tally(2, 1)),
                (Some(3), tally(5, 2)),
                (Some(1), tally(2, 0)),
            ],
            by_utm_source: vec![
                (Some("яндекс".into()), tally(1, 0)),
                (None, tally(1, 0)),
                (Some("Z".into()), tally(1, 0)),
                (Some("a".into()), tally(1, 1)),
                (Some("vk".into()), tally(7, 1)),
            ],
            ..LeadCounts::default()
        });
        let locations: Vec<Option<i64>> = stats.by_location.iter().map(|l| l.location_id).collect();
        assert_eq!(locations, [Some(3), None, Some(1), Some(9)]);
        let sources: Vec<Option<&str>> = stats
            .by_utm_source
            .iter()
            .map(|u| u.utm_source.as_deref())
            .collect();
        assert_eq!(
            sources,
            [Some("vk"), Some("Z"), Some("a"), Some("яндекс"), None],
            "code-point order: upper case before lower case before Cyrillic"
        );
    }
}
