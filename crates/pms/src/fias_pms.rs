//! `FiasPmsLink`: the PMS end of a FIAS link over TCP as a sans-I/O state machine. Records are
//! framed `STX` record `ETX` without ACK/NAK. The PMS starts the link with `LS`; the other side
//! describes itself (`LD`), lists the records and fields it wants (`LR`) and sends `LA`; the PMS
//! answers `LA` and the link is alive. Records submitted before that are buffered (bounded). A
//! `DR` from the other side asks for a resync: `DS`, a `GI`/`GO` with `SF` for every room, `DE`.
//! Every posting (`PS`) is answered at once (`PA`). Text travels in the link's
//! [`TextEncoding`](crate::encoding::TextEncoding), converted and never refused; a record that
//! still cannot be sent (too long, a reservation number over 10 digits) is skipped and reported
//! ([`FiasEvent::Skipped`]), and the engine goes on with the next one: no record can stall it.

use std::collections::{BTreeMap, VecDeque};

use thiserror::Error;

use crate::command::{Command, MAX_PENDING_COMMANDS};
use crate::fias::{ids::*, FiasError, Id, Record, Stamp};
use crate::frame::{encode_text, FrameDecoder, Token};
use crate::pms_side::MessageId;
use crate::room::Extension;
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

/// A guest as FIAS guest records carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiasGuest {
    /// Room (`RN`).
    pub room: Extension,
    /// Reservation number (`G#`): numeric, at most [`MAX_RESERVATION`].
    pub reservation: Option<u64>,
    /// Guest name (`GN`), in Unicode; the link's encoding converts it.
    pub name: Option<String>,
    /// Share flag (`GS`): another guest shares the room.
    pub share: Option<bool>,
}

/// What the PMS application sends over FIAS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FiasMessage {
    /// `GI`: check-in.
    CheckIn(FiasGuest),
    /// `GO`: check-out.
    CheckOut(FiasGuest),
    /// `GC`: guest data change; a room move carries the old room (`RO`).
    Change {
        /// The guest, in the new room.
        guest: FiasGuest,
        /// The room moved out of.
        old_room: Option<Extension>,
    },
    /// `ML`: message light on or off.
    MessageLight {
        /// The room.
        room: Extension,
        /// Lamp on.
        on: bool,
    },
    /// `DN`: do not disturb on or off.
    DoNotDisturb {
        /// The room.
        room: Extension,
        /// DND on.
        on: bool,
    },
}

fn describe_guest(f: &mut std::fmt::Formatter<'_>, kind: &str, g: &FiasGuest) -> std::fmt::Result {
    write!(f, "{kind} room {}", g.room)?;
    if let Some(r) = g.reservation {
        write!(f, ", reservation {r}")?;
    }
    if let Some(n) = &g.name {
        write!(f, ", {n}")?;
    }
    Ok(())
}

impl std::fmt::Display for FiasMessage {
    /// The record in words for operators: `GI room 101, reservation 5730000012, Ada Lovelace`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let onoff = |on: &bool| if *on { "on" } else { "off" };
        match self {
            FiasMessage::CheckIn(g) => describe_guest(f, "GI", g),
            FiasMessage::CheckOut(g) => describe_guest(f, "GO", g),
            FiasMessage::Change { guest, old_room } => {
                describe_guest(f, "GC", guest)?;
                match old_room {
                    Some(o) => write!(f, " (moved from room {o})"),
                    None => Ok(()),
                }
            }
            FiasMessage::MessageLight { room, on } => {
                write!(f, "ML room {room} {}", onoff(on))
            }
            FiasMessage::DoNotDisturb { room, on } => {
                write!(f, "DN room {room} {}", onoff(on))
            }
        }
    }
}

/// One room in a resync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResyncRoom {
    /// A guest is in the room: `GI` with `SF`.
    Occupied(FiasGuest),
    /// Nobody is in the room: `GO` with `SF`.
    Vacant(Extension),
}

impl std::fmt::Display for ResyncRoom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResyncRoom::Occupied(g) => describe_guest(f, "GI", g),
            ResyncRoom::Vacant(room) => write!(f, "GO room {room}"),
        }
    }
}

/// Why a record cannot be sent at all; it is skipped and the link goes on with the next one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SkipReason {
    /// The record, in the link's encoding, is longer than the other side accepts.
    #[error("the record is {len} bytes, more than the {max} the link accepts")]
    TooLong {
        /// Encoded length.
        len: usize,
        /// The limit (`fias_max_record_len`).
        max: usize,
    },
    /// The reservation number does not fit FIAS's 10 digits.
    #[error("reservation number {0} has more than 10 digits")]
    Reservation(u64),
    /// A value cannot travel (it contains the field separator).
    #[error(transparent)]
    Record(#[from] FiasError),
}

