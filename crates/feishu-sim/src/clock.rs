//! The simulator's one clock: unix seconds, with an offset that tests move forward.
//!
//! Every lifetime (codes, user, app and tenant tokens, refresh tokens) is measured against [`Clock::now`], so
//! `advance` makes a five-minute code expire without waiting five minutes.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock unix seconds plus an adjustable offset.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    offset: AtomicI64,
}

impl Clock {
    /// Current simulated time, unix seconds.
    pub(crate) fn now(&self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        wall.saturating_add(self.offset.load(Ordering::SeqCst))
    }

    /// Moves the simulated time forward (or back, if negative) by `secs`.
    pub(crate) fn advance(&self, secs: i64) {
        self.offset.fetch_add(secs, Ordering::SeqCst);
    }
}
