//! FIAS records (the Oracle Hospitality FIAS dialect): `XX|F1data|F2data|`, parser and printer,
//! plus typed views of the records innsync uses. Field order is free and unknown fields are kept
//! but ignored, as the specification requires; only structural damage is an error.

use thiserror::Error;

use crate::encoding::TextEncoding;

/// Most fields accepted in one record, so a hostile peer cannot make us allocate without bound.
pub const MAX_FIELDS: usize = 64;

/// A two-character record or field identifier (`GI`, `RN`, `G#`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id([u8; 2]);

impl Id {
    /// Builds an id from two printable characters other than `|`.
    pub const fn new(id: &[u8; 2]) -> Id {
        Id(*id)
    }

    fn parse(bytes: &[u8]) -> Option<Id> {
        match bytes {
            [a, b] if id_byte(*a) && id_byte(*b) => Some(Id([*a, *b])),
            _ => None,
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

fn id_byte(b: u8) -> bool {
    (0x21..0x7f).contains(&b) && b != b'|'
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a FIAS text is not a record.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FiasError {
    /// A control byte inside a record (text is 8-bit, but never control characters).
    #[error("record contains a control byte")]
    NotPrintable,
    /// The record id is missing or malformed.
    #[error("bad record id")]
    BadRecordId,
    /// A field id is malformed.
    #[error("bad field id in {0:?}")]
    BadFieldId(String),
    /// The last field is not closed by `|`.
    #[error("last field is not terminated by '|'")]
    Unterminated,
    /// More than [`MAX_FIELDS`] fields.
    #[error("more than {MAX_FIELDS} fields")]
    TooManyFields,
    /// A value contains `|`, which would end the field early.
    #[error("field {0} has a value that cannot be sent")]
    BadValue(Id),
}

/// A raw record: its id and its fields in wire order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Record type (`GI`, `LS`…).
    pub kind: Id,
    /// Fields as (id, data), in the order received or to send.
    pub fields: Vec<(Id, String)>,
}

impl Record {
    /// A record with no fields.
    pub fn new(kind: Id) -> Record {
        Record {
            kind,
            fields: Vec::new(),
        }
    }

    /// Adds a field (builder style).
    pub fn with(mut self, id: Id, value: impl Into<String>) -> Record {
        self.fields.push((id, value.into()));
        self
    }

    /// The value of a field; the last occurrence wins, like a later update.
    pub fn get(&self, id: Id) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(f, _)| *f == id)
            .map(|(_, v)| v.as_str())
    }

    /// True when a field is present (flags like `SF` carry no data).
    pub fn has(&self, id: Id) -> bool {
        self.fields.iter().any(|(f, _)| *f == id)
    }

    /// Parses `XX|F1data|F2data|` from printable ASCII (the default encoding).
    pub fn parse(text: &[u8]) -> Result<Record, FiasError> {
        Record::decode(text, TextEncoding::Ascii)
    }

    /// Parses a record received in the link's `encoding`: ids are ASCII, values 8-bit text.
    pub fn decode(text: &[u8], encoding: TextEncoding) -> Result<Record, FiasError> {
        if text.iter().any(|b| *b < 0x20 || *b == 0x7f) {
            return Err(FiasError::NotPrintable);
        }
        let text = encoding.decode(text);
        let text = text.as_str();
        let kind = Id::parse(text.as_bytes().get(..2).ok_or(FiasError::BadRecordId)?)
            .ok_or(FiasError::BadRecordId)?;
        let rest = &text[2..];
        let mut record = Record::new(kind);
        if rest.is_empty() {
            return Ok(record);
        }
        let Some(rest) = rest.strip_prefix('|') else {
            return Err(FiasError::BadRecordId);
        };
        if rest.is_empty() {
            return Ok(record);
        }
        let Some(body) = rest.strip_suffix('|') else {
            return Err(FiasError::Unterminated);
        };
        for field in body.split('|') {
            if record.fields.len() == MAX_FIELDS {
                return Err(FiasError::TooManyFields);
            }
            let id = field
                .as_bytes()
                .get(..2)
                .and_then(Id::parse)
                .ok_or_else(|| FiasError::BadFieldId(field.chars().take(8).collect()))?;
            record.fields.push((id, field[2..].to_owned()));
        }
        Ok(record)
    }

    /// Prints the record in printable ASCII (transliterating); fails only on a value with `|`.
    pub fn print(&self) -> Result<Vec<u8>, FiasError> {
        self.encode(TextEncoding::Ascii)
    }

    /// The record's bytes in the link's `encoding`. Characters never make it fail (they are
    /// converted); only a value containing `|` does, so callers clean free text first.
    pub fn encode(&self, encoding: TextEncoding) -> Result<Vec<u8>, FiasError> {
        let mut out = Vec::with_capacity(3 + self.fields.len() * 8);
        out.extend_from_slice(&self.kind.0);
        out.push(b'|');
        for (id, value) in &self.fields {
            if value.contains('|') {
                return Err(FiasError::BadValue(*id));
            }
            out.extend_from_slice(&id.0);
            out.extend_from_slice(&encoding.encode(value));
            out.push(b'|');
        }
        Ok(out)
    }
}

impl std::fmt::Display for Record {
    /// The record as text (`GI|RN101|…|`), for logs and operators.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}|", self.kind)?;
        for (id, value) in &self.fields {
            write!(f, "{id}{value}|")?;
        }
        Ok(())
    }
}

