//! What the link to one peer is doing, for the operator of a lodge on a poor link (issue 22):
//! bytes in and out per second over the last minute, the round trip of a pull, retries (failed
//! pulls: the loss the application sees), when a pull last succeeded, and how long catching up
//! should take at the pace pulls have been going. Pure: every figure is fed with the time it
//! happened, so it is tested without a network or a clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The window the per-second rates are averaged over.
pub const RATE_WINDOW: Duration = Duration::from_secs(60);
/// Weight of a new round-trip sample in the smoothed round trip. Pulls are few (one per
/// long-poll when idle), so a sample weighs more than TCP's 1/8 per segment.
const RTT_GAIN: f64 = 0.5;
/// Weight of a new sample in the smoothed catch-up pace.
const PACE_GAIN: f64 = 0.25;
/// Pulls carrying fewer changes do not set the catch-up pace: one booking's two changes say
/// nothing of how fast a thousand travel.
pub const PACE_MIN_CHANGES: u64 = 100;

/// Counters and recent samples of one peer's link.
#[derive(Clone, Debug, Default)]
pub struct LinkMeter {
    /// Bytes received from the peer since start, as TCP carried them (HTTP framing and TLS
    /// records included; counted by `wire_count`).
    pub bytes_in: u64,
    /// Bytes sent to the peer since start.
    pub bytes_out: u64,
    /// Pulls from the peer that failed since start.
    pub retries: u64,
    /// Smoothed round trip of a pull (its time less the peer's long-poll wait).
    pub rtt: Option<Duration>,
    /// When a pull last succeeded.
    pub last_success: Option<Instant>,
    /// Changes applied per second of pulling, smoothed over pulls that carried changes.
    pub pace: Option<f64>,
    /// One-second buckets of `(second since the first, in, out)`, the last [`RATE_WINDOW`].
    buckets: VecDeque<(u64, u64, u64)>,
    origin: Option<Instant>,
}

/// A copy of a link's figures as an operator reads them, at one moment.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct LinkFigures {
    /// Bytes per second received, over the last minute.
    pub bytes_in_per_s: f64,
    /// Bytes per second sent, over the last minute.
    pub bytes_out_per_s: f64,
    /// Bytes received since start.
    pub bytes_in: u64,
    /// Bytes sent since start.
    pub bytes_out: u64,
    /// Smoothed round trip, in milliseconds, once a pull has succeeded.
    pub rtt_ms: Option<u64>,
    /// Failed pulls since start.
    pub retries: u64,
    /// Seconds since a pull last succeeded, once one has.
    pub since_success_s: Option<u64>,
    /// Seconds catching up should take at the recent pace of big pulls, or a round trip per
    /// batch before one was seen (0 when nothing is behind; unknown before any pull succeeded).
    pub catch_up_s: Option<f64>,
}

/// Figures are finite (counts, averages, durations), never NaN: equality is total.
impl Eq for LinkFigures {}

impl LinkMeter {
    /// Counts `bytes_in` received and `bytes_out` sent at `now`.
    pub fn traffic(&mut self, now: Instant, bytes_in: u64, bytes_out: u64) {
        self.bytes_in += bytes_in;
        self.bytes_out += bytes_out;
        let origin = *self.origin.get_or_insert(now);
        let second = now.saturating_duration_since(origin).as_secs();
        match self.buckets.back_mut() {
            Some(b) if b.0 == second => {
                b.1 += bytes_in;
                b.2 += bytes_out;
            }
            _ => self.buckets.push_back((second, bytes_in, bytes_out)),
        }
        self.forget_before(second);
    }

    /// A pull that succeeded at `now`: it took `took`, the peer held it `waited`, and it
    /// carried `changes`.
    pub fn pulled(&mut self, now: Instant, took: Duration, waited: Duration, changes: u64) {
        self.last_success = Some(now);
        let rtt = took.saturating_sub(waited);
        self.rtt = Some(match self.rtt {
            None => rtt,
            Some(old) => old
                .mul_f64(1.0 - RTT_GAIN)
                .saturating_add(rtt.mul_f64(RTT_GAIN)),
        });
        if changes >= PACE_MIN_CHANGES && !rtt.is_zero() {
            let pace = changes as f64 / rtt.as_secs_f64();
            self.pace = Some(match self.pace {
                None => pace,
                Some(old) => old * (1.0 - PACE_GAIN) + pace * PACE_GAIN,
            });
        }
    }

    /// A pull that failed.
    pub fn failed(&mut self) {
        self.retries += 1;
    }

