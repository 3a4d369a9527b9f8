//! The lead form's writer: a thread stores queued submissions, many per transaction.
//!
//! A submission is small and the public form's load is many of them at once. One transaction
//! each makes the commit the bottleneck (SQLite has one writer; PostgreSQL flushes its WAL per
//! commit), and a blocking thread per waiting request costs memory and context switches. So
//! [`LeadWriter::submit`] queues a submission and returns a future; the writer takes everything
//! queued (up to [`MAX_BATCH`]), stores it in one transaction in arrival order
//! ([`store_batch`]), and only after the commit resolves each future. Batches grow with the
//! load, with no timer.
//!
//! Bounded: at most [`QUEUE_CAPACITY`] submissions wait (more are refused at once as
//! unavailable), and one that waited longer than the pool's connection timeout is refused
//! rather than stored late.
//!
//! Each stored event writes its outbox row in the same transaction (see `outbox.rs`). On
//! PostgreSQL a batch is stored set-based, a few statements for the whole batch
//! (`lead_batch.rs`); on SQLite, and when a batch fails, submission by submission.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use cohai_domain::lead::LeadReference;
use cohai_domain::ports::{BoxFuture, SubmitError};
use cohai_domain::{LeadEventKind, LeadStatus, NewLead, RepoError, Submission, WEBSITE_ACTOR};
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use tokio::sync::oneshot;

use super::lead::{LeadRow, LeadWrites, TransactionLock};
use super::lead_batch::{Queued, store_batch_postgres};
use super::outbox::{LeadEventWrite, RecordEvent};
use super::{Db, IntoDomain, to_db_time};
use crate::connection::{AnyConnection, write_transaction};
use crate::error::StoreError;
use crate::schema::{class_sessions, leads, locations, program_types};

/// Most submissions waiting for the writer; more are refused with `Unavailable`. At the
/// writer's pace (thousands a second) a full queue is well under a second of work.
pub const QUEUE_CAPACITY: usize = 2048;

/// Most submissions stored in one transaction.
pub const MAX_BATCH: usize = 128;

const _: () = assert!(MAX_BATCH > 1 && MAX_BATCH <= QUEUE_CAPACITY);

/// Most writer threads on PostgreSQL. A batch costs a few statements whatever its size
/// (`lead_batch.rs`), so fewer writers with bigger batches beat more with smaller ones; two
/// still overlap one's commit (its WAL flush) with the other's statements. Measured at 64
/// connections on the 2-core bench machine: 1 writer 8,300 submissions/s, 2 writers 9,960,
/// 4 writers 6,730.
const MAX_POSTGRES_WRITERS: u32 = 2;

/// The outcome of one submission.
pub(crate) type SubmitResult = Result<Submission, SubmitError>;

/// A queued submission.
struct Job {
    new: NewLead,
    /// Start of its de-duplication window.
    open_since: DateTime<Utc>,
    reply: oneshot::Sender<SubmitResult>,
    queued_at: Instant,
}

impl Job {
    fn answer(self, result: SubmitResult) {
        // Fails only when the caller went away; what was stored stays stored.
        let _ = self.reply.send(result);
    }
}

/// The queues and the threads that drain them. A thread starts with its first submission and
/// stops, after storing what is queued, when this is dropped.
///
/// SQLite has one writer. PostgreSQL gets up to [`MAX_POSTGRES_WRITERS`] (at most half the
/// pool); a phone always goes to the same one, so its submissions stay in arrival order.
pub(crate) struct LeadWriter {
    db: Db,
    /// Longest a submission may wait in the queue.
    max_wait: Duration,
    writers: Vec<Mutex<Option<Running>>>,
}

struct Running {
    queue: SyncSender<Job>,
    thread: JoinHandle<()>,
}

/// A future that is ready at once.
fn ready(result: SubmitResult) -> BoxFuture<SubmitResult> {
    Box::pin(std::future::ready(result))
}

