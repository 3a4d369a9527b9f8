//! Group commit: concurrent callers share one write transaction.
//!
//! SQLite has a single writer, so per-call transactions serialise every caller on one lock and
//! pay a `BEGIN`/`COMMIT` and a connection check-out each. Here callers queue their job instead;
//! one of them (the leader) runs every queued job in one batch while the others wait for their
//! own result. Jobs arriving during a batch form the next one, so batches grow with the load
//! without any timer or background thread.

use std::collections::VecDeque;
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, MutexGuard, PoisonError};

use cohai_domain::{RepoError, RepoResult};

/// Queued jobs of type `J` whose results are `RepoResult<T>`, and who leads the next batch.
pub(crate) struct GroupCommit<J, T> {
    state: Mutex<State<J, T>>,
    max_batch: usize,
}

struct State<J, T> {
    /// Jobs not yet taken into a batch, oldest first.
    queue: VecDeque<Waiting<J, T>>,
    /// Whether a leader is running (or has been named): then new callers only wait.
    leading: bool,
}

/// A queued job and the channel to its caller.
struct Waiting<J, T> {
    job: J,
    reply: Sender<Turn<T>>,
}

/// What a waiting caller is told.
enum Turn<T> {
    /// Its job ran; here is its result.
    Done(RepoResult<T>),
    /// Its job is the oldest queued one and nobody leads: it runs the next batch.
    Lead,
}

impl<J, T> GroupCommit<J, T> {
    /// Batches of at most `max_batch` (at least 1) jobs.
    pub(crate) fn new(max_batch: usize) -> Self {
        Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                leading: false,
            }),
            max_batch: max_batch.max(1),
        }
    }

    /// Queues `job` and returns its result. If this caller becomes the leader, it takes up to
    /// `max_batch` queued jobs (its own first) and runs them with `run`, which returns one result
    /// per job in order; otherwise it waits until a leader answers or makes it the leader.
    ///
    /// Never waits forever: a leader that panics drops its batch's channels, which wakes those
    /// callers with an error, and hands the leadership on while unwinding.
    pub(crate) fn submit(
        &self,
        job: J,
        run: impl FnOnce(&[J]) -> Vec<RepoResult<T>>,
    ) -> RepoResult<T> {
        let (reply, turn) = mpsc::channel();
        let lead = {
            let mut state = self.lock();
            state.queue.push_back(Waiting { job, reply });
            !std::mem::replace(&mut state.leading, true)
        };
        if !lead {
            match turn.recv() {
                Ok(Turn::Done(result)) => return result,
                Ok(Turn::Lead) => {}
                Err(mpsc::RecvError) => return Err(leader_failed()),
            }
        }
        // The leader's job is the oldest queued one (a leader is only named for the queue's
        // front, and `leading` is only cleared with an empty queue), so it is in this batch.
        let handoff = Handoff(self);
        let (jobs, replies): (Vec<J>, Vec<Sender<Turn<T>>>) = {
            let mut state = self.lock();
            let n = state.queue.len().min(self.max_batch);
            state.queue.drain(..n).map(|w| (w.job, w.reply)).unzip()
        };
        let results = run(&jobs);
        // A missing result drops its sender: that caller gets an error rather than waiting.
        for (reply, result) in replies.into_iter().zip(results) {
            // Only fails if the caller is gone, which it cannot be while its job is queued.
            let _ = reply.send(Turn::Done(result));
        }
        drop(handoff);
        match turn.recv() {
            Ok(Turn::Done(result)) => result,
            Ok(Turn::Lead) | Err(mpsc::RecvError) => Err(leader_failed()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<J, T>> {
        // Poisoning needs a panic while the lock is held, which only touches the queue; the
        // state stays consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Ends a leader's turn, also when its batch panics: names the caller of the oldest queued
/// job the next leader, or records that nobody leads when the queue is empty.
struct Handoff<'a, J, T>(&'a GroupCommit<J, T>);

impl<J, T> Drop for Handoff<'_, J, T> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        while let Some(next) = state.queue.front() {
            if next.reply.send(Turn::Lead).is_ok() {
                return;
            }
            // Its caller is gone (cannot happen: callers wait while queued); skip it.
            state.queue.pop_front();
        }
        state.leading = false;
    }
}

/// The error of callers whose leader panicked before answering.
fn leader_failed() -> RepoError {
    RepoError::Internal("the group commit of this write failed".to_owned())
}

/// A copy of `error` for each caller of a batch that failed as a whole.
pub(crate) fn copy_error(error: &RepoError) -> RepoError {
    match error {
        RepoError::Conflict(m) => RepoError::Conflict(m.clone()),
        RepoError::MissingReference(m) => RepoError::MissingReference(m.clone()),
        RepoError::Invalid(m) => RepoError::Invalid(m.clone()),
        RepoError::Stale => RepoError::Stale,
        RepoError::Unavailable(m) => RepoError::Unavailable(m.clone()),
        RepoError::Internal(m) => RepoError::Internal(m.clone()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;

    #[test]
    fn every_caller_gets_its_own_result_in_batches() {
        let group = GroupCommit::<u32, u32>::new(8);
        let barrier = Barrier::new(32);
        let batches = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for i in 0..32 {
                let (group, barrier, batches) = (&group, &barrier, &batches);
                s.spawn(move || {
                    barrier.wait();
                    let got = group.submit(i, |jobs| {
                        batches.lock().expect("batches").push(jobs.len());
                        jobs.iter().map(|j| Ok(j * 10)).collect()
                    });
                    assert_eq!(got.expect("result"), i * 10);
                });
            }
        });
        let batches = batches.into_inner().expect("batches");
        assert_eq!(batches.iter().sum::<usize>(), 32);
        assert!(batches.iter().all(|n| (1..=8).contains(n)));
    }

    #[test]
    fn a_panicking_leader_fails_only_its_batch_and_nobody_hangs() {
        let group = GroupCommit::<u32, u32>::new(4);
        let barrier = Barrier::new(16);
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..16)
                .map(|i| {
                    let (group, barrier) = (&group, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        group.submit(i, |jobs| {
                            assert!(!jobs.contains(&3), "job 3 panics its batch");
                            jobs.iter().map(|j| Ok(*j)).collect()
                        })
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join()).collect()
        });
        // Exactly one leader panicked; job 3 did not succeed; every success is its own result.
        assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
        assert!(!matches!(results[3], Ok(Ok(_))));
        for (i, result) in (0..).zip(&results) {
            if let Ok(Ok(got)) = result {
                assert_eq!(*got, i);
            }
        }
        let got = group.submit(99, |jobs| jobs.iter().map(|j| Ok(*j)).collect());
        assert_eq!(got.expect("after the panic"), 99);
    }
}
