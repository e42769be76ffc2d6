//! The faults currently injected, shared between the handle and every connection.

use crate::shape::{Delivery, Dropouts, Shape, Shaper};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A direction of the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Client → upstream.
    Up,
    /// Upstream → client.
    Down,
}

/// Cut flag, delay, the seeded drop generator, each direction's link model and the drop-out
/// schedule.
pub(crate) struct Faults {
    cut: AtomicBool,
    delay_micros: AtomicU64,
    drop: Mutex<Option<(f64, StdRng)>>,
    /// The link model of each direction (up, down); shared by every connection, as one link
    /// carries them all.
    shapers: [Mutex<Option<Shaper>>; 2],
    /// The drop-out schedule and when it started.
    dropouts: Mutex<Option<(Dropouts, Instant)>>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            cut: AtomicBool::new(false),
            delay_micros: AtomicU64::new(0),
            drop: Mutex::new(None),
            shapers: [Mutex::new(None), Mutex::new(None)],
            dropouts: Mutex::new(None),
        }
    }
}

impl Faults {
    pub(crate) fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
    }

    /// Whether the link is down now: cut by hand, or in a drop-out.
    pub(crate) fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst) || self.in_dropout(Instant::now())
    }

    /// Sets (or clears) both directions' link models, seeded for replay.
    pub(crate) fn set_shapes(&self, shapes: Option<(Shape, Shape)>, seed: u64) {
        let (up, down) = match shapes {
            Some((u, d)) => (
                Some(Shaper::new(u, seed)),
                Some(Shaper::new(d, seed.wrapping_add(1))),
            ),
            None => (None, None),
        };
        for (slot, s) in self.shapers.iter().zip([up, down]) {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = s;
        }
    }

    /// When a chunk of `len` bytes read now in direction `dir` reaches the other side, by the
    /// link model and the fixed delay; `None` when neither applies.
    pub(crate) fn schedule(&self, dir: Dir, now: Instant, len: usize) -> Option<Delivery> {
        let i = match dir {
            Dir::Up => 0,
            Dir::Down => 1,
        };
        let shaped = self.shapers[i]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_mut()
            .map(|s| s.schedule(now, len));
        let delay = self.delay();
        match shaped {
            Some(d) => Some(Delivery {
                at: d.at + delay,
                ..d
            }),
            None if delay.is_zero() => None,
            None => Some(Delivery {
                at: now + delay,
                stalled: false,
            }),
        }
    }

    /// Starts (or clears) a drop-out schedule from `start`.
    pub(crate) fn set_dropouts(&self, d: Option<Dropouts>, start: Instant) {
        *self.dropouts.lock().unwrap_or_else(|p| p.into_inner()) = d.map(|d| (d, start));
    }

    /// The drop-out schedule and its start, if any.
    pub(crate) fn dropouts(&self) -> Option<(Dropouts, Instant)> {
        *self.dropouts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn in_dropout(&self, now: Instant) -> bool {
        self.dropouts()
            .is_some_and(|(d, start)| d.is_out(now.saturating_duration_since(start)))
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
