//! One PMS link's driver: the loop between the store (outbox, snapshots, room records) and
//! `innsync-pms`'s link task. It sends one outbox event at a time, in order, and advances the
//! link's durable cursor only after the system acknowledged it; a General Reset's snapshot
//! carries the outbox position it includes, so nothing is skipped and nothing is sent twice as a
//! new event (at most the one unacknowledged message is resent after a restart).

use super::delivery::{Current, Delivery, Settled};
use super::dialect::{self, Incoming, Outgoing, Requests, SnapshotRoom};
use super::link::LinkSettings;
use super::postings::PostingRecord;
use super::registry::{Control, LinkStatus};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use innsync_core::{Command, Record};
use innsync_pms::{Extension, MessageId};
use innsync_store::{LocalWrite, OutboxEvent};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

struct Driver {
    state: AppState,
    name: String,
    settings: LinkSettings,
    status: Arc<Mutex<LinkStatus>>,
    requests: Requests,
    delivered: i64,
    /// Where the link stands in the outbox (sans-I/O, delivery.rs).
    delivery: Delivery,
    retry_after: Option<Instant>,
    next_id: u64,
    next_scheduled_reset: Option<DateTime<Utc>>,
    /// The property's time zone, for scheduled resets and FIAS `DA`/`TI`.
    tz: chrono_tz::Tz,
}

impl Driver {
    fn status(&self, f: impl FnOnce(&mut LinkStatus)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }

    fn note(&self, line: String) {
        tracing::info!(link = %self.name, "{line}");
        self.status(|s| s.note(line));
    }

    fn set_state(&self, st: &str) {
        self.status(|s| s.state = st.to_string());
    }

    fn message_id(&mut self) -> MessageId {
        self.next_id += 1;
        MessageId(self.next_id)
    }

    /// The messages of one outbox event, in the link's dialect; `Err` says why the event can
    /// never be sent.
    fn messages_of(
        &mut self,
        e: &OutboxEvent,
        reservation: Option<u64>,
    ) -> Result<Vec<(MessageId, Outgoing)>, String> {
        let ext = Extension::new(self.settings.extension_of(&e.room))
            .map_err(|err| format!("room {} has no valid extension ({err})", e.room))?;
        let msgs =
            self.requests
                .messages_for(ext, e.occupied, e.guest_name.as_deref(), reservation);
        Ok(msgs.into_iter().map(|m| (self.message_id(), m)).collect())
    }

    async fn advance(&mut self, upto: i64) {
        if upto <= self.delivered {
            return;
        }
        self.delivered = upto;
        self.status(|s| s.outbox_delivered = upto);
        let w = LocalWrite::PmsDelivered {
            name: self.name.clone(),
            upto,
        };
        if let Err(e) = self.state.writer.local(w).await {
            // The cursor is behind on disk: at worst one event is resent after a restart.
            tracing::warn!(link = %self.name, error = %e, "could not store the delivery cursor");
        }
    }