/// A posting (`PS`) from the other side: a charge for a room (minibar, phone call). The engine
/// hands it to the application, which charges it durably and then answers it
/// ([`FiasPmsLink::answer_posting`]); the other side resends a posting left unanswered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    /// Room (`RN`), when valid.
    pub room: Option<Extension>,
    /// Reservation (`G#`), when numeric.
    pub reservation: Option<u64>,
    /// The other side's posting sequence number (`P#`), echoed in the answer.
    pub sequence: Option<String>,
    /// Posting type (`PT`).
    pub kind: Option<String>,
    /// Total amount in minor units (`TA`), when numeric.
    pub amount: Option<i64>,
    /// The answer status sent (`AS`); empty until the application answers.
    pub answer: &'static str,
    /// The whole record, for a later folio or an operator.
    pub record: Record,
}

impl std::fmt::Display for Posting {
    /// The posting in words: `PS room 101, P# 77, amount 1250, type M (answered NP)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PS")?;
        if let Some(r) = &self.room {
            write!(f, " room {r}")?;
        }
        if let Some(r) = self.reservation {
            write!(f, ", reservation {r}")?;
        }
        if let Some(p) = &self.sequence {
            write!(f, ", P# {p}")?;
        }
        if let Some(a) = self.amount {
            write!(f, ", amount {a}")?;
        }
        if let Some(k) = &self.kind {
            write!(f, ", type {k}")?;
        }
        if self.answer.is_empty() {
            Ok(())
        } else {
            write!(f, " (answered {})", self.answer)
        }
    }
}

/// What the FIAS engine tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FiasEvent {
    /// The link is alive: records flow.
    LinkAlive,
    /// The transport dropped; buffered records are kept.
    LinkDown,
    /// The other side ended the link with `LE`.
    LinkEnded,
    /// The record was written to the link (TCP has no acknowledgement).
    Delivered(MessageId),
    /// The other side did not ask for this record type in `LR`; nothing was sent.
    NotWanted(MessageId),
    /// The record cannot be sent at all and was skipped; the next one goes on.
    Skipped {
        /// The record concerned.
        id: MessageId,
        /// The record in words.
        what: String,
        /// Why.
        reason: SkipReason,
    },
    /// The other side asked for a resync (`DR`): call `start_resync` with every room.
    ResyncWanted,
    /// A resync was written (`DS` … `DE`).
    ResyncSent {
        /// Rooms sent.
        rooms: usize,
        /// Rooms whose record could not be sent, in words with the reason.
        skipped: Vec<String>,
    },
    /// Room status from the other side (`RE` with `RS` 1–6).
    RoomStatus {
        /// The room.
        room: Extension,
        /// `RS` value.
        status: u8,
    },
    /// A posting from the other side, to charge and then answer with
    /// [`FiasPmsLink::answer_posting`].
    Posting(Posting),
    /// Another data record from the other side (unknown to innsync but delivered for logs).
    Received(Record),
    /// A record could not be parsed or used; FIAS over TCP has no NAK, so it is only reported.
    Refused(String),
}

/// Why a record could not be taken now (it may be offered again later).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FiasSubmitError {
    /// The link is not alive and the buffer is full.
    #[error("FIAS buffer is full ({0} records)")]
    BufferFull(usize),
}

