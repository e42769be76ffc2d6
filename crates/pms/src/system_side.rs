//! `SystemSide`: the PBX / hospitality gateway end of a Mitel-style link as a sans-I/O state
//! machine, faithful to the General Reset behaviour described for the Mitel 3300 (Release 8.0
//! UR4 and later): GRS fanned out to every node, CHKs cached per node, each node committing its
//! cache atomically after END while PMS messages are NAKed as busy and then buffered, abandon on
//! inactivity or link drop (caches cleared, stays in GRS mode silently), CNL back to normal, and
//! the system's own messages queued until the cycle ends.

use std::collections::{BTreeMap, VecDeque};

use thiserror::Error;

use crate::command::{earliest, Command, TimerState, MAX_PENDING_COMMANDS};
use crate::directory::{Directory, NodeId, PlanError, RoomPlan, RoomRecord};
use crate::hotel_log::{AbandonReason, HotelEvent, HotelLog};
use crate::link::{LinkCore, Role, Signal};
use crate::mitel::{Justify, Message};
use crate::room::{Extension, GuestName};
use crate::settings::{Millis, Settings, SettingsError};

/// Where the system is in the General Reset life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrsMode {
    /// Messages are applied as they come.
    Normal,
    /// A cycle runs: CHKs are cached.
    Cycle,
    /// A cycle was abandoned: still in GRS mode, CHKs answered but not acted on.
    Abandoned,
    /// `END` received: nodes are committing; PMS messages are NAKed busy, then buffered.
    Committing,
}

/// What the system side tells its driver beyond bytes and log entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemEvent {
    /// A message the system raised was acknowledged by the PMS.
    Sent(Message),
    /// Every node finished committing a General Reset cycle.
    CycleCommitted,
}

/// Why a message the "PBX" wanted to raise was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RaiseError {
    /// Only `MW`, `STS` and `RTI` are raised by the system this way.
    #[error("the system does not raise this message")]
    NotFromSystem,
    /// No node hosts the room.
    #[error("no room hosts extension {0}")]
    UnknownExtension(Extension),
    /// The outbound queue is full (the PMS has been away or a cycle is long).
    #[error("outbound queue is full ({0} messages)")]
    QueueFull(usize),
}

/// Whether a raised message goes out now or waits for the cycle to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaiseOutcome {
    /// Queued for sending in normal mode (sent as soon as the line is free and up).
    Queued,
    /// Held: a cycle is running, committing or abandoned; sent after a cycle completes.
    HeldUntilCycleEnds,
}

/// Why a system side could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SystemError {
    /// Bad settings.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// Bad room plan.
    #[error(transparent)]
    Plan(#[from] PlanError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cached {
    occupied: bool,
    name: Option<GuestName>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    Cycle { deadline: Millis },
    Abandoned,
    Committing { until: Millis },
}

/// The system side of the link: database, per-node caches, hotel log, outbound queue.
#[derive(Debug)]
pub struct SystemSide {
    settings: Settings,
    link: LinkCore,
    up: bool,
    directory: Directory,
    caches: Vec<BTreeMap<Extension, Cached>>,
    mode: Mode,
    outbound: VecDeque<Message>,
    in_flight: Option<Message>,
    busy_naks: u32,
    busy_buffer: VecDeque<Message>,
    log: HotelLog,
    last_activity: Millis,
    timer: TimerState,
    out: Vec<Command<SystemEvent>>,
}

impl SystemSide {
    /// A system with `nodes` nodes hosting the rooms of `plan`; the link starts down.
    pub fn new(settings: Settings, nodes: usize, plan: RoomPlan) -> Result<Self, SystemError> {
        settings.validate()?;
        if nodes == 0 || nodes > settings.max_nodes {
            return Err(PlanError::NodeCount {
                count: nodes,
                max: settings.max_nodes,
            }
            .into());
        }
        let directory = Directory::new(plan, nodes, settings.max_rooms, settings.extension_width)?;
        Ok(SystemSide {
            link: LinkCore::new(Role::System, &settings),
            log: HotelLog::new(settings.hotel_log_capacity),
            settings,
            up: false,
            directory,
            caches: vec![BTreeMap::new(); nodes],
            mode: Mode::Normal,
            outbound: VecDeque::new(),
            in_flight: None,
            busy_naks: 0,
            busy_buffer: VecDeque::new(),
            last_activity: 0,
            timer: TimerState::default(),
            out: Vec::new(),
        })
    }

    /// The commands emitted so far, in order; the driver must carry them all out.
    pub fn take_commands(&mut self) -> Vec<Command<SystemEvent>> {
        std::mem::take(&mut self.out)
    }