/// Record and field ids used by innsync.
pub mod ids {
    use super::Id;

    /// Link start.
    pub const LS: Id = Id::new(b"LS");
    /// Link description.
    pub const LD: Id = Id::new(b"LD");
    /// Link record (which fields the other side wants for a record type).
    pub const LR: Id = Id::new(b"LR");
    /// Link alive.
    pub const LA: Id = Id::new(b"LA");
    /// Link end.
    pub const LE: Id = Id::new(b"LE");
    /// Guest check-in.
    pub const GI: Id = Id::new(b"GI");
    /// Guest check-out.
    pub const GO: Id = Id::new(b"GO");
    /// Guest data change (room move carries `RO`).
    pub const GC: Id = Id::new(b"GC");
    /// Room equipment status (maid status).
    pub const RE: Id = Id::new(b"RE");
    /// Message text.
    pub const XL: Id = Id::new(b"XL");
    /// Message light.
    pub const ML: Id = Id::new(b"ML");
    /// Do not disturb.
    pub const DN: Id = Id::new(b"DN");
    /// Database resync request.
    pub const DR: Id = Id::new(b"DR");
    /// Database resync start.
    pub const DS: Id = Id::new(b"DS");
    /// Database resync end.
    pub const DE: Id = Id::new(b"DE");
    /// Posting simple (a charge from the other side: minibar, phone call).
    pub const PS: Id = Id::new(b"PS");
    /// Posting answer.
    pub const PA: Id = Id::new(b"PA");

    /// Date, YYMMDD.
    pub const DA: Id = Id::new(b"DA");
    /// Time, HHMMSS.
    pub const TI: Id = Id::new(b"TI");
    /// Room number.
    pub const RN: Id = Id::new(b"RN");
    /// Old room number (room move).
    pub const RO: Id = Id::new(b"RO");
    /// Reservation number.
    pub const GN_RES: Id = Id::new(b"G#");
    /// Guest name.
    pub const GN: Id = Id::new(b"GN");
    /// Share flag.
    pub const GS: Id = Id::new(b"GS");
    /// Swap flag: this record is part of a resync.
    pub const SF: Id = Id::new(b"SF");
    /// Room status (RE).
    pub const RS: Id = Id::new(b"RS");
    /// Record id (LR).
    pub const RI: Id = Id::new(b"RI");
    /// Field list (LR).
    pub const FL: Id = Id::new(b"FL");
    /// Interface version (LD).
    pub const V_NUM: Id = Id::new(b"V#");
    /// Interface family (LD).
    pub const IF: Id = Id::new(b"IF");
    /// Posting sequence number (PS, PA).
    pub const P_NUM: Id = Id::new(b"P#");
    /// Posting type (PS).
    pub const PT: Id = Id::new(b"PT");
    /// Total amount in minor units (PS).
    pub const TA: Id = Id::new(b"TA");
    /// Answer status (PA).
    pub const AS: Id = Id::new(b"AS");
    /// Clear text (PA): why, for the other side's operator.
    pub const CT: Id = Id::new(b"CT");
    /// Sales outlet (PS).
    pub const SO: Id = Id::new(b"SO");
    /// Dialled digits (PS for a phone call).
    pub const DD: Id = Id::new(b"DD");
    /// Call duration (PS for a phone call).
    pub const DU: Id = Id::new(b"DU");
}

/// A date and time as FIAS carries them (`DA` YYMMDD, `TI` HHMMSS); the caller supplies it so
/// the engine never reads a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Year within the century, 0–99.
    pub year: u8,
    /// Month 1–12.
    pub month: u8,
    /// Day 1–31.
    pub day: u8,
    /// Hour 0–23.
    pub hour: u8,
    /// Minute 0–59.
    pub minute: u8,
    /// Second 0–59.
    pub second: u8,
}

