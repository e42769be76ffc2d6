//! `FiasPmsLink`: the PMS end of a FIAS link over TCP as a sans-I/O state machine. Records are
//! framed `STX` record `ETX` without ACK/NAK. The PMS starts the link with `LS`; the other side
//! describes itself (`LD`), lists the records and fields it wants (`LR`) and sends `LA`; the PMS
//! answers `LA` and the link is alive. Records submitted before that are buffered (bounded). A
//! `DR` from the other side asks for a resync: `DS`, a `GI`/`GO` with `SF` for every room, `DE`.
//! Every posting (`PS`) is answered at once (`PA`). Text travels in the link's
//! [`TextEncoding`](crate::encoding::TextEncoding), converted and never refused; a record that
//! still cannot be sent (too long, a reservation number over 10 digits) is skipped and reported
//! ([`FiasEvent::Skipped`]), and the engine goes on with the next one: no record can stall it.

mod events;
mod inbound;
mod message;
mod outbound;

pub use events::{FiasEvent, FiasSubmitError, ResyncError, SkipReason};
pub use message::{FiasGuest, FiasMessage, Posting, ResyncRoom};

use message::{guest_record, to_record};

use std::collections::{BTreeMap, VecDeque};

use crate::command::Command;
use crate::fias::{ids::*, Id, Record, Stamp};
use crate::frame::{FrameDecoder, Token};
use crate::pms_side::MessageId;
use crate::settings::{Millis, Settings, SettingsError};

/// Longest clear text (`CT`) sent with a posting answer.
pub const MAX_ANSWER_TEXT: usize = 80;

/// Largest reservation number `G#` can carry: vendors keep it in a 10-digit integer column.
pub const MAX_RESERVATION: u64 = 9_999_999_999;

/// FIAS answer status (`PA|AS..|`): the posting was charged to the guest's folio.
pub const POSTING_OK: &str = "OK";
/// FIAS answer status: no guest in house matches the posting (room or reservation).
pub const GUEST_NOT_FOUND: &str = "NG";
/// FIAS answer status: posting denied (the PMS will not charge it).
pub const POSTING_DENIED: &str = "NP";
/// FIAS answer status: the request cannot be processed (no amount, a bad amount).
pub const UNPROCESSABLE: &str = "UR";

/// The clear text (`CT`) sent with a denied posting, for the other side's operator.
pub const POSTING_DENIED_TEXT: &str =
    "posting not accepted by the PMS; recorded for the front desk";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Down,
    Starting,
    Alive,
    Ended,
}

/// The PMS side of a FIAS link.
#[derive(Debug)]
pub struct FiasPmsLink {
    settings: Settings,
    decoder: FrameDecoder,
    state: State,
    stamp: Stamp,
    wanted: BTreeMap<Id, Vec<Id>>,
    peer: Option<(String, String)>,
    buffer: VecDeque<(MessageId, Record, String)>,
    out: Vec<Command<FiasEvent>>,
}

impl FiasPmsLink {
    /// An engine with validated settings; the link starts down.
    pub fn new(settings: Settings) -> Result<Self, SettingsError> {
        settings.validate()?;
        Ok(FiasPmsLink {
            decoder: FrameDecoder::new(settings.max_text_len),
            settings,
            state: State::Down,
            stamp: Stamp {
                year: 0,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0,
            },
            wanted: BTreeMap::new(),
            peer: None,
            buffer: VecDeque::new(),
            out: Vec::new(),
        })
    }

    /// The commands emitted so far, in order.
    pub fn take_commands(&mut self) -> Vec<Command<FiasEvent>> {
        std::mem::take(&mut self.out)
    }

    /// True once `LA` has been exchanged.
    pub fn is_alive(&self) -> bool {
        self.state == State::Alive
    }

    /// The other side's version and interface family from `LD`.
    pub fn peer(&self) -> Option<&(String, String)> {
        self.peer.as_ref()
    }

