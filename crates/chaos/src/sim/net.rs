//! A simulated network between numbered nodes, driven by simulated time: every message is
//! delivered after a seeded delay (so messages overtake each other), or lost, or delivered
//! twice, and cut links lose everything sent over them. Nothing here reads a clock or does
//! I/O; the same seed always gives the same deliveries.

use rand::rngs::StdRng;
use rand::Rng;
use std::collections::{BTreeSet, BinaryHeap};

/// Most messages in flight; a send beyond it is lost (and counted), as a full queue would.
pub const MAX_IN_FLIGHT: usize = 100_000;

/// How the network misbehaves.
#[derive(Clone, Debug)]
pub struct NetFaults {
    /// Probability a message is lost.
    pub loss: f64,
    /// Probability a message is delivered a second time, later.
    pub duplicate: f64,
    /// Shortest and longest delay (ms); a wide range reorders.
    pub delay_ms: (u64, u64),
}

impl NetFaults {
    /// A calm network: no loss, no duplicates, 1–5 ms.
    pub fn calm() -> Self {
        Self {
            loss: 0.0,
            duplicate: 0.0,
            delay_ms: (1, 5),
        }
    }

    /// A bad one, drawn from `rng`: up to 30% loss, 30% duplicates, delays up to 400 ms.
    pub fn rough(rng: &mut StdRng) -> Self {
        Self {
            loss: rng.gen_range(0.0..0.3),
            duplicate: rng.gen_range(0.0..0.3),
            delay_ms: (1, rng.gen_range(2..400)),
        }
    }
}

#[derive(Debug)]
struct InFlight<M> {
    at: u64,
    order: u64,
    to: usize,
    from: usize,
    msg: M,
}

impl<M> PartialEq for InFlight<M> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.order) == (o.at, o.order)
    }
}
impl<M> Eq for InFlight<M> {}
impl<M> PartialOrd for InFlight<M> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<M> Ord for InFlight<M> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        // A min-heap on (time, send order).
        (o.at, o.order).cmp(&(self.at, self.order))
    }
}

/// Counters, for assertions that the faults happened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Sent.
    pub sent: u64,
    /// Lost at random.
    pub lost: u64,
    /// Lost on a cut link.
    pub cut: u64,
    /// Delivered twice.
    pub duplicated: u64,
    /// Delivered.
    pub delivered: u64,
}

/// The network.
pub struct SimNet<M> {
    queue: BinaryHeap<InFlight<M>>,
    order: u64,
    cut: BTreeSet<(usize, usize)>,
    /// How it misbehaves now.
    pub faults: NetFaults,
    /// What it did.
    pub stats: NetStats,
}

impl<M: Clone> SimNet<M> {
    /// An empty network.
    pub fn new(faults: NetFaults) -> Self {
        Self {
            queue: BinaryHeap::new(),
            order: 0,
            cut: BTreeSet::new(),
            faults,
            stats: NetStats::default(),
        }
    }

    /// Sends `msg` from `from` to `to` at time `now`.
    pub fn send(&mut self, rng: &mut StdRng, now: u64, from: usize, to: usize, msg: M) {
        self.stats.sent += 1;
        if self.cut.contains(&(from, to)) {
            self.stats.cut += 1;
            return;
        }
        if rng.gen_bool(self.faults.loss.clamp(0.0, 1.0)) || self.queue.len() >= MAX_IN_FLIGHT {
            self.stats.lost += 1;
            return;
        }
        let (lo, hi) = self.faults.delay_ms;
        if rng.gen_bool(self.faults.duplicate.clamp(0.0, 1.0)) {
            self.stats.duplicated += 1;
            let at = now + rng.gen_range(lo..=hi.max(lo)) * 2;
            self.push(at, from, to, msg.clone());
        }
        let at = now + rng.gen_range(lo..=hi.max(lo));
        self.push(at, from, to, msg);
    }

    fn push(&mut self, at: u64, from: usize, to: usize, msg: M) {
        self.order += 1;
        self.queue.push(InFlight {
            at,
            order: self.order,
            to,
            from,
            msg,
        });
    }

    /// The next message due at or before `now`: `(from, to, msg)`.
    pub fn next_due(&mut self, now: u64) -> Option<(usize, usize, M)> {
        if self.queue.peek().is_some_and(|m| m.at <= now) {
            let m = self.queue.pop()?;
            if self.cut.contains(&(m.from, m.to)) {
                // Cut while in flight: lost.
                self.stats.cut += 1;
                return self.next_due(now);
            }
            self.stats.delivered += 1;
            return Some((m.from, m.to, m.msg));
        }
        None
    }

    /// Cuts the link `from → to`.
    pub fn cut(&mut self, from: usize, to: usize) {
        self.cut.insert((from, to));
    }

    /// Heals every link and calms the network.
    pub fn heal(&mut self) {
        self.cut.clear();
        self.faults = NetFaults::calm();
    }

    /// Heals one link.
    pub fn uncut(&mut self, from: usize, to: usize) {
        self.cut.remove(&(from, to));
    }

    /// Messages in flight.
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }
}
