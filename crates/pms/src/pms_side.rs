//! `PmsLink`: the PMS end of a Mitel-style link as a sans-I/O state machine. The application
//! (innsync's durable outbox) hands it one message at a time and learns `Delivered`/`Failed`; the
//! engine runs General Reset cycles from a snapshot the application provides, holds application
//! messages while a cycle runs, retries cycle messages refused as busy, and asks for a fresh cycle
//! when the link returns after a drop mid-cycle. A charge record from the system (`CHG`) is
//! answered only once the application has decided it (`answer_charge`): `ACK` posted, `NAK`
//! refused; bytes arriving meanwhile wait, and a decision that comes too late is `NAK`ed as
//! busy, so the system resends and the record's sequence number keeps it from being charged
//! twice.

use thiserror::Error;

use crate::charge::ChargeRecord;
use crate::command::{earliest, Command, TimerState, MAX_PENDING_COMMANDS};
use crate::link::{LinkCore, Role, SendFailure, Signal};
use crate::mitel::{Justify, Message, PrintError};
use crate::room::RoomOccupancy;
use crate::settings::{Millis, Settings, SettingsError};

/// The application's identifier for an outbox message, echoed in `Delivered`/`Failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub u64);

/// Why the engine asks the application for a snapshot to run a General Reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetReason {
    /// The link came up and `reset_on_link_start` is set.
    LinkStart,
    /// A cycle was cut by a link drop; a fresh complete cycle is needed.
    Interrupted,
    /// The system sent `RTI`.
    RequestedBySystem,
    /// The application asked while the link was down.
    Requested,
}

/// What the engine tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PmsEvent {
    /// The link is up (the driver reported it).
    LinkUp,
    /// The link is down; any message in the slot has been reported `Failed`.
    LinkDown,
    /// The system acknowledged the application's message.
    Delivered(MessageId),
    /// The message was given up; the outbox should retry it later.
    Failed(MessageId, SendFailure),
    /// The system sent `STS` or `MW`: apply it to the room records.
    Received(Message),
    /// A text from the system was refused with `NAK` (for diagnostics).
    Refused(String),
    /// Please call `start_general_reset` with a fresh snapshot.
    ResetWanted(ResetReason),
    /// A cycle began (`GRS` is being sent) for this many rooms.
    ResetStarted {
        /// Rooms in the snapshot.
        rooms: usize,
    },
    /// `END` was acknowledged: the system holds the snapshot.
    ResetCompleted {
        /// Rooms in the snapshot.
        rooms: usize,
    },
    /// A cycle message failed after every retry; the cycle is over, run another later.
    ResetFailed(SendFailure),
    /// The link dropped mid-cycle; a `ResetWanted(Interrupted)` follows when it returns.
    ResetInterrupted,
    /// `CNL` was acknowledged.
    ResetCancelled,
    /// `CNL` could not be delivered.
    CancelFailed(SendFailure),
    /// `AYT` went unanswered; the engine asked the driver to close the link.
    KeepAliveFailed,
    /// The system sent a charge record: decide it and call `answer_charge` with its sequence
    /// within `charge_answer_timeout_ms`; the text stays unanswered until then.
    Charge(ChargeRecord),
    /// No decision came in time for this charge record (its sequence): it was `NAK`ed as busy.
    ChargeNotAnswered(String),
}

/// Why `submit` refused a message (the application keeps it in its outbox).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SubmitError {
    /// No link: try again after `LinkUp`.
    #[error("the link is down")]
    LinkDown,
    /// A message is already in the slot: wait for its `Delivered`/`Failed`.
    #[error("a message is already being sent")]
    Busy,
    /// Not a message the PMS sends this way (system messages, or GRS/END/CNL which belong to the
    /// reset API).
    #[error("message cannot be submitted by the PMS application")]
    WrongDirection,
    /// The extension does not fit the configured width.
    #[error(transparent)]
    Print(#[from] PrintError),
}