    /// The current General Reset mode.
    pub fn mode(&self) -> GrsMode {
        match self.mode {
            Mode::Normal => GrsMode::Normal,
            Mode::Cycle { .. } => GrsMode::Cycle,
            Mode::Abandoned => GrsMode::Abandoned,
            Mode::Committing { .. } => GrsMode::Committing,
        }
    }

    /// One room's record, if the room exists.
    pub fn room(&self, extension: &Extension) -> Option<&RoomRecord> {
        self.directory.get(extension)
    }

    /// The node hosting a room.
    pub fn node_of(&self, extension: &Extension) -> Option<NodeId> {
        self.directory.node_of(extension)
    }

    /// Every room with its record, sorted by extension: the database as a whole.
    pub fn rooms(&self) -> Vec<(Extension, RoomRecord)> {
        let mut all: Vec<_> = self
            .directory
            .nodes
            .iter()
            .flat_map(|n| n.iter().map(|(e, r)| (e.clone(), r.clone())))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.caches.len()
    }

    /// Entries cached (not yet committed) by all nodes in the running cycle.
    pub fn cached_entries(&self) -> usize {
        self.caches.iter().map(BTreeMap::len).sum()
    }

    /// Messages waiting to go to the PMS.
    pub fn outbound_len(&self) -> usize {
        self.outbound.len() + usize::from(self.in_flight.is_some())
    }

    /// The hotel log.
    pub fn hotel_log(&self) -> &HotelLog {
        &self.log
    }

    /// The PMS connected.
    pub fn link_up(&mut self, now: Millis) {
        if self.up {
            return;
        }
        self.up = true;
        self.last_activity = now;
        self.record(now, HotelEvent::LinkUp);
        self.finish(now);
    }

    /// The PMS connection dropped: a running cycle is abandoned; a message in flight is kept.
    pub fn link_down(&mut self, now: Millis) {
        if !self.up {
            return;
        }
        self.up = false;
        self.link.reset();
        if let Some(message) = self.in_flight.take() {
            if message != Message::AreYouThere {
                self.outbound.push_front(message);
            }
        }
        if matches!(self.mode, Mode::Cycle { .. }) {
            self.abandon(now, AbandonReason::LinkDropped);
        }
        self.record(now, HotelEvent::LinkDown);
        self.finish(now);
    }

    /// The "PBX" raises a message for the PMS (maid status dialled on a room phone, a
    /// voicemail lighting the lamp, a request to initialise). The database changes now; the
    /// message is queued, and held while a cycle runs.
    pub fn raise(&mut self, now: Millis, message: Message) -> Result<RaiseOutcome, RaiseError> {
        if !message.is_from_system() || message == Message::AreYouThere {
            return Err(RaiseError::NotFromSystem);
        }
        if self.outbound.len() + usize::from(self.in_flight.is_some())
            >= self.settings.outbound_queue_capacity
        {
            return Err(RaiseError::QueueFull(self.settings.outbound_queue_capacity));
        }
        if let Some(extension) = message.extension() {
            let Some(record) = self.directory.get_mut(extension) else {
                return Err(RaiseError::UnknownExtension(extension.clone()));
            };
            match &message {
                Message::MessageWaiting { on, .. } => record.message_waiting = *on,
                Message::MaidStatus { status, .. } => record.maid_status = Some(*status),
                _ => {}
            }
        }
        self.outbound.push_back(message);
        let outcome = if self.mode == Mode::Normal {
            RaiseOutcome::Queued
        } else {
            RaiseOutcome::HeldUntilCycleEnds
        };
        self.finish(now);
        Ok(outcome)
    }

    /// Bytes arrived from the PMS.
    pub fn handle_bytes(&mut self, now: Millis, bytes: &[u8]) {
        for &byte in bytes {
            self.last_activity = now;
            if let Mode::Cycle { deadline } = &mut self.mode {
                *deadline = now.saturating_add(self.settings.grs_inactivity_timeout_ms);
            }
            let signal = self.link.on_byte(now, byte, &mut self.out);
            self.on_signal(now, signal);
        }
        self.finish(now);
    }

    /// The timer set by `SetTimer` fired (early or spurious calls are harmless).
    pub fn handle_timeout(&mut self, now: Millis) {
        let signal = self.link.on_timeout(now, &mut self.out);
        self.on_signal(now, signal);
        match self.mode {
            Mode::Cycle { deadline } if deadline <= now => {
                self.abandon(now, AbandonReason::Inactivity);
            }
            Mode::Committing { until } if until <= now => {
                self.commit(now);
                self.drain_busy_buffer(now);
            }
            _ => {}
        }
        self.finish(now);
    }

