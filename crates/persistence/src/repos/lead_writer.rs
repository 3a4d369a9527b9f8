//! The lead form's writer: a thread stores queued submissions, many per transaction.
//!
//! A submission is small and the public form's load is many of them at once. One transaction
//! each makes the commit the bottleneck (SQLite has one writer; PostgreSQL flushes its WAL per
//! commit), and a blocking thread per waiting request costs memory and context switches. So
//! callers queue their submission with a callback and return; the writer takes everything
//! queued (up to [`MAX_BATCH`]), stores it in one transaction in arrival order, and only after
//! the commit calls each callback. Batches grow with the load, with no timer.
//!
//! Bounded: at most [`QUEUE_CAPACITY`] submissions wait (more are refused at once as
//! unavailable), and one that waited longer than the pool's connection timeout is refused
//! rather than stored late.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use cohai_domain::ports::SubmitDone;
use cohai_domain::{NewLead, RepoError, RepoResult, Submission};

use super::Db;

/// Most submissions waiting for the writer; more are refused with `Unavailable`. At the
/// writer's pace (thousands a second) a full queue is well under a second of work.
pub const QUEUE_CAPACITY: usize = 2048;

/// Most submissions stored in one transaction.
pub const MAX_BATCH: usize = 128;

const _: () = assert!(MAX_BATCH > 1 && MAX_BATCH <= QUEUE_CAPACITY);

/// A queued submission.
pub(crate) struct Job {
    /// The lead to store.
    pub(crate) new: NewLead,
    /// Start of its de-duplication window.
    pub(crate) open_since: DateTime<Utc>,
    done: SubmitDone,
    queued_at: Instant,
}

/// Stores one batch, returning one result per job in order. Runs on the writer thread.
pub(crate) type StoreBatch = fn(&Db, &[Job]) -> Vec<RepoResult<Submission>>;

/// The queues and the threads that drain them. A thread starts with its first submission and
/// stops, after storing what is queued, when this is dropped.
///
/// SQLite has one writer. PostgreSQL gets several (up to [`MAX_POSTGRES_WRITERS`], half the
/// pool), each a connection's worth of round trips in parallel; a phone always goes to the
/// same one, so its submissions stay in arrival order.
pub(crate) struct LeadWriter {
    db: Db,
    store: StoreBatch,
    /// Longest a submission may wait in the queue.
    max_wait: Duration,
    writers: Vec<Mutex<Option<Running>>>,
}

/// Most writer threads on PostgreSQL.
const MAX_POSTGRES_WRITERS: u32 = 4;

struct Running {
    queue: SyncSender<Job>,
    thread: JoinHandle<()>,
}

impl LeadWriter {
    /// A writer storing batches with `store`; submissions wait at most the pool's connection
    /// timeout.
    pub(crate) fn new(db: Db, store: StoreBatch) -> Self {
        let max_wait = db.pool().connection_timeout();
        let count = if db.is_sqlite() {
            1
        } else {
            (db.pool().max_size() / 2).clamp(1, MAX_POSTGRES_WRITERS)
        };
        Self {
            db,
            store,
            max_wait,
            writers: (0..count).map(|_| Mutex::new(None)).collect(),
        }
    }

    /// Queues a submission; `done` gets its outcome on the writer thread, or at once on this
    /// thread when the queue is full or the writer cannot start.
    pub(crate) fn submit(&self, new: NewLead, open_since: DateTime<Utc>, done: SubmitDone) {
        let job = Job {
            new,
            open_since,
            done,
            queued_at: Instant::now(),
        };
        let queue = match self.queue(job.new.phone.as_str()) {
            Ok(queue) => queue,
            Err(error) => return (job.done)(Err(error)),
        };
        match queue.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => (job.done)(Err(RepoError::Unavailable(
                "too many lead submissions are waiting to be stored".to_owned(),
            ))),
            // Only while the writer is being dropped.
            Err(TrySendError::Disconnected(job)) => (job.done)(Err(RepoError::Unavailable(
                "the lead writer has stopped".to_owned(),
            ))),
        }
    }

    /// The sending end of the queue for `phone`, starting its thread on first use.
    fn queue(&self, phone: &str) -> RepoResult<SyncSender<Job>> {
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
        let (db, store, max_wait) = (self.db.clone(), self.store, self.max_wait);
        let thread = std::thread::Builder::new()
            .name("lead-writer".to_owned())
            .spawn(move || drain(&db, store, max_wait, &jobs))
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
fn drain(db: &Db, store: StoreBatch, max_wait: Duration, jobs: &Receiver<Job>) {
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
            (job.done)(Err(RepoError::Unavailable(
                "the lead waited too long to be stored".to_owned(),
            )));
        }
        if ready.is_empty() {
            continue;
        }
        let results = store(db, &ready);
        let unavailable = results
            .iter()
            .any(|r| matches!(r, Err(RepoError::Unavailable(_))));
        for (job, result) in ready.into_iter().zip(results) {
            (job.done)(result);
        }
        if unavailable {
            // The database is out of reach: what queued meanwhile would wait a pool timeout
            // per batch; refuse it now, the clients may retry.
            while let Ok(job) = jobs.try_recv() {
                (job.done)(Err(RepoError::Unavailable(
                    "the database is unavailable".to_owned(),
                )));
            }
        }
    }
}
