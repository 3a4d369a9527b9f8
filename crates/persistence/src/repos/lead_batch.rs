//! The lead writer's batch on PostgreSQL, set-based: a handful of statements per batch
//! instead of five per submission.
//!
//! Storing submissions one by one costs five round trips each (the phone's lock, the open-lead
//! lookup, the lead, its event, its outbox row), and PostgreSQL parses, plans and starts an
//! executor — CHECK constraints, defaults, indexes — for each. Profiled at the bench's 64
//! connections (perf, whole machine), PostgreSQL took 69 % of both cores for 2,900
//! submissions a second, about 470 µs of its CPU each, mostly per-statement overhead. Here a
//! batch is, in one transaction:
//!
//! 1. the references it names (one `= ANY` lookup per kind present);
//! 2. the locks of its phones, in phone order (one statement: [`lock_phones`]);
//! 3. the open leads of its phones (one lateral query);
//! 4. the new leads (one `INSERT … SELECT … FROM unnest(…) RETURNING`);
//! 5. their events and outbox rows (two such inserts: [`record_lead_events_postgres`]).
//!
//! Steps 2 to 5 have one text whatever the batch's size, so Diesel keeps them prepared and
//! PostgreSQL plans each once per connection (`lead_batch_sql.rs`, with the profile).
//!
//! The outcome is what storing the submissions one by one in arrival order would give
//! (the generic path in `lead_writer.rs`, used on SQLite and when a batch fails): a later
//! submission of a phone joins the lead an earlier one created; a missing reference refuses
//! only its submission; the locks are those of the one-by-one path (the same keys), so both
//! paths and other instances exclude each other per phone.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, SubsecRound, Utc};
use cohai_domain::lead::LeadReference;
use cohai_domain::ports::SubmitError;
use cohai_domain::{Lead, LeadEventKind, LeadStatus, NewLead, Submission, WEBSITE_ACTOR};
use diesel::PgConnection;
use diesel::prelude::*;

use super::lead::{LeadRecord, LeadRow, first_event_data};
use super::lead_batch_sql::{InsertLeads, LockPhones, OpenLeads};
use super::outbox::{LeadEventWrite, record_lead_events_postgres};
use super::{IntoDomain, to_db_time};
use crate::error::StoreError;
use crate::schema::{class_sessions, locations, program_types};

/// One submission of a batch: the lead and the start of its de-duplication window.
pub(super) struct Queued<'a> {
    pub new: &'a NewLead,
    pub open_since: DateTime<Utc>,
}

/// What a submission comes to, decided before anything is written.
enum Plan {
    /// It names a reference that does not exist: refused, nothing written.
    Missing(LeadReference),
    /// It creates a lead.
    Create,
    /// It joins the open lead stored before the batch (index into the leads found).
    JoinStored(usize),
    /// It joins the lead an earlier submission of this batch creates (that one's index).
    JoinCreated(usize),
}

/// An open lead of a phone that a later submission may join, while the batch is planned.
#[derive(Clone, Copy)]
struct Joinable {
    /// As stored: to the microsecond.
    created_at: DateTime<Utc>,
    /// The stored lead (index into the leads found), or the submission that creates it.
    source: Source,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Stored(usize),
    CreatedBy(usize),
}