    /// Records waiting for the link to be alive.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Tells the engine the property's local date and time for `DA`/`TI` (the core reads no
    /// clock; FIAS wants the hotel's local time, not UTC).
    pub fn set_stamp(&mut self, stamp: Stamp) {
        self.stamp = stamp;
    }

    /// A client connected: send `LS` and wait for `LD`/`LR`/`LA`.
    pub fn link_up(&mut self, _now: Millis, stamp: Stamp) {
        self.stamp = stamp;
        self.decoder.reset();
        self.wanted.clear();
        self.peer = None;
        self.state = State::Starting;
        self.send_link(LS);
        self.finish();
    }

    /// The client went away; buffered records stay for the next link.
    pub fn link_down(&mut self, _now: Millis) {
        if self.state == State::Down {
            return;
        }
        self.state = State::Down;
        self.decoder.reset();
        self.out.push(Command::Deliver(FiasEvent::LinkDown));
        self.finish();
    }

    /// Sends a record now if the link is alive, else buffers it (bounded). A record that can
    /// never be sent (too long, impossible field) is not an error of the call: it is reported
    /// with [`FiasEvent::Skipped`] and the engine is ready for the next record at once.
    pub fn submit(
        &mut self,
        _now: Millis,
        id: MessageId,
        message: &FiasMessage,
    ) -> Result<(), FiasSubmitError> {
        let what = message.to_string();
        let record = match self.sendable(to_record(message)) {
            Ok(r) => r,
            Err(reason) => {
                self.out
                    .push(Command::Deliver(FiasEvent::Skipped { id, what, reason }));
                self.finish();
                return Ok(());
            }
        };
        if self.state == State::Alive {
            self.send_data(id, &record, what);
        } else if self.buffer.len() >= self.settings.fias_buffer_capacity {
            return Err(FiasSubmitError::BufferFull(
                self.settings.fias_buffer_capacity,
            ));
        } else {
            self.buffer.push_back((id, record, what));
        }
        self.finish();
        Ok(())
    }

    /// Answers `DR`: `DS`, a `GI`/`GO` with `SF` for every room, `DE`. A room whose record
    /// cannot be sent is left out and named in [`FiasEvent::ResyncSent`]; the rest go on.
    pub fn start_resync(&mut self, _now: Millis, rooms: &[ResyncRoom]) -> Result<(), ResyncError> {
        if self.state != State::Alive {
            return Err(ResyncError::NotAlive);
        }
        if rooms.len() > self.settings.max_rooms {
            return Err(ResyncError::TooManyRooms {
                count: rooms.len(),
                max: self.settings.max_rooms,
            });
        }
        self.send_link(DS);
        let mut skipped = Vec::new();
        for room in rooms {
            let record = match room {
                ResyncRoom::Occupied(guest) => guest_record(GI, guest),
                ResyncRoom::Vacant(room) => Record::new(GO).with(RN, room.as_str()),
            }
            .with(SF, "");
            match self.sendable(record) {
                Ok(record) => {
                    if let Some(filtered) = self.filter(&record) {
                        self.send_record(&filtered);
                    }
                }
                Err(reason) => skipped.push(format!("{room}: {reason}")),
            }
        }
        self.send_link(DE);
        self.out.push(Command::Deliver(FiasEvent::ResyncSent {
            rooms: rooms.len() - skipped.len(),
            skipped,
        }));
        self.finish();
        Ok(())
    }

    /// Bytes arrived from the other side.
    pub fn handle_bytes(&mut self, _now: Millis, bytes: &[u8]) {
        for &byte in bytes {
            match self.decoder.push(byte) {
                Some(Token::Text(text)) => self.on_text(&text),
                Some(Token::Oversize) => self.out.push(Command::Deliver(FiasEvent::Refused(
                    "record too long".into(),
                ))),
                // ENQ/ACK/NAK belong to the serial variant; over TCP they are noise.
                Some(_) | None => {}
            }
        }
        self.finish();
    }
}

#[cfg(test)]
#[path = "../fias_pms_tests.rs"]
mod tests;
