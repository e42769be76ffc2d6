//! What the PMS side sends and receives as values: guests, messages, postings, resync rooms,
//! and how each becomes a FIAS record.

use crate::fias::{ids::*, Id, Record};
use crate::room::Extension;

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

pub(super) fn guest_record(kind: Id, guest: &FiasGuest) -> Record {
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
pub(super) fn clean_text(text: &str) -> String {
    text.trim().replace('|', "/")
}

pub(super) fn to_record(message: &FiasMessage) -> Record {
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