/// Stores `batch` (arrival order) inside the caller's transaction; one outcome per
/// submission, in the same order. An error aborts the transaction.
pub(super) fn store_batch_postgres(
    c: &mut PgConnection,
    batch: &[Queued<'_>],
) -> Result<Vec<Result<Submission, SubmitError>>, StoreError> {
    let missing = missing_references(c, batch)?;
    let mut phones: Vec<&str> = batch
        .iter()
        .zip(&missing)
        .filter(|(_, missing)| missing.is_none())
        .map(|(q, _)| q.new.phone.as_str())
        .collect();
    phones.sort_unstable();
    phones.dedup();
    let stored = if phones.is_empty() {
        Vec::new()
    } else {
        lock_phones(c, &phones)?;
        open_leads(c, &phones, batch)?
    };

    let plans = plan(batch, missing, &stored);
    let created = insert_leads(c, batch, &plans)?;
    let lead_of = |plan: &Plan, i: usize| -> Option<&Lead> {
        match *plan {
            Plan::Missing(_) => None,
            Plan::Create => created.get(&i),
            Plan::JoinStored(s) => stored.get(s),
            Plan::JoinCreated(first) => created.get(&first),
        }
    };

    // Events in arrival order: a lead's `created` comes before the `resubmitted` of a later
    // submission, in id order as one by one would number them.
    let mut event_data: Vec<(usize, LeadEventKind, serde_json::Value)> = Vec::new();
    for (i, (q, plan)) in batch.iter().zip(&plans).enumerate() {
        match plan {
            Plan::Missing(_) => {}
            Plan::Create => {
                event_data.extend(first_event_data(q.new).map(|(kind, data)| (i, kind, data)))
            }
            Plan::JoinStored(_) | Plan::JoinCreated(_) => event_data.push((
                i,
                LeadEventKind::Resubmitted,
                q.new.resubmission_event_data(),
            )),
        }
    }
    let mut writes = Vec::with_capacity(event_data.len());
    for (i, kind, data) in &event_data {
        let lead = lead_of(&plans[*i], *i).ok_or_else(|| StoreError::from(not_stored()))?;
        writes.push(LeadEventWrite {
            lead_id: lead.id,
            lead: Some(lead),
            kind: *kind,
            actor: WEBSITE_ACTOR,
            data,
            at: batch[*i].new.created_at,
        });
    }
    record_lead_events_postgres(c, &writes)?;

    Ok(plans
        .iter()
        .enumerate()
        .map(|(i, plan)| match (plan, lead_of(plan, i)) {
            (Plan::Missing(reference), _) => Err(SubmitError::MissingReference(*reference)),
            (Plan::Create, Some(lead)) => Ok(Submission::Created(lead.clone())),
            (_, Some(lead)) => Ok(Submission::Resubmitted(lead.clone())),
            (_, None) => Err(SubmitError::Repo(not_stored())),
        })
        .collect())
}

/// What each submission of `batch` comes to, in arrival order as one by one would go: a
/// submission joins the newest open lead of its phone created within its own window (by
/// creation time, then id: a lead this batch creates has a higher id than any stored one, and
/// a later creation a higher id than an earlier one), else it creates one. `stored` are the
/// phones' newest open leads found before the batch.
fn plan(batch: &[Queued<'_>], missing: Vec<Option<LeadReference>>, stored: &[Lead]) -> Vec<Plan> {
    let mut joinable: HashMap<&str, Vec<Joinable>> = HashMap::new();
    for (s, lead) in stored.iter().enumerate() {
        joinable
            .entry(lead.phone.as_str())
            .or_default()
            .push(Joinable {
                created_at: lead.created_at,
                source: Source::Stored(s),
            });
    }
    batch
        .iter()
        .zip(missing)
        .enumerate()
        .map(|(i, (q, missing))| {
            if let Some(reference) = missing {
                return Plan::Missing(reference);
            }
            let phone = q.new.phone.as_str();
            // The database compares to the microsecond (what a bound timestamp keeps).
            let since = q.open_since.trunc_subsecs(6);
            let newest = joinable
                .get(phone)
                .into_iter()
                .flatten()
                .filter(|j| j.created_at >= since)
                .max_by_key(|j| (j.created_at, j.source));
            match newest.map(|j| j.source) {
                Some(Source::Stored(s)) => Plan::JoinStored(s),
                Some(Source::CreatedBy(first)) => Plan::JoinCreated(first),
                None => {
                    if LeadStatus::OPEN.contains(&q.new.status) {
                        joinable.entry(phone).or_default().push(Joinable {
                            created_at: q.new.created_at.trunc_subsecs(6),
                            source: Source::CreatedBy(i),
                        });
                    }
                    Plan::Create
                }
            }
        })
        .collect()
}

/// A plan that names a lead the batch did not store (a bug, never expected).
fn not_stored() -> cohai_domain::RepoError {
    cohai_domain::RepoError::Internal("a planned lead was not stored".to_owned())
}

/// For each submission, the first reference it names that does not exist (location, then
/// program type, then class session, as the one-by-one path checks them).
fn missing_references(
    c: &mut PgConnection,
    batch: &[Queued<'_>],
) -> Result<Vec<Option<LeadReference>>, StoreError> {
    const KINDS: [LeadReference; 3] = [
        LeadReference::Location,
        LeadReference::ProgramType,
        LeadReference::ClassSession,
    ];
    let mut existing: Vec<HashSet<i64>> = Vec::with_capacity(KINDS.len());
    for reference in KINDS {
        let mut ids: Vec<i64> = batch
            .iter()
            .filter_map(|q| reference.id_in(q.new))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let found: Vec<i64> = if ids.is_empty() {
            Vec::new()
        } else {
            match reference {
                LeadReference::Location => locations::table
                    .filter(locations::id.eq_any(&ids))
                    .select(locations::id)
                    .load(c)?,
                LeadReference::ProgramType => program_types::table
                    .filter(program_types::id.eq_any(&ids))
                    .select(program_types::id)
                    .load(c)?,
                LeadReference::ClassSession => class_sessions::table
                    .filter(class_sessions::id.eq_any(&ids))
                    .select(class_sessions::id)
                    .load(c)?,
            }
        };
        existing.push(found.into_iter().collect());
    }
    Ok(batch
        .iter()
        .map(|q| {
            KINDS.iter().zip(&existing).find_map(|(reference, found)| {
                reference
                    .id_in(q.new)
                    .filter(|id| !found.contains(id))
                    .map(|_| *reference)
            })
        })
        .collect())
}

/// Takes the transaction-scoped advisory locks of `phones` (sorted) in their order, in one
/// statement: the keys of the one-by-one path (`TransactionLock`), so a phone's submissions
/// through any path or instance queue behind each other, and batches that share phones take
/// them in the same order (no deadlock).
fn lock_phones(c: &mut PgConnection, phones: &[&str]) -> Result<(), StoreError> {
    LockPhones { phones }.execute(c)?;
    Ok(())
}

/// The newest open lead of each of `phones` created since the earliest window start of the
/// batch (each submission then checks its own window): one index probe per phone along
/// `leads_phone_created_idx`, as the one-by-one lookup does. (As `phone = ANY(…)` with the
/// status filter, the planner read every open lead through the status index instead.)
fn open_leads(
    c: &mut PgConnection,
    phones: &[&str],
    batch: &[Queued<'_>],
) -> Result<Vec<Lead>, StoreError> {
    let Some(since) = batch.iter().map(|q| q.open_since).min() else {
        return Ok(Vec::new());
    };
    let rows: Vec<LeadRow> = OpenLeads {
        phones,
        statuses: LeadStatus::OPEN.map(LeadStatus::as_str),
        since: to_db_time(since),
    }
    .load(c)?;
    rows.into_iter().map(IntoDomain::into_domain).collect()
}

/// Inserts the leads the plan creates, in one statement; the stored leads by the index of
/// the submission that created each.
fn insert_leads(
    c: &mut PgConnection,
    batch: &[Queued<'_>],
    plans: &[Plan],
) -> Result<HashMap<usize, Lead>, StoreError> {
    let creators: Vec<usize> = plans
        .iter()
        .enumerate()
        .filter(|(_, plan)| matches!(plan, Plan::Create))
        .map(|(i, _)| i)
        .collect();
    if creators.is_empty() {
        return Ok(HashMap::new());
    }
    let records: Vec<LeadRecord<'_>> = creators
        .iter()
        .map(|&i| LeadRecord::from(batch[i].new))
        .collect();
    let rows: Vec<LeadRow> = InsertLeads::new(&records).load(c)?;
    // Ids follow the input's order (`ORDER BY n`: each row takes the identity's next value
    // as it is inserted; `create_many` relies on it too); RETURNING's own order is not
    // promised, so sort by id. A phone may be created twice in one batch (windows differ),
    // so the phones are checked pairwise rather than used as keys.
    let mut leads: Vec<Lead> = rows
        .into_iter()
        .map(IntoDomain::into_domain)
        .collect::<Result<_, _>>()?;
    leads.sort_unstable_by_key(|lead| lead.id);
    if leads.len() != creators.len()
        || creators
            .iter()
            .zip(&leads)
            .any(|(&i, lead)| lead.phone != batch[i].new.phone.as_str())
    {
        return Err(StoreError::from(cohai_domain::RepoError::Internal(
            "the inserted leads did not come back in their order".to_owned(),
        )));
    }
    Ok(creators.into_iter().zip(leads).collect())
}
