//! Where a link's driver stands in its outbox, without I/O: which outbox event is being sent,
//! which of its messages is in flight, whether the link is up and whether a General Reset is
//! running. Every answer the link can give — delivered, failed, skipped, refused, link down,
//! reset ended or refused — lands in a state from which the next message goes out: no flag can
//! stay set once its cause is gone. The driver (driver.rs) does the reading and writing.

use super::dialect::Outgoing;
use innsync_pms::MessageId;
use std::collections::VecDeque;

/// The outbox event whose messages are being sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Current {
    /// Its outbox position.
    pub event: i64,
    /// The booking it concerns (for its history).
    pub booking: String,
}

/// What the driver does once a message is settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Settled {
    /// The answer was for no message in flight (late or duplicate): nothing changes.
    Stale,
    /// More messages of the same event follow.
    Next,
    /// The event is done: advance the durable cursor to this position.
    Advance(i64),
}

/// The driver's delivery state.
#[derive(Debug, Default)]
pub(super) struct Delivery {
    up: bool,
    /// The outbox position a running General Reset's snapshot includes.
    resetting: Option<i64>,
    pending: VecDeque<(MessageId, Outgoing)>,
    current: Option<Current>,
    in_flight: Option<MessageId>,
}

impl Delivery {
    /// True when the link can take the next message now.
    pub fn idle(&self) -> bool {
        self.up && self.resetting.is_none() && self.in_flight.is_none()
    }

    /// True when the next outbox event must be read.
    pub fn needs_event(&self) -> bool {
        self.pending.is_empty()
    }

    /// Takes the messages of the next outbox event.
    pub fn load(&mut self, current: Current, messages: Vec<(MessageId, Outgoing)>) {
        self.pending = messages.into();
        self.current = Some(current);
    }

    /// The message to send next, if the link is idle.
    pub fn next(&self) -> Option<(MessageId, Outgoing)> {
        self.idle().then(|| self.pending.front().cloned()).flatten()
    }

    /// The message in flight, for the operator's words.
    pub fn in_flight(&self) -> Option<&Outgoing> {
        let id = self.in_flight?;
        self.pending
            .iter()
            .find(|(m, _)| *m == id)
            .map(|(_, out)| out)
    }

    /// The event being sent.
    pub fn current(&self) -> Option<&Current> {
        self.current.as_ref()
    }

    /// The link task took message `id`.
    pub fn sent(&mut self, id: MessageId) {
        self.in_flight = Some(id);
    }

    /// Message `id` is done with — delivered, or skipped because it can never be sent: the
    /// next message (or the next event) follows.
    pub fn done(&mut self, id: MessageId) -> Settled {
        if self.in_flight != Some(id) {
            return Settled::Stale;
        }
        self.in_flight = None;
        self.pending.pop_front();
        if !self.pending.is_empty() {
            return Settled::Next;
        }
        match self.current.take() {
            Some(c) => Settled::Advance(c.event),
            None => Settled::Next,
        }
    }

    /// Message `id` failed for now (or the link task could not take it): it is sent again
    /// later, in order. True when it was the message in flight.
    pub fn failed(&mut self, id: MessageId) -> bool {
        if self.in_flight != Some(id) {
            return false;
        }
        self.in_flight = None;
        true
    }

    /// The link is up.
    pub fn link_up(&mut self) {
        self.up = true;
    }

    /// True when the link is up.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// The link dropped: nothing is in flight, no reset runs; the pending message is sent again
    /// when it returns.
    pub fn link_down(&mut self) {
        self.up = false;
        self.in_flight = None;
        self.resetting = None;
    }

    /// A General Reset with a snapshot including the outbox up to `upto` was handed over.
    pub fn reset_requested(&mut self, upto: i64) {
        self.resetting = Some(upto);
    }

    /// True while a General Reset runs.
    #[cfg(test)]
    pub fn resetting(&self) -> bool {
        self.resetting.is_some()
    }

    /// The reset completed: the position its snapshot included (or `delivered` when none was
    /// asked for here); the event being sent is dropped when the snapshot covered it.
    pub fn reset_completed(&mut self, delivered: i64) -> i64 {
        let upto = self.resetting.take().unwrap_or(delivered);
        if self.current.as_ref().is_some_and(|c| c.event <= upto) {
            self.pending.clear();
            self.current = None;
            self.in_flight = None;
        }
        upto
    }