    /// Writes a line to a booking's history (a note owned by this server), naming the link.
    async fn booking_note(&self, booking: &str, text: String) -> bool {
        let Ok(id) = innsync_core::RecordId::parse(booking) else {
            return false;
        };
        let cmd = Command::AddNote { booking: id, text };
        let actor = format!("pms:{}", self.name);
        match crate::write::submit(&self.state, cmd, &actor, None).await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(link = %self.name, error = %e, "could not write to booking {booking}");
                false
            }
        }
    }

    /// A record that can never be sent: counted, shown in the link's status and written to the
    /// booking's history; the link goes on with the next one.
    async fn skipped(&mut self, what: String, why: &str, booking: Option<String>) {
        let line = format!("{what} not sent: {why}; skipped");
        self.status(|s| {
            s.skipped += 1;
            s.skip(line.clone());
        });
        self.note(line);
        if let Some(b) = booking {
            // A note holds at most MAX_NAME_LEN characters: the guest's name comes last.
            let text: String = format!(
                "PMS link {} skipped a record ({why}); update the system by hand: {what}",
                self.name
            )
            .chars()
            .take(innsync_core::limits::MAX_NAME_LEN)
            .collect();
            self.booking_note(&b, text).await;
        }
    }

    /// Sends the next outbox message if the link is idle.
    async fn pump(&mut self) {
        if !self.delivery.idle() {
            return;
        }
        if self.retry_after.is_some_and(|t| Instant::now() < t) {
            return;
        }
        while self.delivery.needs_event() {
            let (property, after) = (self.settings.property.clone(), self.delivered);
            let next = self
                .state
                .read(move |r| {
                    let Some(event) = r.pms_outbox(&property, after, 1)?.pop() else {
                        return Ok(None);
                    };
                    let number = match r.record("booking", &event.booking)? {
                        Some(Record::Booking(b)) => b.reservation_number.map(|n| n.get()),
                        _ => None,
                    };
                    Ok(Some((event, number)))
                })
                .await;
            let (event, number) = match next {
                Ok(Some(x)) => x,
                Ok(None) => return,
                Err(p) => {
                    tracing::warn!(link = %self.name, error = %p.detail, "outbox read failed");
                    return;
                }
            };
            match self.messages_of(&event, number) {
                Ok(msgs) => self.delivery.load(
                    Current {
                        event: event.id,
                        booking: event.booking.clone(),
                    },
                    msgs,
                ),
                Err(why) => {
                    let what = format!(
                        "{} room {}",
                        if event.occupied {
                            "check-in"
                        } else {
                            "check-out"
                        },
                        event.room
                    );
                    self.skipped(what, &why, Some(event.booking.clone())).await;
                    self.advance(event.id).await;
                }
            }
        }
        if let Some((id, msg)) = self.delivery.next() {
            if self.requests.send(id, msg) {
                self.delivery.sent(id);
            }
        }
    }

    /// Every room of the property with its guest, and the outbox position the state includes.
    async fn snapshot(&self) -> Option<(Vec<SnapshotRoom>, i64)> {
        let property = self.settings.property.clone();
        let got = self
            .state
            .read(move |r| {
                let rooms = r.rooms(&property)?;
                let (in_house, upto) = r.in_house(&property)?;
                let mut guests = Vec::with_capacity(in_house.len());
                for (room, name, booking) in in_house {
                    let number = match r.record("booking", &booking)? {
                        Some(Record::Booking(b)) => b.reservation_number.map(|n| n.get()),
                        _ => None,
                    };
                    guests.push((room, name, number));
                }
                Ok((rooms, guests, upto))
            })
            .await;
        let (rooms, in_house, upto) = match got {
            Ok(x) => x,
            Err(p) => {
                self.note(format!("snapshot failed: {}", p.detail));
                return None;
            }
        };
        let mut out = Vec::with_capacity(rooms.len());
        for room in rooms {
            let Ok(extension) = Extension::new(self.settings.extension_of(&room.number)) else {
                self.note(format!(
                    "room {} has no valid extension; left out of the General Reset",
                    room.number
                ));
                continue;
            };
            let guest = in_house
                .iter()
                .find(|(r, _, _)| *r == room.number)
                .map(|(_, g, n)| (g.clone(), *n));
            out.push((extension, guest));
        }
        Some((out, upto))
    }

    async fn general_reset(&mut self, why: &str) {
        let Some((rooms, upto)) = self.snapshot().await else {
            return;
        };
        let n = rooms.len();
        if self.requests.reset(rooms) {
            self.delivery.reset_requested(upto);
            self.note(format!("General Reset requested ({why}): {n} rooms"));
        } else {
            self.note(format!(
                "General Reset ({why}) not started: the link task is busy; ask again"
            ));
        }
    }

    /// A posting from the system (FIAS `PS`): charged to the folio of the guest in house in the
    /// room (or holding the reservation number `G#`) through the writer, then answered — `OK`
    /// once it is durably on the folio (or was already: the posting's `P#` makes it
    /// idempotent), `NG` when no guest is in house there, `UR` without a usable amount, `NP`
    /// when the charge is refused. Shown in the link's status either way.
    async fn posting(&mut self, p: innsync_pms::Posting) {
        let now = (self.state.clock)().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut rec = PostingRecord::new(now.clone(), &p);
        let booking = self.in_house(&rec).await;
        rec.booking = booking.clone();
        let (status, text) = self.charge_posting(&rec, booking.as_deref(), &now).await;
        rec.answer = status.to_string();
        let answered = self.requests.answer_posting(p, status, text.clone());
        self.posted(rec, status == innsync_pms::POSTING_OK, &text, answered);
    }

    /// A Mitel-style charge record (`CHG`): charged like a FIAS posting to the folio of the
    /// guest in house in the room (its sequence number makes a resend harmless), then answered
    /// `ACK` once it is durably on the folio (or already was), `NAK` when no guest is in house
    /// there or the charge is refused. Shown in the link's status either way.
    async fn charge_record(&mut self, c: innsync_pms::ChargeRecord) {
        let now = (self.state.clock)().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut rec = PostingRecord::of_charge(now.clone(), &c);
        let booking = self.in_house(&rec).await;
        rec.booking = booking.clone();
        let (status, text) = self.charge_posting(&rec, booking.as_deref(), &now).await;
        let posted = status == innsync_pms::POSTING_OK;
        rec.answer = format!("{} ({status})", if posted { "ACK" } else { "NAK" });
        let answered = self.requests.answer_charge(c.sequence, posted);
        self.posted(rec, posted, &text, answered);
    }

    /// Shows a posting's outcome in the link's status and the log.
    fn posted(&mut self, rec: PostingRecord, ok: bool, text: &str, answered: bool) {
        let line = format!(
            "{} answered {}{}{}",
            rec.words(),
            rec.answer,
            if text.is_empty() {
                String::new()
            } else {
                format!(" ({text})")
            },
            if answered {
                ""
            } else {
                "; the answer could not be handed to the link (the system resends)"
            }
        );
        if ok {
            tracing::info!(link = %self.name, posting = %rec.record, "{line}");
        } else {
            tracing::warn!(link = %self.name, posting = %rec.record, "{line}");
        }
        self.status(|s| {
            s.postings += 1;
            s.posting(rec);
        });
        self.note(line);
    }

    /// The booking in house in the posting's room (or holding its reservation number `G#`).
    async fn in_house(&self, rec: &PostingRecord) -> Option<String> {
        let (property, room, number) = (
            self.settings.property.clone(),
            rec.room.clone().map(|ext| self.settings.room_of(&ext)),
            rec.reservation_number,
        );
        self.state
            .read(move |r| {
                if let Some(n) = number {
                    let filter = innsync_store::BookingFilter {
                        property: Some(property.clone()),
                        reservation_number: Some(n),
                        limit: 1,
                        ..Default::default()
                    };
                    if let Some(b) = r.bookings(&filter)?.pop() {
                        if b.status == innsync_core::BookingStatus::CheckedIn {
                            return Ok(Some(b.meta.id.to_string()));
                        }
                    }
                }
                let Some(room) = room else { return Ok(None) };
                let (in_house, _) = r.in_house(&property)?;
                Ok(in_house
                    .into_iter()
                    .find(|(r, _, _)| *r == room)
                    .map(|(_, _, b)| b))
            })
            .await
            .ok()
            .flatten()
    }

    /// Charges a posting to `booking`'s folio: the answer status and its clear text.
    async fn charge_posting(
        &self,
        rec: &PostingRecord,
        booking: Option<&str>,
        received_at: &str,
    ) -> (&'static str, String) {
        let Some(amount) = rec.amount_minor.filter(|a| *a > 0) else {
            return (innsync_pms::UNPROCESSABLE, "no positive amount (TA)".into());
        };
        let Some(id) = booking.and_then(|b| innsync_core::RecordId::parse(b).ok()) else {
            return (
                innsync_pms::GUEST_NOT_FOUND,
                format!(
                    "no guest in house in room {}",
                    rec.room.as_deref().unwrap_or("-")
                ),
            );
        };
        let kind = rec.kind.clone().unwrap_or_default();
        let property = self.settings.property.clone();
        let item = super::postings::item_for(&kind);
        let catalogued = match item {
            Some(code) => self
                .state
                .read(move |r| r.record("charge_catalog", &property))
                .await
                .ok()
                .flatten()
                .and_then(|c| match c {
                    innsync_core::Record::ChargeCatalog(c) => {
                        c.item(code).map(|_| code.to_string())
                    }
                    _ => None,
                }),
            None => None,
        };
        let posting = match &rec.sequence {
            Some(seq) => format!("{}:{seq}", self.name),
            None => format!("{}:{received_at}", self.name),
        };
        let cmd = Command::PostPmsCharge {
            charge: Box::new(innsync_core::ledger::decide_input::ChargeInput {
                booking: id,
                folio: None,
                item: catalogued,
                description: Some(rec.description()),
                amount: Some(amount),
                quantity: 1,
                currency: None,
                source: innsync_core::ledger::EntrySource::Pms,
            }),
            posting,
        };
        let actor = format!("pms:{}", self.name);
        match crate::write::submit(&self.state, cmd, &actor, None).await {
            Ok(_) => (innsync_pms::POSTING_OK, String::new()),
            Err(innsync_store::StoreError::Refused(innsync_core::DomainError::AlreadyExists(
                _,
            ))) => (innsync_pms::POSTING_OK, "already posted".into()),
            // The core's own check: the booking is no longer in house (checked out meanwhile).
            Err(innsync_store::StoreError::Refused(
                e @ innsync_core::DomainError::InvalidTransition(_),
            )) => (innsync_pms::GUEST_NOT_FOUND, e.to_string()),
            Err(e) => (innsync_pms::POSTING_DENIED, e.to_string()),
        }
    }

    async fn apply_report(
        &mut self,
        ext: String,
        housekeeping: Option<&'static str>,
        message_waiting: Option<bool>,
    ) {
        let room = self.settings.room_of(&ext);
        let cmd = Command::SetRoomStatus {
            property: self.settings.property.clone(),
            number: room.clone(),
            housekeeping: housekeeping.map(str::to_string),
            message_waiting,
        };
        let actor = format!("pms:{}", self.name);
        let what = format!(
            "room {room}: housekeeping {} message waiting {:?}",
            housekeeping.unwrap_or("-"),
            message_waiting
        );
        match crate::write::submit(&self.state, cmd, &actor, None).await {
            Ok(_) => {
                self.status(|s| s.received += 1);
                self.note(format!("{what} applied"));
            }
            Err(e) => self.note(format!("{what} not applied: {e}")),
        }
    }

    async fn on_event(&mut self, e: Incoming) {
        match e {
            Incoming::Up => {
                self.delivery.link_up();
                self.set_state("up");
                self.note("link up".into());
            }
            Incoming::Down(why) => {
                self.delivery.link_down();
                self.set_state("down");
                self.note(format!("link down ({why})"));
            }
            Incoming::Delivered(id) => {
                let what = self.delivery.in_flight().map(ToString::to_string);
                match self.delivery.done(id) {
                    Settled::Stale => {}
                    settled => {
                        self.retry_after = None;
                        self.status(|s| s.delivered += 1);
                        if let Some(w) = what {
                            self.note(format!("sent {w}"));
                        }
                        if let Settled::Advance(ev) = settled {
                            self.advance(ev).await;
                        }
                    }
                }
            }
            Incoming::Skipped(id, why) => {
                let what = self
                    .delivery
                    .in_flight()
                    .map_or_else(|| format!("message {}", id.0), ToString::to_string);
                let booking = self.delivery.current().map(|c| c.booking.clone());
                match self.delivery.done(id) {
                    Settled::Stale => {}
                    settled => {
                        self.skipped(what, &why, booking).await;
                        if let Settled::Advance(ev) = settled {
                            self.advance(ev).await;
                        }
                    }
                }
            }
            Incoming::Failed(id, why) => {
                let what = self.delivery.in_flight().map(ToString::to_string);
                if self.delivery.failed(id) {
                    self.retry_after = Some(Instant::now() + self.state.settings.pms_retry_delay);
                    self.status(|s| s.failed += 1);
                    self.note(format!(
                        "{} failed ({why}); will retry",
                        what.unwrap_or_else(|| "message".into())
                    ));
                }
            }
            Incoming::Posting(p) => self.posting(p).await,
            Incoming::Charge(c) => self.charge_record(c).await,
            Incoming::Report {
                extension,
                housekeeping,
                message_waiting,
            } => {
                self.apply_report(extension, housekeeping, message_waiting)
                    .await
            }
            Incoming::ResetWanted(reason) => self.general_reset(&reason).await,
            Incoming::ResetStarted => self.set_state("resetting"),
            Incoming::ResetCompleted => self.reset_completed().await,
            Incoming::ResetSkipped(rooms) => {
                for r in &rooms {
                    let line = format!("{r}; left out of the resync");
                    self.status(|s| {
                        s.skipped += 1;
                        s.skip(line.clone());
                    });
                    self.note(line);
                }
                self.reset_completed().await;
            }
            Incoming::ResetEnded(why) => {
                self.delivery.reset_ended();
                self.set_state(if self.delivery.is_up() { "up" } else { "down" });
                self.note(format!("General Reset ended without completing: {why}"));
            }
            Incoming::Note(line) => self.note(line),
        }
    }

    async fn reset_completed(&mut self) {
        let upto = self.delivery.reset_completed(self.delivered);
        self.advance(upto).await;
        let now = (self.state.clock)().to_rfc3339();
        self.status(|s| {
            s.resets += 1;
            s.last_reset_at = Some(now);
            s.state = "up".into();
        });
        self.note("General Reset completed".into());
    }

    fn schedule_next(&mut self) {
        self.next_scheduled_reset = None;
        let Some(at) = &self.settings.reset_at else {
            return;
        };
        let Ok(time) = chrono::NaiveTime::parse_from_str(at, "%H:%M") else {
            return;
        };
        let tz = self.tz;
        let now = (self.state.clock)().with_timezone(&tz);
        for days in 0..3 {
            let date = now.date_naive() + chrono::Days::new(days);
            if let Some(t) = date.and_time(time).and_local_timezone(tz).earliest() {
                if t > now {
                    self.next_scheduled_reset = Some(t.with_timezone(&Utc));
                    return;
                }
            }
        }
    }
}

