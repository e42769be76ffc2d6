//! Postings from the system (FIAS `PS`, Mitel-style `CHG`: minibar, phone calls), as the link's
//! status shows them
//! (`GET /api/v1/pms`, the UI's PMS section): charged to the in-house guest's folio by the
//! driver and answered with the outcome (`OK`, `NG`, `UR`, `NP`). Postings answered before
//! innsync kept folios were written to the booking's history as a note, one line readable by
//! people and by [`PostingRecord::from_note`]: `Posting not charged (answered NP): PS room 101,
//! reservation 5730000012, P# 77, amount 1250, type M, at 2026-12-04T15:00:00Z`.

use innsync_pms::{ChargeRecord, Posting};
use serde::{Deserialize, Serialize};

/// How a posting note starts.
pub const NOTE_PREFIX: &str = "Posting not charged (answered ";

/// Longest text kept of a field the system chooses freely (`P#`, `PT`), so a note stays short.
pub const MAX_FREE_FIELD: usize = 12;

/// Longest raw record kept with a posting in the link's status.
pub const MAX_RAW_RECORD: usize = 512;

/// One posting as recorded for the operator and a later folio.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostingRecord {
    /// When innsync received it (RFC 3339, seconds, UTC).
    pub received_at: String,
    /// The room (`RN`).
    pub room: Option<String>,
    /// The reservation number (`G#`), when the system sent one.
    pub reservation_number: Option<u64>,
    /// The system's posting sequence number (`P#`), to match its records.
    pub sequence: Option<String>,
    /// Posting type (`PT`).
    pub kind: Option<String>,
    /// Total amount in minor units (`TA`); the currency is the property's.
    pub amount_minor: Option<i64>,
    /// The answer status innsync sent (`NP`: not posted).
    pub answer: String,
    /// The booking it was recorded on, when one was found (not part of the note).
    pub booking: Option<String>,
    /// The record as received (status only, not part of the note).
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub record: String,
}

/// The catalogue item a posting type charges, if the property's catalogue has it: FIAS `PT`
/// `M` is the minibar, `T` or `P` a telephone call.
pub fn item_for(kind: &str) -> Option<&'static str> {
    match kind {
        "M" => Some("MINIBAR"),
        "T" | "P" => Some("PHONE"),
        _ => None,
    }
}

/// The folio text of a posting: `Minibar (PMS P# 77)`.
pub fn description_for(kind: &str, sequence: Option<&str>) -> String {
    let what = match kind {
        "M" => "Minibar",
        "T" | "P" => "Telephone",
        _ => "PMS posting",
    };
    match sequence {
        Some(s) => format!("{what} (PMS P# {})", free(s)),
        None => what.to_string(),
    }
}

/// A free field as a note can carry it: short, without the note's separators.
fn free(v: &str) -> String {
    v.chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == ',' { ';' } else { c })
        .take(MAX_FREE_FIELD)
        .collect::<String>()
        .trim()
        .to_string()
}

impl PostingRecord {
    /// The record of a posting received at `received_at`.
    pub fn new(received_at: String, p: &Posting) -> Self {
        let record: String = p
            .record
            .to_string()
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .take(MAX_RAW_RECORD)
            .collect();
        Self {
            received_at,
            room: p.room.as_ref().map(|r| r.as_str().to_string()),
            reservation_number: p.reservation,
            sequence: p.sequence.as_deref().map(free).filter(|s| !s.is_empty()),
            kind: p.kind.as_deref().map(free).filter(|s| !s.is_empty()),
            amount_minor: p.amount,
            answer: free(p.answer),
            booking: None,
            record,
        }
    }

    /// The record of a Mitel-style charge record received at `received_at`; its sequence is
    /// the posting's identity, its kind the posting type.
    pub fn of_charge(received_at: String, c: &ChargeRecord) -> Self {
        Self {
            received_at,
            room: Some(c.extension.as_str().to_string()),
            reservation_number: None,
            sequence: Some(free(&c.sequence)),
            kind: Some(c.kind.to_string()),
            amount_minor: Some(i64::from(c.amount)),
            answer: String::new(),
            booking: None,
            record: format!("CHG {} {} {} {}", c.sequence, c.kind, c.amount, c.extension),
        }
    }