impl LeadWriter {
    /// A writer over `db`; submissions wait at most the pool's connection timeout.
    pub(crate) fn new(db: Db) -> Self {
        let max_wait = db.pool().connection_timeout();
        let count = if db.is_sqlite() {
            1
        } else {
            (db.pool().max_size() / 2).clamp(1, MAX_POSTGRES_WRITERS)
        };
        Self {
            db,
            max_wait,
            writers: (0..count).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// Queues a submission. The future resolves after the commit, or at once (ready when first
    /// polled) when the queue is full or the writer cannot start.
    pub(crate) fn submit(
        &self,
        new: NewLead,
        open_since: DateTime<Utc>,
    ) -> BoxFuture<SubmitResult> {
        let queue = match self.queue(new.phone.as_str()) {
            Ok(queue) => queue,
            Err(error) => return ready(Err(error.into())),
        };
        let (reply, outcome) = oneshot::channel();
        let job = Job {
            new,
            open_since,
            reply,
            queued_at: Instant::now(),
        };
        match queue.try_send(job) {
            Ok(()) => Box::pin(async move {
                outcome.await.unwrap_or_else(|_| {
                    Err(
                        RepoError::Internal("the lead writer dropped a submission".to_owned())
                            .into(),
                    )
                })
            }),
            Err(TrySendError::Full(_)) => ready(Err(RepoError::Unavailable(
                "too many lead submissions are waiting to be stored".to_owned(),
            )
            .into())),
            // Only while the writer is being dropped.
            Err(TrySendError::Disconnected(_)) => ready(Err(RepoError::Unavailable(
                "the lead writer has stopped".to_owned(),
            )
            .into())),
        }
    }

    /// The sending end of the queue for `phone`, starting its thread on first use.
    fn queue(&self, phone: &str) -> Result<SyncSender<Job>, RepoError> {
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(phone, &mut hasher);
        let index = std::hash::Hasher::finish(&hasher) as usize % self.writers.len();
        let mut running = self.writers[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(running) = running.as_ref().filter(|r| !r.thread.is_finished()) {
            return Ok(running.queue.clone());
        }
        // First use, or the thread died (a panic in a batch): start a new one.
        let (queue, jobs) = mpsc::sync_channel(QUEUE_CAPACITY);
        let (db, max_wait) = (self.db.clone(), self.max_wait);
        let thread = std::thread::Builder::new()
            .name("lead-writer".to_owned())
            .spawn(move || drain(&db, max_wait, &jobs))
            .map_err(|e| RepoError::Unavailable(format!("cannot start the lead writer: {e}")))?;
        *running = Some(Running {
            queue: queue.clone(),
            thread,
        });
        Ok(queue)
    }
}

impl Drop for LeadWriter {
    /// Stores what is queued, then stops the threads.
    fn drop(&mut self) {
        let running: Vec<Running> = self
            .writers
            .iter_mut()
            .filter_map(|w| w.get_mut().unwrap_or_else(PoisonError::into_inner).take())
            .collect();
        let threads: Vec<JoinHandle<()>> = running
            .into_iter()
            .map(|Running { queue, thread }| {
                drop(queue);
                thread
            })
            .collect();
        for thread in threads {
            if thread.join().is_err() {
                log::error!("a lead writer panicked");
            }
        }
    }
}

/// The writer thread: takes what is queued, up to [`MAX_BATCH`], and stores it, until every
/// sender is gone.
fn drain(db: &Db, max_wait: Duration, jobs: &Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = jobs.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let now = Instant::now();
        let (late, ready): (Vec<Job>, Vec<Job>) = batch
            .drain(..)
            .partition(|job| now.duration_since(job.queued_at) > max_wait);
        for job in late {
            job.answer(Err(RepoError::Unavailable(
                "the lead waited too long to be stored".to_owned(),
            )
            .into()));
        }
        if ready.is_empty() {
            continue;
        }
        let results = store_batch(db, &ready);
        let unavailable = results
            .iter()
            .any(|r| matches!(r, Err(SubmitError::Repo(RepoError::Unavailable(_)))));
        for (job, result) in ready.into_iter().zip(results) {
            job.answer(result);
        }
        if unavailable {
            // The database is out of reach: what queued meanwhile would wait a pool timeout
            // per batch; refuse it now, the clients may retry.
            while let Ok(job) = jobs.try_recv() {
                job.answer(Err(RepoError::Unavailable(
                    "the database is unavailable".to_owned(),
                )
                .into()));
            }
        }
    }
}

/// Stores a batch of submissions in one transaction, in arrival order, so a later submission
/// of a phone sees the earlier ones. Only after the commit are the outcomes final.
///
/// On PostgreSQL the batch is stored set-based ([`store_batch_postgres`]), its per-phone locks
/// taken in phone order, so two instances' batches cannot deadlock. When the transaction fails
/// (a constraint the checks could not foresee), each submission is stored alone, so only the
/// failing one fails; when the database is unreachable, all fail at once.
fn store_batch(db: &Db, jobs: &[Job]) -> Vec<SubmitResult> {
    let together = db.write(|c| match c {
        AnyConnection::Postgresql(pg) => pg.transaction(|pg| {
            let batch: Vec<Queued<'_>> = jobs
                .iter()
                .map(|job| Queued {
                    new: &job.new,
                    open_since: job.open_since,
                })
                .collect();
            store_batch_postgres(pg, &batch)
        }),
        AnyConnection::Sqlite(lite) => lite.immediate_transaction(|lite| {
            jobs.iter()
                .map(|job| lite.submit_one(&job.new, job.open_since))
                .collect::<Result<Vec<_>, StoreError>>()
        }),
    });
    match together {
        Ok(results) => results,
        Err(error @ RepoError::Unavailable(_)) => {
            jobs.iter().map(|_| Err(error.clone().into())).collect()
        }
        Err(error) if jobs.len() == 1 => vec![Err(error.into())],
        Err(error) => {
            log::warn!(
                "a batch of {} lead submissions failed ({error}); storing them one by one",
                jobs.len()
            );
            jobs.iter()
                .map(|job| {
                    db.write(|c| write_transaction!(c, |c| c.submit_one(&job.new, job.open_since)))
                        .unwrap_or_else(|e| Err(e.into()))
                })
                .collect()
        }
    }
}

/// One submission inside the writer's transaction.
trait SubmitOne {
    /// Stores `new` (or records it on the phone's open lead). The outer error aborts the
    /// transaction; the inner one refuses this submission only, having written nothing.
    fn submit_one(
        &mut self,
        new: &NewLead,
        open_since: DateTime<Utc>,
    ) -> Result<SubmitResult, StoreError>;
}

/// Implements [`SubmitOne`] for the concrete connections: the body compiles once per backend.
macro_rules! impl_submit_one {
    ($($conn:ty),+) => {$(
        impl SubmitOne for $conn {
            fn submit_one(
                &mut self,
                new: &NewLead,
                open_since: DateTime<Utc>,
            ) -> Result<SubmitResult, StoreError> {
                let c = self;
                // Checked in the write transaction, so a reference cannot vanish between the
                // check and the insert (the foreign keys are the backstop).
                for reference in [
                    LeadReference::Location,
                    LeadReference::ProgramType,
                    LeadReference::ClassSession,
                ] {
                    let Some(id) = reference.id_in(new) else { continue };
                    let found: i64 = match reference {
                        LeadReference::Location => locations::table.find(id).count().get_result(c)?,
                        LeadReference::ProgramType => {
                            program_types::table.find(id).count().get_result(c)?
                        }
                        LeadReference::ClassSession => {
                            class_sessions::table.find(id).count().get_result(c)?
                        }
                    };
                    if found == 0 {
                        return Ok(Err(SubmitError::MissingReference(reference)));
                    }
                }
                c.lock(new.phone.as_str())?;
                // Three fixed binds rather than `eq_any`: an `IN` list is never in Diesel's
                // prepared-statement cache on SQLite, and this runs for every submission.
                let [s0, s1, s2] = LeadStatus::OPEN.map(LeadStatus::as_str);
                let existing: Option<LeadRow> = leads::table
                    .filter(leads::phone.eq(new.phone.as_str()))
                    .filter(leads::status.eq(s0).or(leads::status.eq(s1)).or(leads::status.eq(s2)))
                    .filter(leads::created_at.ge(to_db_time(open_since)))
                    .order((leads::created_at.desc(), leads::id.desc()))
                    .first(c)
                    .optional()?;
                let stored = match existing {
                    Some(row) => {
                        let lead = row.into_domain()?;
                        c.record_lead_event(&LeadEventWrite {
                            lead_id: lead.id,
                            lead: Some(&lead),
                            kind: LeadEventKind::Resubmitted,
                            actor: WEBSITE_ACTOR,
                            data: &new.resubmission_event_data(),
                            at: new.created_at,
                        })?;
                        Submission::Resubmitted(lead)
                    }
                    None => Submission::Created(c.insert_created(new, WEBSITE_ACTOR)?),
                };
                Ok(Ok(stored))
            }
        }

    )+};
}
impl_submit_one!(PgConnection, SqliteConnection);
