//! The system side's hotel log: what a PBX prints for the front desk (GRS received, cycle
//! abandoned, commit done…). Bounded: the oldest entries are dropped and counted, so a chatty
//! peer cannot exhaust memory.

use std::collections::VecDeque;
use std::fmt;

use crate::mitel::Message;
use crate::room::Extension;
use crate::settings::Millis;

/// Why a General Reset cycle was abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbandonReason {
    /// The PMS was silent longer than the GRS inactivity timeout.
    Inactivity,
    /// The link dropped.
    LinkDropped,
}

/// What happened, as typed data so tests and tools need not parse text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HotelEvent {
    /// `GRS` received; a cycle starts.
    GrsReceived,
    /// A node (ICP) entered GRS mode with an empty cache.
    NodeEnteredGrs {
        /// The node.
        node: usize,
    },
    /// `END` received; the nodes commit.
    EndReceived,
    /// `END` arrived outside a running cycle and was refused.
    EndWithoutGrs,
    /// A node committed its cache atomically.
    NodeCommitted {
        /// The node.
        node: usize,
        /// Rooms written.
        rooms: usize,
    },
    /// The cycle was abandoned: caches cleared, nothing written, still in GRS mode.
    CycleAbandoned(AbandonReason),
    /// `CNL` received: cycle abandoned, back to normal mode.
    CycleCancelled,
    /// A message named a room no node hosts.
    UnknownExtension(Extension),
    /// A message was refused (parse error, wrong direction, unexpected in this mode).
    Refused(String),
    /// A room message arrived while in GRS mode after an abandon; answered but not acted on.
    IgnoredInGrsMode(Message),
    /// A message to the PMS was given up after all retries.
    OutboundDropped(Message),
    /// The PMS link came up.
    LinkUp,
    /// The PMS link went down.
    LinkDown,
}

impl fmt::Display for HotelEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HotelEvent::GrsReceived => write!(f, "GRS message received"),
            HotelEvent::NodeEnteredGrs { node } => write!(f, "node {node}: GRS mode"),
            HotelEvent::EndReceived => write!(f, "GRS END message received"),
            HotelEvent::EndWithoutGrs => write!(f, "END received without GRS; refused"),
            HotelEvent::NodeCommitted { node, rooms } => {
                write!(f, "node {node}: GRS data committed ({rooms} rooms)")
            }
            HotelEvent::CycleAbandoned(AbandonReason::Inactivity) => {
                write!(
                    f,
                    "GRS cycle abandoned: PMS inactive; remaining in GRS mode"
                )
            }
            HotelEvent::CycleAbandoned(AbandonReason::LinkDropped) => {
                write!(
                    f,
                    "GRS cycle abandoned: link dropped; remaining in GRS mode"
                )
            }
            HotelEvent::CycleCancelled => write!(f, "GRS cycle cancelled by PMS"),
            HotelEvent::UnknownExtension(e) => write!(f, "no room hosts extension {e}"),
            HotelEvent::Refused(why) => write!(f, "message refused: {why}"),
            HotelEvent::IgnoredInGrsMode(m) => write!(f, "GRS mode, not acted on: {m:?}"),
            HotelEvent::OutboundDropped(m) => write!(f, "PMS did not accept {m:?}; dropped"),
            HotelEvent::LinkUp => write!(f, "PMS link up"),
            HotelEvent::LinkDown => write!(f, "PMS link down"),
        }
    }
}

/// One hotel log line, stamped with the injected clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// When, on the caller's clock.
    pub at: Millis,
    /// What.
    pub event: HotelEvent,
}

/// A bounded log: keeps the newest `capacity` entries.
#[derive(Debug, Clone)]
pub struct HotelLog {
    capacity: usize,
    entries: VecDeque<LogEntry>,
    dropped: u64,
}

impl HotelLog {
    /// An empty log keeping at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        HotelLog {
            capacity: capacity.max(1),
            entries: VecDeque::new(),
            dropped: 0,
        }
    }

    /// Appends an entry, dropping the oldest when full; returns a copy for tracing.
    pub fn record(&mut self, at: Millis, event: HotelEvent) -> LogEntry {
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
            self.dropped += 1;
        }
        let entry = LogEntry { at, event };
        self.entries.push_back(entry.clone());
        assert!(self.entries.len() <= self.capacity);
        entry
    }

    /// The kept entries, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = &LogEntry> {
        self.entries.iter()
    }

    /// How many entries were dropped to respect the capacity.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_is_bounded() {
        let mut log = HotelLog::new(2);
        log.record(1, HotelEvent::GrsReceived);
        log.record(2, HotelEvent::EndReceived);
        log.record(3, HotelEvent::CycleCancelled);
        let at: Vec<_> = log.entries().map(|e| e.at).collect();
        assert_eq!(at, vec![2, 3]);
        assert_eq!(log.dropped(), 1);
    }
}