/// Why `start_general_reset` refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResetError {
    /// No link; a `ResetWanted(Requested)` follows when it comes up.
    #[error("the link is down; a reset will be asked for when it is up")]
    LinkDown,
    /// A cycle (or its cancel) is already running.
    #[error("a General Reset is already running")]
    AlreadyRunning,
    /// The snapshot exceeds `max_rooms`.
    #[error("snapshot has {count} rooms, more than {max}")]
    TooManyRooms {
        /// Rooms given.
        count: usize,
        /// Limit.
        max: usize,
    },
    /// An extension does not fit the configured width.
    #[error(transparent)]
    Print(#[from] PrintError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Grs,
    Room { index: usize, name: bool },
    End,
}

#[derive(Debug)]
struct Cycle {
    rooms: Vec<RoomOccupancy>,
    step: Step,
    retries: u32,
    retry_at: Option<Millis>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InFlight {
    App,
    Cycle,
    Cancel,
    KeepAlive,
}

/// A charge record whose text waits for the application's decision.
#[derive(Debug)]
struct PendingCharge {
    sequence: String,
    deadline: Millis,
}

#[derive(Debug)]
struct Slot {
    id: MessageId,
    text: Vec<u8>,
}

/// The PMS side of the link. Drive it with `link_up`/`link_down`, `handle_bytes`,
/// `handle_timeout`, and the application calls; carry out the commands from `take_commands`.
#[derive(Debug)]
pub struct PmsLink {
    settings: Settings,
    link: LinkCore,
    up: bool,
    slot: Option<Slot>,
    cycle: Option<Cycle>,
    cancel_pending: bool,
    in_flight: Option<InFlight>,
    /// `CloseLink` was emitted; nothing more is sent until `link_down`.
    closing: bool,
    pending_reset: Option<ResetReason>,
    /// A charge record waits for its answer; `held` keeps the bytes that arrived meanwhile.
    charge: Option<PendingCharge>,
    held: Vec<u8>,
    last_activity: Millis,
    timer: TimerState,
    out: Vec<Command<PmsEvent>>,
}

impl PmsLink {
    /// A link engine with validated settings; the link starts down.
    pub fn new(settings: Settings) -> Result<Self, SettingsError> {
        settings.validate()?;
        Ok(PmsLink {
            link: LinkCore::new(Role::Pms, &settings),
            settings,
            up: false,
            slot: None,
            cycle: None,
            cancel_pending: false,
            in_flight: None,
            closing: false,
            pending_reset: None,
            charge: None,
            held: Vec::new(),
            last_activity: 0,
            timer: TimerState::default(),
            out: Vec::new(),
        })
    }

    /// The commands emitted so far, in order; the driver must carry them all out.
    pub fn take_commands(&mut self) -> Vec<Command<PmsEvent>> {
        std::mem::take(&mut self.out)
    }

    /// True when `submit` would accept a message now.
    pub fn ready_for_message(&self) -> bool {
        self.up && self.slot.is_none()
    }