    /// Whether it came as a Mitel-style charge record rather than a FIAS posting.
    fn is_charge_record(&self) -> bool {
        self.record.starts_with("CHG ")
    }

    /// The folio text: `Minibar (PMS P# 77)`, or `Minibar (PMS CHG 000042)` for a charge record.
    pub fn description(&self) -> String {
        let kind = self.kind.as_deref().unwrap_or_default();
        match (&self.sequence, self.is_charge_record()) {
            (Some(seq), true) => {
                let what = description_for(kind, None);
                format!("{what} (PMS CHG {seq})")
            }
            _ => description_for(kind, self.sequence.as_deref()),
        }
    }

    /// The posting in words: `PS room 101, reservation 5730000012, P# 77, amount 1250, type M`
    /// (`CHG room 101, …` for a charge record).
    pub fn words(&self) -> String {
        let mut s = String::from(if self.is_charge_record() { "CHG" } else { "PS" });
        if let Some(r) = &self.room {
            s.push_str(&format!(" room {r}"));
        }
        if let Some(r) = self.reservation_number {
            s.push_str(&format!(", reservation {r}"));
        }
        if let Some(p) = &self.sequence {
            s.push_str(&format!(", P# {p}"));
        }
        if let Some(a) = self.amount_minor {
            s.push_str(&format!(", amount {a}"));
        }
        if let Some(k) = &self.kind {
            s.push_str(&format!(", type {k}"));
        }
        s
    }

    /// The note written to the booking's history (at most 200 characters, a note's limit).
    pub fn note_text(&self) -> String {
        format!(
            "{NOTE_PREFIX}{}): {}, at {}",
            self.answer,
            self.words(),
            self.received_at
        )
    }

    /// The posting recorded in a note's text, if the note is one (for a later folio).
    pub fn from_note(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(NOTE_PREFIX)?;
        let (answer, rest) = rest.split_once("): PS")?;
        let mut p = PostingRecord {
            received_at: String::new(),
            room: None,
            reservation_number: None,
            sequence: None,
            kind: None,
            amount_minor: None,
            answer: answer.to_string(),
            booking: None,
            record: String::new(),
        };
        for part in rest.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = part.split_once(' ')?;
            match key {
                "room" => p.room = Some(value.to_string()),
                "reservation" => p.reservation_number = Some(value.parse().ok()?),
                "P#" => p.sequence = Some(value.to_string()),
                "amount" => p.amount_minor = Some(value.parse().ok()?),
                "type" => p.kind = Some(value.to_string()),
                "at" => p.received_at = value.to_string(),
                _ => return None,
            }
        }
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use innsync_pms::fias::Record;
    use innsync_pms::Extension;

    #[test]
    fn a_posting_note_reads_for_people_and_parses_back() {
        let p = Posting {
            room: Extension::new("101").ok(),
            reservation: Some(5_730_000_012),
            sequence: Some("77".into()),
            kind: Some("M".into()),
            amount: Some(1250),
            answer: "NP",
            record: Record::parse(b"PS|RN101|P#77|PTM|TA1250|G#5730000012|").unwrap(),
        };
        let rec = PostingRecord::new("2026-12-04T15:00:00Z".into(), &p);
        let text = rec.note_text();
        assert_eq!(
            text,
            "Posting not charged (answered NP): PS room 101, reservation 5730000012, P# 77, \
             amount 1250, type M, at 2026-12-04T15:00:00Z"
        );
        assert_eq!(
            PostingRecord::from_note(&text),
            Some(PostingRecord {
                record: String::new(),
                ..rec
            })
        );
        assert_eq!(
            PostingRecord::from_note("a note about a late arrival"),
            None
        );
        // Free fields are cut and cleaned, so the note stays within a note's 200 characters.
        let wild = Posting {
            sequence: Some("1,2,3,4,5,6,7,8,9,10,11,12".into()),
            kind: Some("x".repeat(300)),
            amount: Some(i64::MIN),
            reservation: Some(9_999_999_999),
            room: Extension::new("1234567").ok(),
            ..p
        };
        let rec = PostingRecord::new("2026-12-04T15:00:00Z".into(), &wild);
        let text = rec.note_text();
        assert!(text.chars().count() <= 200, "{text}");
        assert_eq!(
            PostingRecord::from_note(&text).and_then(|r| r.sequence),
            Some("1;2;3;4;5;6;".into())
        );
    }
}
