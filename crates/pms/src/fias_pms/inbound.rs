//! What the engine does with records from the other side: link records (`LD`, `LR`, `LA`),
//! resync requests (`DR`) and postings (`PS`), each answered at once.

use super::{FiasEvent, FiasPmsLink, Posting, State, MAX_ANSWER_TEXT};

use crate::command::Command;
use crate::fias::{ids::*, Id, Record};
use crate::room::Extension;

impl FiasPmsLink {
    pub(super) fn on_text(&mut self, text: &[u8]) {
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
    pub(super) fn on_posting(&mut self, record: Record) {
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

    pub(super) fn on_link_record(&mut self, record: &Record) {
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
}