    /// The figures at `now`, with `behind` changes still to pull in pulls of up to `batch`.
    pub fn figures(&self, now: Instant, behind: u64, batch: usize) -> LinkFigures {
        let (mut i, mut o) = (0, 0);
        if let Some(origin) = self.origin {
            let second = now.saturating_duration_since(origin).as_secs();
            let from = second.saturating_sub(RATE_WINDOW.as_secs());
            for (_, bi, bo) in self.buckets.iter().filter(|b| b.0 >= from) {
                i += bi;
                o += bo;
            }
        }
        let window = RATE_WINDOW.as_secs_f64();
        LinkFigures {
            bytes_in_per_s: i as f64 / window,
            bytes_out_per_s: o as f64 / window,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
            rtt_ms: self
                .rtt
                .map(|r| u64::try_from(r.as_millis()).unwrap_or(u64::MAX)),
            retries: self.retries,
            since_success_s: self
                .last_success
                .map(|t| now.saturating_duration_since(t).as_secs()),
            catch_up_s: if behind == 0 {
                Some(0.0)
            } else {
                // The pace of big pulls when one has been seen, else a round trip per batch.
                self.pace
                    .filter(|p| *p > 0.0)
                    .map(|p| behind as f64 / p)
                    .or_else(|| {
                        let pulls = behind.div_ceil(u64::try_from(batch.max(1)).unwrap_or(1));
                        self.rtt.map(|r| r.as_secs_f64() * pulls as f64)
                    })
            },
        }
    }

    fn forget_before(&mut self, second: u64) {
        let from = second.saturating_sub(RATE_WINDOW.as_secs());
        while self.buckets.front().is_some_and(|b| b.0 < from) {
            self.buckets.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn rates_are_averaged_over_the_last_minute_and_forget_older_traffic() {
        let t0 = Instant::now();
        let mut m = LinkMeter::default();
        m.traffic(t0, 600, 60);
        m.traffic(t0 + s(30), 600, 60);
        let f = m.figures(t0 + s(30), 0, 1000);
        assert_eq!((f.bytes_in_per_s, f.bytes_out_per_s), (20.0, 2.0));
        assert_eq!((f.bytes_in, f.bytes_out), (1_200, 120));
        // Two minutes on, the first is out of the window; three on, both.
        assert_eq!(m.figures(t0 + s(75), 0, 1000).bytes_in_per_s, 10.0);
        assert_eq!(m.figures(t0 + s(200), 0, 1000).bytes_in_per_s, 0.0);
        // The buckets stay bounded.
        for i in 31..1_031 {
            m.traffic(t0 + s(i), 1, 1);
        }
        assert!(m.buckets.len() <= 61, "{}", m.buckets.len());
        assert_eq!(m.bytes_in, 2_200);
    }

    #[test]
    fn the_round_trip_leaves_out_the_peers_wait_and_is_smoothed() {
        let t0 = Instant::now();
        let mut m = LinkMeter::default();
        m.pulled(t0, Duration::from_millis(30_700), s(30), 0);
        assert_eq!(m.figures(t0, 0, 1000).rtt_ms, Some(700));
        // One slow pull moves the smoothed figure half of the way.
        m.pulled(t0, Duration::from_millis(1_500), Duration::ZERO, 0);
        assert_eq!(m.figures(t0, 0, 1000).rtt_ms, Some(1_100));
        assert_eq!(m.figures(t0 + s(12), 0, 1000).since_success_s, Some(12));
    }

    #[test]
    fn catch_up_is_behind_over_the_pace_of_pulls_that_carried_changes() {
        let t0 = Instant::now();
        let mut m = LinkMeter::default();
        assert_eq!(m.figures(t0, 0, 1000).catch_up_s, Some(0.0));
        assert_eq!(
            m.figures(t0, 10, 1000).catch_up_s,
            None,
            "nothing known yet"
        );
        // Small pulls give the round trip only: one per batch of 1,000.
        m.pulled(t0, s(1), Duration::ZERO, 2);
        assert_eq!(m.figures(t0, 2_500, 1000).catch_up_s, Some(3.0));
        // 1,000 changes in 2 s of pulling: 500 changes/s.
        m.pulled(t0, s(2), Duration::ZERO, 1_000);
        assert_eq!(m.figures(t0, 5_000, 1000).catch_up_s, Some(10.0));
        m.failed();
        m.failed();
        assert_eq!(m.figures(t0, 0, 1000).retries, 2);
    }
}
