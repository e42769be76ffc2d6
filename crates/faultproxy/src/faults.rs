//! The faults currently injected, shared between the handle and every connection.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Cut flag, delay and the seeded drop generator.
pub(crate) struct Faults {
    cut: AtomicBool,
    delay_micros: AtomicU64,
    drop: Mutex<Option<(f64, StdRng)>>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            cut: AtomicBool::new(false),
            delay_micros: AtomicU64::new(0),
            drop: Mutex::new(None),
        }
    }
}

impl Faults {
    pub(crate) fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
    }

    pub(crate) fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }

    pub(crate) fn set_delay(&self, delay: Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.delay_micros.store(micros, Ordering::SeqCst);
    }

    pub(crate) fn delay(&self) -> Duration {
        Duration::from_micros(self.delay_micros.load(Ordering::SeqCst))
    }

    pub(crate) fn set_drop_rate(&self, rate: f64, seed: u64) {
        let rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        let mut guard = self.drop.lock().unwrap_or_else(|p| p.into_inner());
        *guard = (rate > 0.0).then(|| (rate, StdRng::seed_from_u64(seed)));
    }

    /// Whether to drop the next connection; one draw per connection, in accept order.
    pub(crate) fn should_drop(&self) -> bool {
        let mut guard = self.drop.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_mut() {
            Some((rate, rng)) => rng.gen_bool(*rate),
            None => false,
        }
    }
}