/// Why a resync could not be started.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResyncError {
    /// Only an alive link resyncs; the other side asks again with `DR`.
    #[error("the FIAS link is not alive")]
    NotAlive,
    /// More rooms than `max_rooms`.
    #[error("snapshot has {count} rooms, more than {max}")]
    TooManyRooms {
        /// Rooms given.
        count: usize,
        /// Limit.
        max: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
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

    /// Checks that a record can travel in the link's encoding and size; its text stays Unicode
    /// until it is encoded at send time.
    fn sendable(&self, record: Record) -> Result<Record, SkipReason> {
        if let Some(r) = record.get(GN_RES) {
            if let Ok(n) = r.parse::<u64>() {
                if n > MAX_RESERVATION {
                    return Err(SkipReason::Reservation(n));
                }
            }
        }
        let len = record.encode(self.settings.encoding)?.len();
        if len > self.settings.fias_max_record_len {
            return Err(SkipReason::TooLong {
                len,
                max: self.settings.fias_max_record_len,
            });
        }
        Ok(record)
    }

    fn on_text(&mut self, text: &[u8]) {
        let record = match Record::decode(text, self.settings.encoding) {
            Ok(r) => r,
            Err(e) => {
                self.out
                    .push(Command::Deliver(FiasEvent::Refused(e.to_string())));
                return;
            }
        };
        match record.kind {
            k if k == LS => self.send_link(LA),
            k if k == LD => {
                let version = record.get(V_NUM).unwrap_or_default().to_owned();
                let family = record.get(IF).unwrap_or_default().to_owned();
                self.peer = Some((version, family));
            }
            k if k == LR => self.on_link_record(&record),
            k if k == LA => {
                if self.state == State::Starting {
                    self.send_link(LA);
                    self.state = State::Alive;
                    self.out.push(Command::Deliver(FiasEvent::LinkAlive));
                    while let Some((id, record, what)) = self.buffer.pop_front() {
                        self.send_data(id, &record, what);
                    }
                }
            }
            k if k == LE => {
                self.state = State::Ended;
                self.out.push(Command::Deliver(FiasEvent::LinkEnded));
                self.out.push(Command::CloseLink);
            }
            // Before the link is alive, data records are ignored.
            _ if self.state != State::Alive => {}
            k if k == DR => self.out.push(Command::Deliver(FiasEvent::ResyncWanted)),
            k if k == PS => self.on_posting(record),
            k if k == RE => {
                let room = record.get(RN).and_then(|r| Extension::new(r).ok());
                let status = record.get(RS).and_then(|s| s.parse::<u8>().ok());
                match (room, status) {
                    (Some(room), Some(status)) if (1..=6).contains(&status) => self
                        .out
                        .push(Command::Deliver(FiasEvent::RoomStatus { room, status })),
                    _ => self.out.push(Command::Deliver(FiasEvent::Refused(
                        "RE without a valid RN/RS".into(),
                    ))),
                }
            }
            _ => self.out.push(Command::Deliver(FiasEvent::Received(record))),
        }
    }

    /// A posting is handed to the application, which answers it once it has charged it (or
    /// found it cannot): see [`Self::answer_posting`].
    fn on_posting(&mut self, record: Record) {
        let posting = Posting {
            room: record.get(RN).and_then(|r| Extension::new(r).ok()),
            reservation: record.get(GN_RES).and_then(|r| r.parse().ok()),
            sequence: record.get(P_NUM).map(str::to_owned),
            kind: record.get(PT).map(str::to_owned),
            amount: record.get(TA).and_then(|a| a.parse().ok()),
            answer: "",
            record,
        };
        self.out.push(Command::Deliver(FiasEvent::Posting(posting)));
    }

    /// Answers a posting (`PA` with `status`, echoing `RN`, `P#` and `G#`, with `text` as clear
    /// text when given). Nothing is sent while the link is not alive: the other side resends
    /// an unanswered posting, and the application answers the same posting the same way.
    pub fn answer_posting(&mut self, posting: &Posting, status: &'static str, text: &str) {
        if self.state != State::Alive {
            return;
        }
        let mut answer = Record::new(PA).with(AS, status);
        for id in [RN, P_NUM, GN_RES] {
            if let Some(v) = posting.record.get(id) {
                // Echoed values came in through the decoder, so they hold no `|`.
                answer = answer.with(id, v);
            }
        }
        let text: String = text
            .chars()
            .filter(|c| *c != '|' && !c.is_control())
            .take(MAX_ANSWER_TEXT)
            .collect();
        if !text.is_empty() {
            answer = answer.with(CT, text);
        }
        answer = answer
            .with(DA, self.stamp.date())
            .with(TI, self.stamp.time());
        // Only the record types the other side listed are filtered; an answer to its own
        // request is sent even when it forgot to list PA.
        let answer = if self.wanted.contains_key(&PA) {
            self.filter(&answer).unwrap_or(answer)
        } else {
            answer
        };
        self.send_record(&answer);
    }

    fn on_link_record(&mut self, record: &Record) {
        let Some(kind) = record.get(RI).and_then(Id::parse_str) else {
            self.out.push(Command::Deliver(FiasEvent::Refused(
                "LR without a valid RI".into(),
            )));
            return;
        };
        if !self.wanted.contains_key(&kind)
            && self.wanted.len() >= self.settings.fias_max_link_records
        {
            self.out.push(Command::Deliver(FiasEvent::Refused(
                "too many LR records".into(),
            )));
            return;
        }
        let fields: Vec<Id> = record
            .get(FL)
            .unwrap_or_default()
            .as_bytes()
            .chunks(2)
            .filter_map(|c| Id::parse_str(std::str::from_utf8(c).ok()?))
            .take(crate::fias::MAX_FIELDS)
            .collect();
        self.wanted.insert(kind, fields);
    }

    /// Keeps only what the other side asked for in `LR` (everything when it sent no `LR`).
    fn filter(&self, record: &Record) -> Option<Record> {
        if self.wanted.is_empty() {
            return Some(record.clone());
        }
        let fields = self.wanted.get(&record.kind)?;
        Some(Record {
            kind: record.kind,
            fields: record
                .fields
                .iter()
                .filter(|(id, _)| *id == SF || fields.contains(id))
                .cloned()
                .collect(),
        })
    }

    fn send_data(&mut self, id: MessageId, record: &Record, what: String) {
        match self.filter(record) {
            Some(filtered) => match filtered.encode(self.settings.encoding) {
                Ok(text) => {
                    self.out.push(Command::Send(encode_text(&text)));
                    self.out.push(Command::Deliver(FiasEvent::Delivered(id)));
                }
                // Checked at submit; kept so that no path can leave a record unanswered.
                Err(e) => self.out.push(Command::Deliver(FiasEvent::Skipped {
                    id,
                    what,
                    reason: e.into(),
                })),
            },
            None => self.out.push(Command::Deliver(FiasEvent::NotWanted(id))),
        }
    }

    fn send_link(&mut self, kind: Id) {
        let mut record = Record::new(kind);
        if kind == LS || kind == LA || kind == DS || kind == DE {
            record = record
                .with(DA, self.stamp.date())
                .with(TI, self.stamp.time());
        }
        self.send_record(&record);
    }

    fn send_record(&mut self, record: &Record) {
        match record.encode(self.settings.encoding) {
            Ok(text) => self.out.push(Command::Send(encode_text(&text))),
            Err(e) => {
                debug_assert!(false, "records are checked before sending: {e}");
                self.out
                    .push(Command::Deliver(FiasEvent::Refused(e.to_string())));
            }
        }
    }

    fn finish(&mut self) {
        debug_assert!(
            self.out.len() < MAX_PENDING_COMMANDS,
            "commands not drained"
        );
        debug_assert!(self.buffer.len() <= self.settings.fias_buffer_capacity);
        debug_assert!(self.wanted.len() <= self.settings.fias_max_link_records);
    }
}

