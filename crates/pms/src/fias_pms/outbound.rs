//! How records leave the engine: checked to fit the link, filtered to what the other side
//! asked for in `LR`, framed, and buffered while the link is not alive.

use super::{FiasEvent, FiasPmsLink, SkipReason, MAX_RESERVATION};

use crate::command::{Command, MAX_PENDING_COMMANDS};
use crate::fias::{ids::*, Id, Record};
use crate::frame::encode_text;
use crate::pms_side::MessageId;

impl FiasPmsLink {
    /// Checks that a record can travel in the link's encoding and size; its text stays Unicode
    /// until it is encoded at send time.
    pub(super) fn sendable(&self, record: Record) -> Result<Record, SkipReason> {
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

    /// Keeps only what the other side asked for in `LR` (everything when it sent no `LR`).
    pub(super) fn filter(&self, record: &Record) -> Option<Record> {
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

    pub(super) fn send_data(&mut self, id: MessageId, record: &Record, what: String) {
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

    pub(super) fn send_link(&mut self, kind: Id) {
        let mut record = Record::new(kind);
        if kind == LS || kind == LA || kind == DS || kind == DE {
            record = record
                .with(DA, self.stamp.date())
                .with(TI, self.stamp.time());
        }
        self.send_record(&record);
    }

    pub(super) fn send_record(&mut self, record: &Record) {
        match record.encode(self.settings.encoding) {
            Ok(text) => self.out.push(Command::Send(encode_text(&text))),
            Err(e) => {
                debug_assert!(false, "records are checked before sending: {e}");
                self.out
                    .push(Command::Deliver(FiasEvent::Refused(e.to_string())));
            }
        }
    }

    pub(super) fn finish(&mut self) {
        debug_assert!(
            self.out.len() < MAX_PENDING_COMMANDS,
            "commands not drained"
        );
        debug_assert!(self.buffer.len() <= self.settings.fias_buffer_capacity);
        debug_assert!(self.wanted.len() <= self.settings.fias_max_link_records);
    }
}
