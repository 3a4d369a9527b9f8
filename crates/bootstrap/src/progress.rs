//! Progress reporting for long operations: progress bars on a terminal, nothing in tests.

use indicatif::{ProgressBar, ProgressStyle};

/// Receives the progress of a long operation, one phase at a time.
pub trait Progress {
    /// A new phase with `total` units of work begins (ends any previous one).
    fn start(&mut self, label: &str, total: u64);
    /// `done` more units of the current phase are finished.
    fn advance(&mut self, done: u64);
    /// The current phase is over.
    fn finish(&mut self);
}

/// Ignores all progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&mut self, _label: &str, _total: u64) {}
    fn advance(&mut self, _done: u64) {}
    fn finish(&mut self) {}
}

/// One `indicatif` bar per phase on standard error; hidden when standard error is not a
/// terminal.
#[derive(Debug, Default)]
pub struct Bars {
    current: Option<ProgressBar>,
}

impl Bars {
    /// Bars that draw on standard error.
    pub fn new() -> Self {
        Self::default()
    }

    fn style() -> ProgressStyle {
        ProgressStyle::with_template(
            "{prefix:>16} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} ({per_sec}, ETA {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
    }
}

impl Progress for Bars {
    fn start(&mut self, label: &str, total: u64) {
        self.finish();
        let bar = ProgressBar::new(total)
            .with_style(Self::style())
            .with_prefix(label.to_owned());
        self.current = Some(bar);
    }

    fn advance(&mut self, done: u64) {
        if let Some(bar) = &self.current {
            bar.inc(done);
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.current.take() {
            bar.finish();
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        if let Some(bar) = self.current.take() {
            bar.abandon();
        }
    }
}