    fn on_signal(&mut self, now: Millis, signal: Signal) {
        match signal {
            Signal::Nothing | Signal::Activity => return,
            Signal::Text(text) => {
                let accept = self.on_text(now, &text);
                self.link.answer(now, accept, &mut self.out);
            }
            Signal::Delivered => {
                if let Some(message) = self.in_flight.take() {
                    if message != Message::AreYouThere {
                        self.out.push(Command::Deliver(SystemEvent::Sent(message)));
                    }
                }
            }
            Signal::Failed(why) => {
                if let Some(message) = self.in_flight.take() {
                    let event = if message == Message::AreYouThere {
                        HotelEvent::Refused(format!("PMS did not answer AYT: {why}"))
                    } else {
                        HotelEvent::OutboundDropped(message)
                    };
                    self.record(now, event);
                }
            }
        }
        self.pump(now);
    }

    /// Judges one text from the PMS; true means `ACK`.
    fn on_text(&mut self, now: Millis, text: &[u8]) -> bool {
        let message = match Message::parse(text, self.settings.extension_width) {
            Ok(m) => m,
            Err(e) => {
                self.record(now, HotelEvent::Refused(e.to_string()));
                return false;
            }
        };
        if !message.is_from_pms() {
            self.record(
                now,
                HotelEvent::Refused(format!("not sent by a PMS: {message:?}")),
            );
            return false;
        }
        if message == Message::AreYouThere {
            return true;
        }
        if let Mode::Committing { .. } = self.mode {
            let full = self.busy_buffer.len() >= self.settings.busy_buffer_capacity;
            if self.busy_naks < self.settings.busy_nak_limit || full {
                self.busy_naks = self.busy_naks.saturating_add(1);
                return false;
            }
            self.busy_naks = 0;
            self.busy_buffer.push_back(message);
            assert!(self.busy_buffer.len() <= self.settings.busy_buffer_capacity);
            return true;
        }
        self.apply(now, message)
    }

    /// Acts on a PMS message outside a commit; true means it was acceptable.
    fn apply(&mut self, now: Millis, message: Message) -> bool {
        match (self.mode, message) {
            (_, Message::GeneralReset) => {
                self.start_cycle(now);
                true
            }
            (Mode::Cycle { .. }, Message::End) => {
                self.record(now, HotelEvent::EndReceived);
                if self.settings.commit_duration_ms == 0 {
                    self.commit(now);
                } else {
                    self.busy_naks = 0;
                    self.mode = Mode::Committing {
                        until: now.saturating_add(self.settings.commit_duration_ms),
                    };
                }
                true
            }
            (Mode::Cycle { .. } | Mode::Abandoned, Message::Cancel) => {
                self.clear_caches();
                self.record(now, HotelEvent::CycleCancelled);
                self.mode = Mode::Normal;
                true
            }
            (Mode::Normal, Message::Cancel) => true,
            (Mode::Normal | Mode::Abandoned, Message::End) => {
                self.record(now, HotelEvent::EndWithoutGrs);
                false
            }
            (
                Mode::Cycle { .. },
                m @ (Message::CheckIn(_) | Message::CheckOut(_) | Message::Name { .. }),
            ) => self.cache(now, m),
            (Mode::Cycle { .. }, m) => {
                self.record(
                    now,
                    HotelEvent::Refused(format!("only check-in/out expected in a cycle: {m:?}")),
                );
                false
            }
            (Mode::Abandoned, m) => {
                self.record(now, HotelEvent::IgnoredInGrsMode(m));
                true
            }
            (Mode::Normal, m) => self.apply_now(now, m),
            (Mode::Committing { .. }, m) => {
                debug_assert!(false, "apply during commit: {m:?}");
                false
            }
        }
    }

    fn start_cycle(&mut self, now: Millis) {
        self.record(now, HotelEvent::GrsReceived);
        self.clear_caches();
        for node in 0..self.caches.len() {
            self.record(now, HotelEvent::NodeEnteredGrs { node });
        }
        self.mode = Mode::Cycle {
            deadline: now.saturating_add(self.settings.grs_inactivity_timeout_ms),
        };
    }

    fn cache(&mut self, now: Millis, message: Message) -> bool {
        let Some(extension) = message.extension().cloned() else {
            return false;
        };
        let Some(node) = self.directory.ensure(&extension) else {
            self.record(now, HotelEvent::UnknownExtension(extension));
            return false;
        };
        let Some(cache) = self.caches.get_mut(node) else {
            return false;
        };
        match message {
            Message::CheckIn(_) => {
                cache.insert(
                    extension,
                    Cached {
                        occupied: true,
                        name: None,
                    },
                );
            }
            Message::CheckOut(_) => {
                cache.insert(
                    extension,
                    Cached {
                        occupied: false,
                        name: None,
                    },
                );
            }
            Message::Name { name, .. } => {
                let entry = cache.entry(extension).or_insert(Cached {
                    occupied: true,
                    name: None,
                });
                entry.name = (!name.is_empty()).then_some(name);
            }
            _ => return false,
        }
        // The cache only ever holds rooms that exist, so it is bounded by max_rooms.
        debug_assert!(self.cached_entries() <= self.settings.max_rooms);
        true
    }

