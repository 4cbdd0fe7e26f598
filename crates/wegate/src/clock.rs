//! The server's one clock. Handlers, the store's callers and the token signer take `now` from
//! [`crate::app::App::now`], which asks the [`Clock`] in the state: tests move time instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

/// Unix time in seconds.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> i64;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        crate::util::unix_now()
    }
}

/// The wall clock shifted by an offset that only grows: a test advances it to expire codes, sessions
/// and tokens without waiting, while time still flows for everything else (WeCom's timestamps, TTLs).
#[derive(Debug, Default)]
pub struct ShiftedClock {
    offset: AtomicI64,
}

impl ShiftedClock {
    pub fn new() -> ShiftedClock {
        ShiftedClock::default()
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.offset.fetch_add(seconds.max(0), Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> i64 {
        crate::util::unix_now() + self.offset.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shifted_clock_only_moves_forward() {
        let clock = ShiftedClock::new();
        let before = clock.now();
        clock.advance(3600);
        assert!(clock.now() >= before + 3600);
        clock.advance(-7200);
        assert!(clock.now() >= before + 3600);
    }
}
