//! The model of one direction of a poor link, as the application sees it through TCP: a token
//! bucket (the link's rate), a one-way delay with seeded jitter, and loss shown as what TCP makes
//! of it — a lost segment is retransmitted, so the chunk carrying it arrives about one round trip
//! late (a stall), never missing. Pure: time is passed in, so the model is tested without
//! sockets or clocks.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

/// Payload bytes of one TCP segment on an Ethernet-sized path: loss is drawn per segment.
pub const SEGMENT_BYTES: usize = 1448;

/// How one direction of a link carries bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    /// Bytes per second the direction carries; `None` is unlimited.
    pub rate: Option<u64>,
    /// Bytes the token bucket lets through at once after an idle spell.
    pub burst: u64,
    /// Delay of every chunk, one way.
    pub one_way: Duration,
    /// Each chunk's delay is `one_way` plus or minus up to this much, uniformly.
    pub jitter: Duration,
    /// Probability that a TCP segment is lost (0–1).
    pub loss: f64,
    /// What a loss costs the chunk carrying it: the retransmission, about one round trip.
    pub stall: Duration,
}

impl Default for Shape {
    fn default() -> Self {
        Self {
            rate: None,
            burst: (4 * SEGMENT_BYTES) as u64,
            one_way: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: 0.0,
            stall: Duration::ZERO,
        }
    }
}

/// When a chunk reaches the far side, and whether a loss stalled it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Delivery {
    /// When its last byte arrives.
    pub at: Instant,
    /// Whether a lost segment in it was retransmitted.
    pub stalled: bool,
}

/// One direction's running state: the bucket's tokens and the seeded generator.
pub(crate) struct Shaper {
    shape: Shape,
    rng: StdRng,
    /// Tokens in the bucket (negative: bytes still queued on the link) as of `clock`.
    tokens: f64,
    clock: Option<Instant>,
}

impl Shaper {
    /// A shaper for `shape`, its jitter and loss drawn from a generator seeded with `seed`.
    pub(crate) fn new(shape: Shape, seed: u64) -> Self {
        let tokens = shape.burst as f64;
        Self {
            shape,
            rng: StdRng::seed_from_u64(seed),
            tokens,
            clock: None,
        }
    }

    /// When a chunk of `len` bytes handed to the link at `now` arrives (before the
    /// connection's in-order rule: a chunk never overtakes the one before it).
    pub(crate) fn schedule(&mut self, now: Instant, len: usize) -> Delivery {
        let sent = match self.shape.rate.filter(|r| *r > 0) {
            None => now,
            Some(rate) => {
                let rate = rate as f64;
                let since = self
                    .clock
                    .map_or(0.0, |c| now.saturating_duration_since(c).as_secs_f64());
                let t = self.clock.map_or(now, |c| c.max(now));
                self.tokens = (self.tokens + since * rate).min(self.shape.burst as f64);
                self.clock = Some(t);
                self.tokens -= len as f64;
                if self.tokens >= 0.0 {
                    t
                } else {
                    t + Duration::from_secs_f64(-self.tokens / rate)
                }
            }
        };
        let mut delay = self.shape.one_way;
        if !self.shape.jitter.is_zero() {
            let j = self.shape.jitter.as_secs_f64();
            let d = self.shape.one_way.as_secs_f64() + self.rng.gen_range(-j..=j);
            delay = Duration::from_secs_f64(d.max(0.0));
        }
        let stalled = self.lost(len);
        if stalled {
            delay += self.shape.stall;
        }
        Delivery {
            at: sent + delay,
            stalled,
        }
    }

    /// Whether any of the chunk's segments is lost (one draw per chunk, at the rate for its
    /// number of segments).
    fn lost(&mut self, len: usize) -> bool {
        let p = self.shape.loss;
        if p.is_nan() || p <= 0.0 {
            return false;
        }
        let segments = len.div_ceil(SEGMENT_BYTES).max(1);
        let chunk = 1.0 - (1.0 - p.min(1.0)).powi(i32::try_from(segments).unwrap_or(i32::MAX));
        self.rng.gen_bool(chunk.clamp(0.0, 1.0))
    }
}

/// Periodic drop-outs (a 3G cell lost, a satellite dish's rain fade): the link is up for
/// `every − lasting`, then down for `lasting`, over and over, from when they are set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dropouts {
    /// The period: one drop-out per `every`.
    pub every: Duration,
    /// How long each drop-out lasts.
    pub lasting: Duration,
}

impl Dropouts {
    /// Whether the link is down `since` after the schedule started.
    pub fn is_out(&self, since: Duration) -> bool {
        if self.every.is_zero() || self.lasting.is_zero() {
            return false;
        }
        let phase = since.as_nanos() % self.every.as_nanos();
        phase >= self.every.saturating_sub(self.lasting).as_nanos()
    }

    /// When (since the start) the next drop-out begins after `since` (strictly later).
    pub fn next_start(&self, since: Duration) -> Option<Duration> {
        if self.every.is_zero() || self.lasting.is_zero() {
            return None;
        }
        let up = self.every.saturating_sub(self.lasting);
        let every = self.every.as_nanos();
        let k = since.as_nanos() / every;
        let mut start = k * every + up.as_nanos();
        if start <= since.as_nanos() {
            start += every;
        }
        Some(Duration::from_nanos(
            u64::try_from(start).unwrap_or(u64::MAX),
        ))
    }
}