    fn apply_now(&mut self, now: Millis, message: Message) -> bool {
        let Some(extension) = message.extension().cloned() else {
            return false;
        };
        let Some(record) = self.directory.get_mut(&extension) else {
            self.record(now, HotelEvent::UnknownExtension(extension));
            return false;
        };
        match message {
            Message::CheckIn(_) => {
                record.occupied = true;
                record.name = None;
            }
            Message::CheckOut(_) => {
                record.occupied = false;
                record.name = None;
                record.message_waiting = false;
            }
            Message::Name { name, .. } => record.name = (!name.is_empty()).then_some(name),
            Message::MessageWaiting { on, .. } => record.message_waiting = on,
            _ => return false,
        }
        true
    }

    /// Every node writes its cache in one step; then the system is back in normal mode.
    fn commit(&mut self, now: Millis) {
        for node in 0..self.caches.len() {
            let cache = std::mem::take(&mut self.caches[node]);
            let rooms = cache.len();
            for (extension, cached) in cache {
                if let Some(record) = self.directory.get_mut(&extension) {
                    if !cached.occupied {
                        record.message_waiting = false;
                    }
                    record.occupied = cached.occupied;
                    record.name = cached.name;
                }
            }
            self.record(now, HotelEvent::NodeCommitted { node, rooms });
        }
        self.mode = Mode::Normal;
        self.out.push(Command::Deliver(SystemEvent::CycleCommitted));
    }

    /// Processes the messages accepted during the commit, in order, as if just received.
    fn drain_busy_buffer(&mut self, now: Millis) {
        while !matches!(self.mode, Mode::Committing { .. }) {
            let Some(message) = self.busy_buffer.pop_front() else {
                break;
            };
            self.apply(now, message);
        }
    }

    fn abandon(&mut self, now: Millis, reason: AbandonReason) {
        self.clear_caches();
        self.mode = Mode::Abandoned;
        self.record(now, HotelEvent::CycleAbandoned(reason));
    }

    fn clear_caches(&mut self) {
        for cache in &mut self.caches {
            cache.clear();
        }
    }

    fn record(&mut self, now: Millis, event: HotelEvent) {
        let entry = self.log.record(now, event);
        self.out.push(Command::HotelLog(entry));
    }

    /// Starts the next outbound message when in normal mode and the line is free.
    fn pump(&mut self, now: Millis) {
        if !self.up || self.mode != Mode::Normal || self.in_flight.is_some() || !self.link.is_idle()
        {
            return;
        }
        let message = match self.outbound.pop_front() {
            Some(m) => m,
            None if self.keepalive_due_at().is_some_and(|t| t <= now) => Message::AreYouThere,
            None => return,
        };
        match message.print(self.settings.extension_width, Justify::Left) {
            Ok(text) => {
                self.last_activity = now;
                self.link.start(now, &text, &mut self.out);
                self.in_flight = Some(message);
            }
            Err(e) => {
                // Rooms are validated against the width when the plan is built or the
                // message parsed, so this is a bug; log rather than panic.
                debug_assert!(false, "unprintable outbound message: {e}");
                self.record(now, HotelEvent::OutboundDropped(message));
            }
        }
    }

    fn keepalive_due_at(&self) -> Option<Millis> {
        let interval = self.settings.keepalive_interval_ms?;
        let quiet = self.up
            && self.mode == Mode::Normal
            && self.in_flight.is_none()
            && self.outbound.is_empty()
            && self.link.is_idle();
        quiet.then_some(self.last_activity.saturating_add(interval))
    }

    fn finish(&mut self, now: Millis) {
        self.pump(now);
        let mode_deadline = match self.mode {
            Mode::Cycle { deadline } => Some(deadline),
            Mode::Committing { until } => Some(until),
            Mode::Normal | Mode::Abandoned => None,
        };
        let wanted = earliest(&[self.link.deadline(), mode_deadline, self.keepalive_due_at()]);
        self.timer.sync(wanted, &mut self.out);
        debug_assert!(
            self.out.len() < MAX_PENDING_COMMANDS,
            "commands not drained"
        );
        debug_assert!(self.outbound.len() <= self.settings.outbound_queue_capacity);
        debug_assert!(self.busy_buffer.len() <= self.settings.busy_buffer_capacity);
        debug_assert!(
            matches!(self.mode, Mode::Cycle { .. } | Mode::Committing { .. })
                || self.cached_entries() == 0,
            "caches must be empty outside a cycle"
        );
    }
}

#[cfg(test)]
#[path = "system_side_tests.rs"]
mod tests;