    /// True while a General Reset cycle runs.
    pub fn reset_running(&self) -> bool {
        self.cycle.is_some()
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The transport connected.
    pub fn link_up(&mut self, now: Millis) {
        if self.up {
            return;
        }
        self.up = true;
        self.last_activity = now;
        self.out.push(Command::Deliver(PmsEvent::LinkUp));
        let reason = self.pending_reset.take().or(self
            .settings
            .reset_on_link_start
            .then_some(ResetReason::LinkStart));
        if let Some(reason) = reason {
            self.out
                .push(Command::Deliver(PmsEvent::ResetWanted(reason)));
        }
        self.finish(now);
    }

    /// The transport dropped: the slot's message fails, a running cycle is interrupted.
    pub fn link_down(&mut self, now: Millis) {
        if !self.up {
            return;
        }
        self.up = false;
        self.closing = false;
        self.link.reset();
        self.in_flight = None;
        self.cancel_pending = false;
        self.charge = None;
        self.held.clear();
        if let Some(slot) = self.slot.take() {
            self.deliver(PmsEvent::Failed(slot.id, SendFailure::LinkDown));
        }
        if self.cycle.take().is_some() {
            self.pending_reset = Some(ResetReason::Interrupted);
            self.deliver(PmsEvent::ResetInterrupted);
        }
        self.deliver(PmsEvent::LinkDown);
        self.finish(now);
    }

    /// Takes the application's next outbox message. It is held while a cycle runs, so a
    /// real-time change always follows the snapshot taken before it.
    pub fn submit(
        &mut self,
        now: Millis,
        id: MessageId,
        message: &Message,
    ) -> Result<(), SubmitError> {
        if !self.up {
            return Err(SubmitError::LinkDown);
        }
        if self.slot.is_some() {
            return Err(SubmitError::Busy);
        }
        let allowed = matches!(
            message,
            Message::CheckIn(_)
                | Message::CheckOut(_)
                | Message::Name { .. }
                | Message::MessageWaiting { .. }
        );
        if !allowed {
            return Err(SubmitError::WrongDirection);
        }
        let text = message.print(self.settings.extension_width, Justify::Right)?;
        self.slot = Some(Slot { id, text });
        self.finish(now);
        Ok(())
    }

    /// Starts a General Reset with the application's full occupancy snapshot: `GRS`, then
    /// `CHK1` (+ `NAM`) or `CHK0` for every room, then `END`.
    pub fn start_general_reset(
        &mut self,
        now: Millis,
        rooms: Vec<RoomOccupancy>,
    ) -> Result<(), ResetError> {
        if self.cycle.is_some() || self.cancel_pending || self.in_flight == Some(InFlight::Cancel) {
            return Err(ResetError::AlreadyRunning);
        }
        if rooms.len() > self.settings.max_rooms {
            return Err(ResetError::TooManyRooms {
                count: rooms.len(),
                max: self.settings.max_rooms,
            });
        }
        let width = self.settings.extension_width;
        if let Some(room) = rooms.iter().find(|r| r.extension.as_str().len() > width) {
            return Err(PrintError::ExtensionTooWide {
                extension: room.extension.to_string(),
                width,
            }
            .into());
        }
        if !self.up {
            self.pending_reset = Some(ResetReason::Requested);
            return Err(ResetError::LinkDown);
        }
        let count = rooms.len();
        self.cycle = Some(Cycle {
            rooms,
            step: Step::Grs,
            retries: 0,
            retry_at: None,
        });
        self.deliver(PmsEvent::ResetStarted { rooms: count });
        self.finish(now);
        Ok(())
    }

    /// Cancels the running cycle with `CNL`; returns false when none runs.
    pub fn cancel_general_reset(&mut self, now: Millis) -> bool {
        if self.cycle.take().is_none() {
            return false;
        }
        self.cancel_pending = true;
        self.finish(now);
        true
    }

    /// Bytes arrived from the system. While a charge record waits for its answer they are
    /// held (up to twice the longest text; the system resends what is lost) and read after it.
    pub fn handle_bytes(&mut self, now: Millis, bytes: &[u8]) {
        for (i, &byte) in bytes.iter().enumerate() {
            if self.charge.is_some() {
                let rest = bytes.get(i..).unwrap_or_default();
                let room = (2 * self.settings.max_text_len).saturating_sub(self.held.len());
                self.held
                    .extend_from_slice(rest.get(..room.min(rest.len())).unwrap_or_default());
                break;
            }
            self.last_activity = now;
            let signal = self.link.on_byte(now, byte, &mut self.out);
            self.on_signal(now, signal);
        }
        self.finish(now);
    }

    /// The application's decision on the charge record `sequence`: `ACK` when `posted`, else
    /// `NAK`. False (and nothing sent) when no such record waits — it was answered busy
    /// already, or the link dropped; the system then resends it.
    pub fn answer_charge(&mut self, now: Millis, sequence: &str, posted: bool) -> bool {
        if self.charge.as_ref().is_none_or(|c| c.sequence != sequence) {
            return false;
        }
        self.charge = None;
        self.link.answer(now, posted, &mut self.out);
        self.after_charge(now);
        true
    }

    /// The charge's text is answered: the line may be used again and held bytes are read.
    fn after_charge(&mut self, now: Millis) {
        self.pump(now);
        let held = std::mem::take(&mut self.held);
        self.handle_bytes(now, &held);
    }

    /// The timer set by `SetTimer` fired (early or spurious calls are harmless).
    pub fn handle_timeout(&mut self, now: Millis) {
        if self.charge.as_ref().is_some_and(|c| c.deadline <= now) {
            if let Some(c) = self.charge.take() {
                self.link.answer(now, false, &mut self.out);
                self.deliver(PmsEvent::ChargeNotAnswered(c.sequence));
                self.after_charge(now);
            }
        }
        let signal = self.link.on_timeout(now, &mut self.out);
        self.on_signal(now, signal);
        if let Some(cycle) = &mut self.cycle {
            if cycle.retry_at.is_some_and(|t| t <= now) {
                cycle.retry_at = None;
            }
        }
        self.finish(now);
    }

    fn on_signal(&mut self, now: Millis, signal: Signal) {
        match signal {
            Signal::Nothing | Signal::Activity => return,
            Signal::Text(text) => match self.on_text(now, &text) {
                Some(accept) => self.link.answer(now, accept, &mut self.out),
                // A charge record: answered by `answer_charge` (or busy at its deadline).
                None => return,
            },
            Signal::Delivered => self.on_delivered(),
            Signal::Failed(why) => self.on_failed(now, why),
        }
        self.pump(now);
    }

    /// Judges one text from the system: `Some(true)` is `ACK`, `Some(false)` `NAK`, `None` a
    /// charge record whose answer waits for the application.
    fn on_text(&mut self, now: Millis, text: &[u8]) -> Option<bool> {
        let accept = match Message::parse(text, self.settings.extension_width) {
            Err(e) => {
                self.deliver(PmsEvent::Refused(e.to_string()));
                false
            }
            Ok(m) if !m.is_from_system() => {
                self.deliver(PmsEvent::Refused(format!("not sent by a system: {m:?}")));
                false
            }
            Ok(Message::AreYouThere) => true,
            Ok(Message::RequestInit) => {
                if self.cycle.is_none() {
                    self.deliver(PmsEvent::ResetWanted(ResetReason::RequestedBySystem));
                }
                true
            }
            Ok(Message::Charge(c)) => {
                self.charge = Some(PendingCharge {
                    sequence: c.sequence.clone(),
                    deadline: now.saturating_add(self.settings.charge_answer_timeout_ms),
                });
                self.deliver(PmsEvent::Charge(c));
                return None;
            }
            Ok(m) => {
                self.deliver(PmsEvent::Received(m));
                true
            }
        };
        Some(accept)
    }

    fn on_delivered(&mut self) {
        match self.in_flight.take() {
            Some(InFlight::App) => {
                if let Some(slot) = self.slot.take() {
                    self.deliver(PmsEvent::Delivered(slot.id));
                }
            }
            Some(InFlight::Cycle) => {
                // The cycle may have been cancelled while its message was in flight.
                let Some(cycle) = &mut self.cycle else { return };
                cycle.retries = 0;
                match next_step(cycle.step, &cycle.rooms) {
                    Some(step) => cycle.step = step,
                    None => {
                        let rooms = cycle.rooms.len();
                        self.cycle = None;
                        self.deliver(PmsEvent::ResetCompleted { rooms });
                    }
                }
            }
            Some(InFlight::Cancel) => self.deliver(PmsEvent::ResetCancelled),
            Some(InFlight::KeepAlive) => {}
            None => debug_assert!(false, "delivered with nothing in flight"),
        }
    }

    fn on_failed(&mut self, now: Millis, why: SendFailure) {
        match self.in_flight.take() {
            Some(InFlight::App) => {
                if let Some(slot) = self.slot.take() {
                    self.deliver(PmsEvent::Failed(slot.id, why));
                }
            }
            Some(InFlight::Cycle) => {
                let Some(cycle) = &mut self.cycle else { return };
                if cycle.retries < self.settings.cycle_message_retries {
                    cycle.retries += 1;
                    cycle.retry_at = Some(now.saturating_add(self.settings.cycle_retry_delay_ms));
                } else {
                    self.cycle = None;
                    self.deliver(PmsEvent::ResetFailed(why));
                }
            }
            Some(InFlight::Cancel) => self.deliver(PmsEvent::CancelFailed(why)),
            Some(InFlight::KeepAlive) => {
                self.deliver(PmsEvent::KeepAliveFailed);
                self.out.push(Command::CloseLink);
                self.closing = true;
            }
            None => debug_assert!(false, "failed with nothing in flight"),
        }
    }

    /// Starts the next message if the line is free: cancel, then the cycle, then the
    /// application's slot, then a keep-alive.
    fn pump(&mut self, now: Millis) {
        if !self.up
            || self.closing
            || self.in_flight.is_some()
            || self.charge.is_some()
            || !self.link.is_idle()
        {
            return;
        }
        let (text, what) = if self.cancel_pending {
            self.cancel_pending = false;
            (b"CNL".to_vec(), InFlight::Cancel)
        } else if let Some(cycle) = &self.cycle {
            if cycle.retry_at.is_some() {
                return;
            }
            match cycle_text(cycle, self.settings.extension_width) {
                Ok(text) => (text, InFlight::Cycle),
                Err(e) => {
                    debug_assert!(false, "snapshot validated at start: {e}");
                    self.cycle = None;
                    self.deliver(PmsEvent::ResetFailed(SendFailure::TextRefused));
                    return;
                }
            }
        } else if let Some(slot) = &self.slot {
            (slot.text.clone(), InFlight::App)
        } else if self.keepalive_due_at().is_some_and(|t| t <= now) {
            (b"AYT".to_vec(), InFlight::KeepAlive)
        } else {
            return;
        };
        self.in_flight = Some(what);
        self.last_activity = now;
        self.link.start(now, &text, &mut self.out);
    }

    fn keepalive_due_at(&self) -> Option<Millis> {
        let interval = self.settings.keepalive_interval_ms?;
        let quiet = self.up
            && !self.closing
            && self.in_flight.is_none()
            && self.charge.is_none()
            && self.link.is_idle();
        quiet.then_some(self.last_activity.saturating_add(interval))
    }

    fn deliver(&mut self, event: PmsEvent) {
        self.out.push(Command::Deliver(event));
    }

    fn finish(&mut self, now: Millis) {
        self.pump(now);
        let retry = self.cycle.as_ref().and_then(|c| c.retry_at);
        let charge = self.charge.as_ref().map(|c| c.deadline);
        let wanted = earliest(&[self.link.deadline(), retry, self.keepalive_due_at(), charge]);
        self.timer.sync(wanted, &mut self.out);
        debug_assert!(
            self.out.len() < MAX_PENDING_COMMANDS,
            "commands not drained"
        );
        debug_assert!(self.slot.is_some() || self.in_flight != Some(InFlight::App));
    }
}

fn next_step(step: Step, rooms: &[RoomOccupancy]) -> Option<Step> {
    let after = |index: usize| {
        if index + 1 < rooms.len() {
            Step::Room {
                index: index + 1,
                name: false,
            }
        } else {
            Step::End
        }
    };
    match step {
        Step::Grs if rooms.is_empty() => Some(Step::End),
        Step::Grs => Some(Step::Room {
            index: 0,
            name: false,
        }),
        Step::Room { index, name: false } => {
            let room = rooms.get(index)?;
            let has_name = room.occupied && room.name.as_ref().is_some_and(|n| !n.is_empty());
            Some(if has_name {
                Step::Room { index, name: true }
            } else {
                after(index)
            })
        }
        Step::Room { index, name: true } => Some(after(index)),
        Step::End => None,
    }
}

fn cycle_text(cycle: &Cycle, width: usize) -> Result<Vec<u8>, PrintError> {
    let message = match cycle.step {
        Step::Grs => Message::GeneralReset,
        Step::End => Message::End,
        Step::Room { index, name } => {
            let Some(room) = cycle.rooms.get(index) else {
                return Ok(b"END".to_vec());
            };
            match (name, &room.name) {
                (true, Some(n)) => Message::Name {
                    extension: room.extension.clone(),
                    name: n.clone(),
                },
                _ if room.occupied => Message::CheckIn(room.extension.clone()),
                _ => Message::CheckOut(room.extension.clone()),
            }
        }
    };
    message.print(width, Justify::Right)
}

#[cfg(test)]
#[path = "pms_side_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "pms_side_charge_tests.rs"]
mod charge_tests;
