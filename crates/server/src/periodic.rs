//! A job that runs on a thread of its own at start and then every so often, until dropped:
//! the shape of the server's background work that blocks on the database (the purges, the
//! timetable horizon), kept off the async executor.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

/// The running job; dropping it stops the thread (after a run in progress).
pub struct Periodic {
    name: &'static str,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Periodic {
    /// Runs `run` now and every `every` on a thread named `name`.
    pub fn start(
        name: &'static str,
        every: Duration,
        mut run: impl FnMut() + Send + 'static,
    ) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                loop {
                    run();
                    match stopped.recv_timeout(every) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            })?;
        Ok(Self {
            name,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Periodic {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            log::error!("the {} job panicked", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[test]
    fn it_runs_at_start_and_each_period_and_never_after_the_drop() {
        let runs = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&runs);
        let job = Periodic::start("test", Duration::from_millis(20), move || {
            counted.fetch_add(1, Ordering::SeqCst);
        })
        .expect("start");
        std::thread::sleep(Duration::from_millis(130));
        drop(job);
        let after_drop = runs.load(Ordering::SeqCst);
        assert!(after_drop >= 2, "{after_drop} runs");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(
            runs.load(Ordering::SeqCst),
            after_drop,
            "nothing after the drop"
        );
    }
}