/// Runs one link until told to stop.
pub(super) async fn drive(
    state: AppState,
    name: String,
    settings: LinkSettings,
    delivered: i64,
    status: Arc<Mutex<LinkStatus>>,
    mut control: mpsc::Receiver<Control>,
    wake: Arc<Notify>,
) {
    let Ok(addr) = settings.address.parse() else {
        return;
    };
    let property = settings.property.clone();
    let tz: chrono_tz::Tz = state
        .read(move |r| r.property(&property))
        .await
        .ok()
        .flatten()
        .and_then(|p| p.timezone.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    let (requests, mut events, link) = dialect::start(&settings, addr, tz);
    let mut d = Driver {
        state: state.clone(),
        name,
        settings,
        status,
        requests,
        delivered,
        delivery: Delivery::default(),
        retry_after: None,
        next_id: 0,
        next_scheduled_reset: None,
        tz,
    };
    d.set_state("down");
    d.schedule_next();
    let mut poll = tokio::time::interval(state.settings.pms_outbox_poll);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        d.pump().await;
        tokio::select! {
            ev = events.recv() => match ev {
                Some(e) => d.on_event(e).await,
                None => {
                    d.note("link task ended".into());
                    break;
                }
            },
            c = control.recv() => match c {
                Some(Control::Reset) => d.general_reset("operator").await,
                Some(Control::Stop) | None => break,
            },
            _ = wake.notified() => {}
            _ = poll.tick() => {
                if d.next_scheduled_reset.is_some_and(|t| (d.state.clock)() >= t) {
                    d.general_reset("schedule").await;
                    d.schedule_next();
                }
            }
        }
    }
    d.set_state("stopped");
    link.abort();
}