impl Id {
    /// Parses a two-character id from text (used for `RI` and `FL` values).
    pub fn parse_str(s: &str) -> Option<Id> {
        match s.as_bytes() {
            [a, b]
                if *a != b'|'
                    && *b != b'|'
                    && (0x21..0x7f).contains(a)
                    && (0x21..0x7f).contains(b) =>
            {
                Some(Id::new(&[*a, *b]))
            }
            _ => None,
        }
    }
}

fn guest_record(kind: Id, guest: &FiasGuest) -> Record {
    let mut record = Record::new(kind).with(RN, guest.room.as_str());
    if let Some(r) = guest.reservation {
        record = record.with(GN_RES, r.to_string());
    }
    if let Some(n) = &guest.name {
        record = record.with(GN, clean_text(n));
    }
    if let Some(share) = guest.share {
        record = record.with(GS, if share { "Y" } else { "N" });
    }
    record
}

/// Free text as a field value: the separator `|` becomes `/` and the ends are trimmed, so a
/// name never makes a record unsendable (its characters are the encoding's business).
fn clean_text(text: &str) -> String {
    text.trim().replace('|', "/")
}

fn to_record(message: &FiasMessage) -> Record {
    match message {
        FiasMessage::CheckIn(g) => guest_record(GI, g),
        FiasMessage::CheckOut(g) => guest_record(GO, g),
        FiasMessage::Change { guest, old_room } => {
            let record = guest_record(GC, guest);
            match old_room {
                Some(old) => record.with(RO, old.as_str()),
                None => record,
            }
        }
        FiasMessage::MessageLight { room, on } => Record::new(ML)
            .with(RN, room.as_str())
            .with(ML, if *on { "Y" } else { "N" }),
        FiasMessage::DoNotDisturb { room, on } => Record::new(DN)
            .with(RN, room.as_str())
            .with(DN, if *on { "Y" } else { "N" }),
    }
}

#[cfg(test)]
#[path = "fias_pms_tests.rs"]
mod tests;