    /// The reset ended without completing, or was refused: real-time messages flow again.
    pub fn reset_ended(&mut self) {
        self.resetting = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use innsync_pms::{Extension, FiasGuest, FiasMessage};

    fn gi(room: &str) -> Outgoing {
        Outgoing::Fias(FiasMessage::CheckIn(FiasGuest {
            room: Extension::new(room).unwrap(),
            reservation: Some(5_730_000_012),
            name: Some("Ada".into()),
            share: None,
        }))
    }

    fn loaded(event: i64, rooms: &[&str]) -> Delivery {
        let mut d = Delivery::default();
        d.link_up();
        d.load(
            Current {
                event,
                booking: "WB-000001".into(),
            },
            rooms
                .iter()
                .enumerate()
                .map(|(i, r)| (MessageId(event as u64 * 10 + i as u64), gi(r)))
                .collect(),
        );
        d
    }

    fn send_next(d: &mut Delivery) -> MessageId {
        let (id, _) = d.next().expect("a message to send");
        d.sent(id);
        assert!(d.next().is_none(), "one message in flight at a time");
        id
    }

    /// After any refusal, the next event's message goes out and a reset can run and end.
    fn assert_not_stuck(d: &mut Delivery) {
        assert!(d.idle(), "{d:?}");
        assert!(d.needs_event());
        d.load(
            Current {
                event: 99,
                booking: "WB-000002".into(),
            },
            vec![(MessageId(990), gi("201"))],
        );
        let id = send_next(d);
        assert_eq!(id, MessageId(990));
        assert_eq!(d.done(id), Settled::Advance(99));
        d.reset_requested(99);
        assert!(d.next().is_none());
        assert_eq!(d.reset_completed(0), 99);
        assert!(d.idle());
    }

    #[test]
    fn delivered_messages_advance_the_event_once_all_are_done() {
        let mut d = loaded(1, &["101", "102"]);
        let a = send_next(&mut d);
        assert_eq!(d.done(a), Settled::Next);
        let b = send_next(&mut d);
        assert_eq!(d.done(b), Settled::Advance(1));
        assert_eq!(d.done(b), Settled::Stale);
        assert_not_stuck(&mut d);
    }

    #[test]
    fn a_skipped_message_is_done_and_the_next_one_follows() {
        let mut d = loaded(1, &["101", "102"]);
        let a = send_next(&mut d);
        // The record cannot be sent: skipped like a delivery, never retried.
        assert_eq!(d.done(a), Settled::Next);
        let b = send_next(&mut d);
        assert_ne!(a, b);
        assert_eq!(d.done(b), Settled::Advance(1));
        assert_not_stuck(&mut d);
    }

    #[test]
    fn a_failed_or_refused_message_is_sent_again() {
        let mut d = loaded(1, &["101"]);
        let a = send_next(&mut d);
        assert!(d.failed(a));
        assert!(!d.failed(a), "a second answer changes nothing");
        assert_eq!(send_next(&mut d), a, "the same message, in order");
        assert_eq!(d.done(a), Settled::Advance(1));
        assert_not_stuck(&mut d);
    }

    #[test]
    fn a_link_drop_clears_the_flight_and_the_reset() {
        let mut d = loaded(1, &["101"]);
        let a = send_next(&mut d);
        d.reset_requested(0);
        d.link_down();
        assert!(!d.idle());
        assert!(!d.resetting());
        d.link_up();
        assert_eq!(send_next(&mut d), a);
        assert_eq!(d.done(a), Settled::Advance(1));
        assert_not_stuck(&mut d);
    }

    #[test]
    fn a_refused_or_abandoned_reset_lets_messages_flow_again() {
        let mut d = loaded(1, &["101"]);
        d.reset_requested(0);
        assert!(d.next().is_none());
        d.reset_ended();
        let a = send_next(&mut d);
        assert_eq!(d.done(a), Settled::Advance(1));
        assert_not_stuck(&mut d);
    }

    #[test]
    fn a_completed_reset_drops_the_event_its_snapshot_covered() {
        let mut d = loaded(3, &["101"]);
        let _ = send_next(&mut d);
        d.reset_requested(3);
        assert_eq!(d.reset_completed(0), 3);
        assert!(d.needs_event());
        assert!(d.in_flight().is_none());
        assert_not_stuck(&mut d);
    }
}
