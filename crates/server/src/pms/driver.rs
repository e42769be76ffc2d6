//! One PMS link's driver: the loop between the store (outbox, snapshots, room records) and
//! `innsync-pms`'s link task. It sends one outbox event at a time, in order, and advances the
//! link's durable cursor only after the system acknowledged it; a General Reset's snapshot
//! carries the outbox position it includes, so nothing is skipped and nothing is sent twice as a
//! new event (at most the one unacknowledged message is resent after a restart).

use super::dialect::{self, Incoming, Outgoing, Requests};
use super::link::LinkSettings;
use super::registry::{Control, LinkStatus};
use crate::state::AppState;
use chrono::{DateTime, Utc};
use innsync_core::Command;
use innsync_pms::{Extension, MessageId};
use innsync_store::{LocalWrite, OutboxEvent};
use std::collections::VecDeque;
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
    up: bool,
    /// The outbox position a running General Reset's snapshot includes.
    resetting: Option<i64>,
    /// Messages of the outbox event being delivered, with its id.
    pending: VecDeque<(MessageId, Outgoing)>,
    pending_event: Option<i64>,
    in_flight: Option<MessageId>,
    retry_after: Option<Instant>,
    next_id: u64,
    next_scheduled_reset: Option<DateTime<Utc>>,
    /// The property's time zone, for scheduled resets.
    tz_name: String,
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

    /// The messages of one outbox event, in the link's dialect.
    fn messages_of(&mut self, e: &OutboxEvent) -> Option<Vec<(MessageId, Outgoing)>> {
        let ext = match Extension::new(self.settings.extension_of(&e.room)) {
            Ok(x) => x,
            Err(err) => {
                self.note(format!(
                    "room {} has no valid extension ({err}); event {} skipped",
                    e.room, e.id
                ));
                return None;
            }
        };
        let msgs = self
            .requests
            .messages_for(ext, e.occupied, e.guest_name.as_deref(), &e.booking);
        Some(msgs.into_iter().map(|m| (self.message_id(), m)).collect())
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

    /// Sends the next outbox message if the link is idle.
    async fn pump(&mut self) {
        if !self.up || self.resetting.is_some() || self.in_flight.is_some() {
            return;
        }
        if self.retry_after.is_some_and(|t| Instant::now() < t) {
            return;
        }
        while self.pending.is_empty() {
            let (property, after) = (self.settings.property.clone(), self.delivered);
            let next = match self
                .state
                .read(move |r| r.pms_outbox(&property, after, 1))
                .await
            {
                Ok(mut v) => v.pop(),
                Err(p) => {
                    tracing::warn!(link = %self.name, error = %p.detail, "outbox read failed");
                    return;
                }
            };
            let Some(event) = next else { return };
            match self.messages_of(&event) {
                Some(msgs) => {
                    self.pending.extend(msgs);
                    self.pending_event = Some(event.id);
                }
                None => self.advance(event.id).await,
            }
        }
        if let Some((id, msg)) = self.pending.front().cloned() {
            if self.requests.send(id, msg) {
                self.in_flight = Some(id);
            }
        }
    }

    /// Every room of the property with its guest, and the outbox position the state includes.
    async fn snapshot(&self) -> Option<(Vec<(Extension, Option<(String, String)>)>, i64)> {
        let property = self.settings.property.clone();
        let got = self
            .state
            .read(move |r| Ok((r.rooms(&property)?, r.in_house(&property)?)))
            .await;
        let (rooms, (in_house, upto)) = match got {
            Ok(x) => x,
            Err(p) => {
                self.note(format!("snapshot failed: {}", p.detail));
                return None;
            }
        };
        let mut out = Vec::with_capacity(rooms.len());
        for room in rooms {
            let Ok(extension) = Extension::new(self.settings.extension_of(&room.number)) else {
                continue;
            };
            let guest = in_house
                .iter()
                .find(|(r, _, _)| *r == room.number)
                .map(|(_, g, b)| (g.clone(), b.clone()));
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
            self.resetting = Some(upto);
            self.note(format!("General Reset requested ({why}): {n} rooms"));
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
        match self.state.writer.submit(cmd, &actor, None).await {
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
                self.up = true;
                self.set_state("up");
                self.note("link up".into());
            }
            Incoming::Down(why) => {
                self.up = false;
                self.in_flight = None;
                self.resetting = None;
                self.set_state("down");
                self.note(format!("link down ({why})"));
            }
            Incoming::Delivered(id) if Some(id) == self.in_flight => {
                self.in_flight = None;
                self.retry_after = None;
                self.pending.pop_front();
                self.status(|s| s.delivered += 1);
                if self.pending.is_empty() {
                    if let Some(ev) = self.pending_event.take() {
                        self.advance(ev).await;
                    }
                }
            }
            Incoming::Failed(id, why) if Some(id) == self.in_flight => {
                self.in_flight = None;
                self.retry_after = Some(Instant::now() + self.state.settings.pms_retry_delay);
                self.status(|s| s.failed += 1);
                self.note(format!("message failed ({why}); will retry"));
            }
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
            Incoming::ResetCompleted => {
                let upto = self.resetting.take().unwrap_or(self.delivered);
                // The snapshot includes every event up to `upto`: drop what it covered.
                if self.pending_event.is_some_and(|e| e <= upto) {
                    self.pending.clear();
                    self.pending_event = None;
                    self.in_flight = None;
                }
                self.advance(upto).await;
                let now = Utc::now().to_rfc3339();
                self.status(|s| {
                    s.resets += 1;
                    s.last_reset_at = Some(now);
                    s.state = "up".into();
                });
                self.note("General Reset completed".into());
            }
            Incoming::ResetEnded(why) => {
                self.resetting = None;
                self.set_state(if self.up { "up" } else { "down" });
                self.note(format!("General Reset ended without completing: {why}"));
            }
            Incoming::Note(line) => self.note(line),
            Incoming::Delivered(_) | Incoming::Failed(..) => {}
        }
    }

    fn schedule_next(&mut self) {
        self.next_scheduled_reset = None;
        let Some(at) = &self.settings.reset_at else {
            return;
        };
        let Ok(time) = chrono::NaiveTime::parse_from_str(at, "%H:%M") else {
            return;
        };
        let tz = self.property_tz();
        let now = Utc::now().with_timezone(&tz);
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

    fn property_tz(&self) -> chrono_tz::Tz {
        self.tz_name.parse().unwrap_or(chrono_tz::UTC)
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
    let (requests, mut events, link) = dialect::start(&settings, addr);
    let property = settings.property.clone();
    let tz_name = state
        .read(move |r| r.property(&property))
        .await
        .ok()
        .flatten()
        .map(|p| p.timezone)
        .unwrap_or_else(|| "UTC".into());
    let mut d = Driver {
        state: state.clone(),
        name,
        settings,
        status,
        requests,
        delivered,
        up: false,
        resetting: None,
        pending: VecDeque::new(),
        pending_event: None,
        in_flight: None,
        retry_after: None,
        next_id: 0,
        next_scheduled_reset: None,
        tz_name,
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
                if d.next_scheduled_reset.is_some_and(|t| Utc::now() >= t) {
                    d.general_reset("schedule").await;
                    d.schedule_next();
                }
            }
        }
    }
    d.set_state("stopped");
    link.abort();
}
