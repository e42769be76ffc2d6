//! Charge records over the Mitel-style link: a room device (the PBX's call accounting, a
//! minibar) tells the PMS what to charge to the guest in a room. PMS.md names no charge record
//! for this dialect, so innsync defines one in the dialect's manner — a function code, blank
//! separated fields, the extension last in its fixed-width field, like `STS` and `MW`:
//!
//! `CHG SSSSSSSSS K AAAAAAAAA EEEEE` (system → PMS), e.g. `CHG 000042 M 1250 101  `:
//! - `S`: the system's sequence number of the record, 1–9 digits: its identity, so a record the
//!   system sends again (it got no answer) is charged once;
//! - `K`: what was consumed, one capital letter (`M` minibar, `T` telephone call; any other
//!   letter is a charge without a catalogue item);
//! - `A`: the amount in minor units of the property's currency, 1–9 digits, more than zero;
//! - `E`: the room's extension.
//!
//! The PMS answers the text only once it has decided: `ACK` when the charge is on the folio (or
//! already was), `NAK` when it is refused (nobody in house in that room, the charge not
//! accepted). A malformed record is `NAK`ed at once like any other.

use std::fmt;

use crate::room::Extension;

/// Most digits of a sequence number or an amount.
pub const MAX_CHARGE_DIGITS: usize = 9;

/// One charge record from the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRecord {
    /// The system's sequence number, as sent (1–9 digits, leading zeros kept).
    pub sequence: String,
    /// What was consumed: one capital letter (`M` minibar, `T` telephone).
    pub kind: char,
    /// Minor units, more than zero.
    pub amount: u32,
    /// The room.
    pub extension: Extension,
}

/// Why the fields of a `CHG` are not a charge record (the message is `NAK`ed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeFieldError {
    /// A field is missing.
    Missing(&'static str),
    /// A field is not what the record allows.
    Bad(&'static str),
}

impl fmt::Display for ChargeFieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(field) => write!(f, "missing {field}"),
            Self::Bad(field) => write!(f, "bad {field}"),
        }
    }
}

impl ChargeRecord {
    /// The fields of the text after `CHG `: sequence, kind, amount, and the extension field
    /// still padded (the caller validates it with the link's width).
    pub(crate) fn fields(rest: &str) -> Result<(String, char, u32, &str), ChargeFieldError> {
        let mut parts = rest.splitn(4, ' ');
        let sequence = parts
            .next()
            .filter(|s| !s.is_empty())
            .ok_or(ChargeFieldError::Missing("sequence"))?;
        if sequence.len() > MAX_CHARGE_DIGITS || !sequence.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ChargeFieldError::Bad("sequence"));
        }
        let kind = parts
            .next()
            .filter(|s| !s.is_empty())
            .ok_or(ChargeFieldError::Missing("kind"))?;
        let kind = match kind.as_bytes() {
            [k] if k.is_ascii_uppercase() => char::from(*k),
            _ => return Err(ChargeFieldError::Bad("kind")),
        };
        let amount = parts
            .next()
            .filter(|s| !s.is_empty())
            .ok_or(ChargeFieldError::Missing("amount"))?;
        if amount.len() > MAX_CHARGE_DIGITS || !amount.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ChargeFieldError::Bad("amount"));
        }
        let amount: u32 = amount
            .parse()
            .ok()
            .filter(|a| *a > 0)
            .ok_or(ChargeFieldError::Bad("amount"))?;
        Ok((
            sequence.to_string(),
            kind,
            amount,
            parts.next().unwrap_or(""),
        ))
    }

    /// The text without the extension field: `CHG 000042 M 1250`.
    pub(crate) fn head(&self) -> String {
        format!("CHG {} {} {}", self.sequence, self.kind, self.amount)
    }

    /// Whether the record can be printed (the parser only makes such records).
    pub(crate) fn is_printable(&self) -> bool {
        !self.sequence.is_empty()
            && self.sequence.len() <= MAX_CHARGE_DIGITS
            && self.sequence.bytes().all(|b| b.is_ascii_digit())
            && self.kind.is_ascii_uppercase()
            && self.amount > 0
            && self.amount.to_string().len() <= MAX_CHARGE_DIGITS
    }
}