impl Stamp {
    /// The civil date and time of a Unix timestamp (seconds), for adapters that read a clock.
    pub fn from_unix(secs: i64) -> Stamp {
        let days = secs.div_euclid(86_400);
        let of_day = secs.rem_euclid(86_400);
        // Howard Hinnant's days-to-civil algorithm.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Stamp {
            year: year.rem_euclid(100) as u8,
            month: month as u8,
            day: day as u8,
            hour: (of_day / 3_600) as u8,
            minute: (of_day / 60 % 60) as u8,
            second: (of_day % 60) as u8,
        }
    }

    /// The stamp of a local civil date and time (the property's, for FIAS).
    pub fn from_local(t: chrono::NaiveDateTime) -> Stamp {
        use chrono::{Datelike, Timelike};
        Stamp {
            year: t.year().rem_euclid(100) as u8,
            month: t.month() as u8,
            day: t.day() as u8,
            hour: t.hour() as u8,
            minute: t.minute() as u8,
            second: t.second().min(59) as u8,
        }
    }

    /// `DA` value.
    pub fn date(&self) -> String {
        format!(
            "{:02}{:02}{:02}",
            self.year % 100,
            self.month % 100,
            self.day % 100
        )
    }

    /// `TI` value.
    pub fn time(&self) -> String {
        format!(
            "{:02}{:02}{:02}",
            self.hour % 100,
            self.minute % 100,
            self.second % 100
        )
    }
}

#[cfg(test)]
mod tests {
    use super::ids::*;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_specification_example_in_any_field_order() {
        let a = Record::parse(b"GI|RN103|G#4711|GNRogers|DA270301|TI140000|").unwrap();
        let b = Record::parse(b"GI|TI140000|GNRogers|DA270301|G#4711|RN103|").unwrap();
        assert_eq!(a.kind, GI);
        for r in [&a, &b] {
            assert_eq!(r.get(RN), Some("103"));
            assert_eq!(r.get(GN_RES), Some("4711"));
            assert_eq!(r.get(GN), Some("Rogers"));
        }
    }

    #[test]
    fn unknown_fields_are_kept_and_ignored() {
        let r = Record::parse(b"GI|RN103|ZZwhatever|SF|").unwrap();
        assert_eq!(r.get(RN), Some("103"));
        assert!(r.has(SF));
        assert_eq!(r.get(Id::new(b"ZZ")), Some("whatever"));
    }

    #[test]
    fn structural_damage_is_an_error() {
        assert_eq!(Record::parse(b"G"), Err(FiasError::BadRecordId));
        assert_eq!(Record::parse(b"GI|RN103"), Err(FiasError::Unterminated));
        assert!(matches!(
            Record::parse(b"GI|R|"),
            Err(FiasError::BadFieldId(_))
        ));
        assert_eq!(Record::parse(b"LE|"), Ok(Record::new(LE)));
        assert_eq!(Record::parse(b"LE"), Ok(Record::new(LE)));
    }

    #[test]
    fn stamps_from_unix_time() {
        // 2027-03-01 14:00:00 UTC
        let s = Stamp::from_unix(1_803_909_600);
        assert_eq!(
            (s.date(), s.time()),
            ("270301".to_owned(), "140000".to_owned())
        );
        assert_eq!(Stamp::from_unix(0).date(), "700101");
    }

    #[test]
    fn values_with_a_bar_are_refused_at_print() {
        let r = Record::new(GI).with(GN, "A|B");
        assert_eq!(r.print(), Err(FiasError::BadValue(GN)));
    }

    #[test]
    fn records_carry_8_bit_text_in_the_links_encoding() {
        let r = Record::new(GI).with(GN, "Zoë Müller");
        assert_eq!(r.print().unwrap(), b"GI|GNZoe Mueller|".to_vec());
        let cp850 = r.encode(TextEncoding::Cp850).unwrap();
        assert_eq!(cp850, b"GI|GNZo\x89 M\x81ller|".to_vec());
        assert_eq!(Record::decode(&cp850, TextEncoding::Cp850), Ok(r.clone()));
        assert_eq!(r.to_string(), "GI|GNZoë Müller|");
        assert_eq!(
            Record::decode(b"GI|GN\x01|", TextEncoding::Cp850),
            Err(FiasError::NotPrintable)
        );
    }

    fn arb_id() -> impl Strategy<Value = Id> {
        (0x21u8..0x7f, 0x21u8..0x7f)
            .prop_filter("no bar", |(a, b)| *a != b'|' && *b != b'|')
            .prop_map(|(a, b)| Id::new(&[a, b]))
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = Record::parse(&bytes);
        }

        #[test]
        fn print_parse_round_trips(kind in arb_id(), fields in proptest::collection::vec((arb_id(), "[ -{}~]{0,12}"), 0..10)) {
            let record = Record { kind, fields };
            let text = record.print().unwrap();
            prop_assert_eq!(Record::parse(&text), Ok(record));
        }
    }
}
