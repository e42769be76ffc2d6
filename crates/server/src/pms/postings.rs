//! Postings from the system (FIAS `PS`: minibar, phone calls). Until innsync keeps folios,
//! each posting is answered "not posted" at once by the link (`PA|ASNP|`) and recorded here for
//! the front desk: in the link's status (`GET /api/v1/pms`, the UI's PMS section) and, when it
//! names a guest in house, durably in that booking's history as a note whose last line is the
//! posting as JSON ([`NOTE_MARKER`]), so a later folio can read the postings it has not yet
//! charged with [`PostingRecord::from_note`].

use innsync_pms::Posting;
use serde::{Deserialize, Serialize};

/// Starts the machine-readable line of a posting note.
pub const NOTE_MARKER: &str = "[pms-posting] ";

/// Longest raw record kept with a posting (the link bounds records far below this).
pub const MAX_RAW_RECORD: usize = 512;

/// One posting as recorded for the operator and a later folio.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostingRecord {
    /// The link it came over.
    pub link: String,
    /// When innsync received it (RFC 3339).
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
    /// The booking it was recorded on, when one was found.
    pub booking: Option<String>,
    /// The record as received, for anything the fields above leave out.
    pub record: String,
}

impl PostingRecord {
    /// The record of a posting received over `link` at `received_at`.
    pub fn new(link: &str, received_at: String, p: &Posting) -> Self {
        let record: String = p
            .record
            .to_string()
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .take(MAX_RAW_RECORD)
            .collect();
        Self {
            link: link.to_string(),
            received_at,
            room: p.room.as_ref().map(|r| r.as_str().to_string()),
            reservation_number: p.reservation,
            sequence: p.sequence.clone(),
            kind: p.kind.clone(),
            amount_minor: p.amount,
            answer: p.answer.to_string(),
            booking: None,
            record,
        }
    }

    /// The posting in words: `PS room 101, reservation 5730000012, P# 77, amount 1250, type M`.
    pub fn words(&self) -> String {
        let mut s = String::from("PS");
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

    /// The note written to the booking's history: a sentence for people, then the JSON line.
    pub fn note_text(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        format!(
            "Posting from PMS link {} not charged (innsync keeps no folios yet; answered {}): {}. \
             Charge it by hand.\n{NOTE_MARKER}{json}",
            self.link,
            self.answer,
            self.words()
        )
    }

    /// The posting recorded in a note's text, if the note is one (for a later folio).
    pub fn from_note(text: &str) -> Option<Self> {
        let line = text
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(NOTE_MARKER))?;
        serde_json::from_str(line).ok()
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
        let mut rec = PostingRecord::new("fias", "2026-12-04T15:00:00Z".into(), &p);
        rec.booking = Some("WB-000012".into());
        let text = rec.note_text();
        assert!(text.starts_with(
            "Posting from PMS link fias not charged (innsync keeps no folios yet; answered NP): \
             PS room 101, reservation 5730000012, P# 77, amount 1250, type M."
        ));
        assert_eq!(PostingRecord::from_note(&text), Some(rec));
        assert_eq!(
            PostingRecord::from_note("a note about a late arrival"),
            None
        );
    }
}
