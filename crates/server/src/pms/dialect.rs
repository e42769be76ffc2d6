//! The two dialects behind one driver: what each sends for an occupancy change and a General
//! Reset, and how each one's events read in the driver's terms.

use super::link::{Dialect, LinkSettings, Role};
use innsync_core::pms::housekeeping_of_code;
use innsync_pms::net::{
    run_fias_pms_link, run_pms_link, FiasLinkConfig, FiasLinkEvent, FiasListen, FiasRequest,
    LinkRole, PmsLinkConfig, PmsLinkEvent, PmsRequest,
};
use innsync_pms::{
    ChargeRecord, Extension, FiasEvent, FiasGuest, FiasMessage, GuestName, Message, MessageId,
    PmsEvent, Posting, ResetReason, ResyncRoom, RoomOccupancy,
};
use std::net::SocketAddr;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Most requests waiting for the link task.
const REQUEST_QUEUE: usize = 16;
/// Most events waiting for the driver.
const EVENT_QUEUE: usize = 256;
/// Longest guest name sent to the system.
const NAME_LEN: usize = 20;

/// One room of a General Reset snapshot: its extension and, when occupied, the guest's name
/// and reservation number.
pub type SnapshotRoom = (Extension, Option<(String, Option<u64>)>);

/// One message to the system, in its dialect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outgoing {
    /// Mitel-style.
    Mitel(Message),
    /// FIAS.
    Fias(FiasMessage),
}

impl std::fmt::Display for Outgoing {
    /// The message in words for operators (`GI room 101, reservation 5730000012, Ada Lovelace`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outgoing::Fias(m) => write!(f, "{m}"),
            Outgoing::Mitel(m) => f.write_str(&mitel_words(m)),
        }
    }
}

/// A Mitel-style message in words (`CHK1 room 101`, `NAM room 101 Ada Lovelace`).
fn mitel_words(m: &Message) -> String {
    match m {
        Message::CheckIn(e) => format!("CHK1 room {e}"),
        Message::CheckOut(e) => format!("CHK0 room {e}"),
        Message::Name { extension, name } => format!("NAM room {extension} {name}"),
        Message::MessageWaiting { on, extension } => {
            format!("MW room {extension} {}", if *on { "on" } else { "off" })
        }
        Message::MaidStatus { status, extension } => {
            format!("STS room {extension} status {}", status.code())
        }
        Message::GeneralReset => "GRS".into(),
        Message::End => "END".into(),
        Message::Cancel => "CNL".into(),
        Message::RequestInit => "RTI".into(),
        Message::AreYouThere => "AYT".into(),
        Message::Charge(c) => format!(
            "CHG room {} sequence {} kind {} amount {}",
            c.extension, c.sequence, c.kind, c.amount
        ),
    }
}

fn reason_words(r: ResetReason) -> &'static str {
    match r {
        ResetReason::LinkStart => "link start",
        ResetReason::Interrupted => "the last one was Interrupted",
        ResetReason::RequestedBySystem => "RTI from the system",
        ResetReason::Requested => "asked for while the link was down",
    }
}

/// What the driver hears from the link, in either dialect.
#[derive(Debug)]
pub enum Incoming {
    /// Messages may flow.
    Up,
    /// The link is down (why).
    Down(String),
    /// The system has the message.
    Delivered(MessageId),
    /// The message was given up for now (sent again later).
    Failed(MessageId, String),
    /// The message can never be sent: skipped, the link goes on (why).
    Skipped(MessageId, String),
    /// A posting from the system, already answered.
    Posting(Posting),
    /// A Mitel-style charge record, to decide and answer (`Requests::answer_charge`).
    Charge(ChargeRecord),
    /// Housekeeping or message-waiting for a room.
    Report {
        /// The room's extension.
        extension: String,
        /// New housekeeping state.
        housekeeping: Option<&'static str>,
        /// New lamp state.
        message_waiting: Option<bool>,
    },
    /// The engine wants a General Reset (why).
    ResetWanted(String),
    /// A reset began.
    ResetStarted,
    /// The system holds the whole snapshot.
    ResetCompleted,
    /// The reset ended without completing, or was refused (why).
    ResetEnded(String),
    /// A resync was written but left these rooms out (in words, with the reason).
    ResetSkipped(Vec<String>),
    /// Worth showing to an operator.
    Note(String),
}

/// The request side of a running link.
pub enum Requests {
    /// Mitel-style link.
    Mitel(mpsc::Sender<PmsRequest>),
    /// FIAS link.
    Fias(mpsc::Sender<FiasRequest>),
}

impl Requests {
    /// The messages that tell the system about one occupancy change.
    pub fn messages_for(
        &self,
        ext: Extension,
        occupied: bool,
        name: Option<&str>,
        reservation: Option<u64>,
    ) -> Vec<Outgoing> {
        match self {
            Self::Mitel(_) => {
                let mut v = vec![Outgoing::Mitel(if occupied {
                    Message::CheckIn(ext.clone())
                } else {
                    Message::CheckOut(ext.clone())
                })];
                if let (true, Some(n)) = (occupied, name) {
                    v.push(Outgoing::Mitel(Message::Name {
                        extension: ext,
                        name: GuestName::lossy(n, NAME_LEN),
                    }));
                }
                v
            }
            Self::Fias(_) => {
                let guest = FiasGuest {
                    room: ext,
                    reservation,
                    name: name.map(str::to_string),
                    share: None,
                };
                vec![Outgoing::Fias(if occupied {
                    FiasMessage::CheckIn(guest)
                } else {
                    FiasMessage::CheckOut(guest)
                })]
            }
        }
    }

    /// Sends one message; false when the link task cannot take it now.
    pub fn send(&self, id: MessageId, m: Outgoing) -> bool {
        match (self, m) {
            (Self::Mitel(tx), Outgoing::Mitel(message)) => {
                tx.try_send(PmsRequest::Send { id, message }).is_ok()
            }
            (Self::Fias(tx), Outgoing::Fias(message)) => {
                tx.try_send(FiasRequest::Send { id, message }).is_ok()
            }
            _ => false,
        }
    }

    /// Answers a FIAS posting (`PA`) with `status`; false when the link task cannot take it
    /// now (the system resends an unanswered posting) or the link is not FIAS.
    pub fn answer_posting(&self, posting: Posting, status: &'static str, text: String) -> bool {
        match self {
            Self::Fias(tx) => tx
                .try_send(FiasRequest::AnswerPosting {
                    posting: Box::new(posting),
                    status,
                    text,
                })
                .is_ok(),
            Self::Mitel(_) => false,
        }
    }

    /// Answers a Mitel-style charge record: `ACK` when `posted`, else `NAK`; false when the
    /// link task cannot take it now (the engine then answers busy and the system resends) or
    /// the link is not Mitel-style.
    pub fn answer_charge(&self, sequence: String, posted: bool) -> bool {
        match self {
            Self::Mitel(tx) => tx
                .try_send(PmsRequest::AnswerCharge { sequence, posted })
                .is_ok(),
            Self::Fias(_) => false,
        }
    }

    /// Starts a General Reset (Mitel) or resync (FIAS) with every room.
    /// Each room comes with its guest's name and reservation number when occupied.
    pub fn reset(&self, rooms: Vec<SnapshotRoom>) -> bool {
        match self {
            Self::Mitel(tx) => {
                let rooms = rooms
                    .into_iter()
                    .map(|(extension, guest)| RoomOccupancy {
                        extension,
                        occupied: guest.is_some(),
                        name: guest.map(|(g, _)| GuestName::lossy(&g, NAME_LEN)),
                    })
                    .collect();
                tx.try_send(PmsRequest::GeneralReset { rooms }).is_ok()
            }
            Self::Fias(tx) => {
                let rooms = rooms
                    .into_iter()
                    .map(|(room, guest)| match guest {
                        Some((name, reservation)) => ResyncRoom::Occupied(FiasGuest {
                            room,
                            reservation,
                            name: Some(name),
                            share: None,
                        }),
                        None => ResyncRoom::Vacant(room),
                    })
                    .collect();
                tx.try_send(FiasRequest::Resync { rooms }).is_ok()
            }
        }
    }
}

fn from_mitel(e: PmsLinkEvent) -> Incoming {
    match e {
        PmsLinkEvent::Pms(e) => match e {
            PmsEvent::LinkUp => Incoming::Up,
            PmsEvent::LinkDown => Incoming::Down("transport".into()),
            PmsEvent::Delivered(id) => Incoming::Delivered(id),
            PmsEvent::Failed(id, why) => Incoming::Failed(id, why.to_string()),
            PmsEvent::Received(Message::MaidStatus { status, extension }) => {
                match housekeeping_of_code(status.code()) {
                    Some(h) => Incoming::Report {
                        extension: extension.as_str().to_string(),
                        housekeeping: Some(h),
                        message_waiting: None,
                    },
                    None => Incoming::Note(format!(
                        "maid status {} for {extension} has no meaning here; ignored",
                        status.code()
                    )),
                }
            }
            PmsEvent::Received(Message::MessageWaiting { on, extension }) => Incoming::Report {
                extension: extension.as_str().to_string(),
                housekeeping: None,
                message_waiting: Some(on),
            },
            PmsEvent::Received(other) => Incoming::Note(format!(
                "unexpected from the system: {}",
                mitel_words(&other)
            )),
            PmsEvent::ResetWanted(reason) => Incoming::ResetWanted(reason_words(reason).into()),
            PmsEvent::ResetStarted { .. } => Incoming::ResetStarted,
            PmsEvent::ResetCompleted { .. } => Incoming::ResetCompleted,
            PmsEvent::ResetFailed(why) => Incoming::ResetEnded(format!("failed: {why}")),
            PmsEvent::ResetInterrupted => Incoming::ResetEnded("Interrupted by a link drop".into()),
            PmsEvent::ResetCancelled => Incoming::ResetEnded("cancelled".into()),
            PmsEvent::Refused(text) => Incoming::Note(format!("the system refused: {text}")),
            PmsEvent::CancelFailed(why) => {
                Incoming::Note(format!("cancelling the General Reset failed: {why}"))
            }
            PmsEvent::KeepAliveFailed => {
                Incoming::Note("the system stopped answering keep-alives".into())
            }
            PmsEvent::Charge(c) => Incoming::Charge(c),
            PmsEvent::ChargeNotAnswered(seq) => Incoming::Note(format!(
                "charge record {seq} was not decided in time; answered NAK (busy), the system \
                 resends it"
            )),
        },
        // Taken again later (e.g. busy): the message stays first in line.
        PmsLinkEvent::Refused {
            id: Some(id),
            reason,
        } => Incoming::Failed(id, reason),
        // Only a General Reset request is refused without a message id.
        PmsLinkEvent::Refused { id: None, reason } => {
            Incoming::ResetEnded(format!("refused: {reason}"))
        }
        PmsLinkEvent::Skipped { id, reason } => Incoming::Skipped(id, reason),
        PmsLinkEvent::Connected(peer) => Incoming::Note(format!("connected to {peer}")),
        PmsLinkEvent::Listening(addr) => Incoming::Note(format!("listening on {addr}")),
    }
}

/// FIAS room status `RS` 1–6 (dirty/clean/inspected × vacant/occupied) as housekeeping.
fn fias_housekeeping(rs: u8) -> Option<&'static str> {
    match rs {
        1 | 2 => Some("dirty"),
        3 | 4 => Some("clean"),
        5 | 6 => Some("inspected"),
        _ => None,
    }
}

fn from_fias(e: FiasLinkEvent) -> Incoming {
    match e {
        FiasLinkEvent::Fias(e) => match e {
            FiasEvent::LinkAlive => Incoming::Up,
            FiasEvent::LinkDown => Incoming::Down("transport".into()),
            FiasEvent::LinkEnded => Incoming::Down("LE from the system".into()),
            FiasEvent::Delivered(id) | FiasEvent::NotWanted(id) => Incoming::Delivered(id),
            FiasEvent::Skipped { id, reason, .. } => Incoming::Skipped(id, reason.to_string()),
            FiasEvent::Posting(p) => Incoming::Posting(p),
            FiasEvent::ResyncWanted => Incoming::ResetWanted("DR from the system".into()),
            FiasEvent::ResyncSent { skipped, .. } if !skipped.is_empty() => {
                Incoming::ResetSkipped(skipped)
            }
            FiasEvent::ResyncSent { .. } => Incoming::ResetCompleted,
            FiasEvent::RoomStatus { room, status } => match fias_housekeeping(status) {
                Some(h) => Incoming::Report {
                    extension: room.as_str().to_string(),
                    housekeeping: Some(h),
                    message_waiting: None,
                },
                None => Incoming::Note(format!("RE for {room} with RS {status}; ignored")),
            },
            FiasEvent::Received(rec) => Incoming::Note(format!("record from the system: {rec}")),
            FiasEvent::Refused(why) => Incoming::Note(format!("record refused: {why}")),
        },
        // The buffer is full while the link is down: sent again later, in order.
        FiasLinkEvent::Refused {
            id: Some(id),
            reason,
        } => Incoming::Failed(id, reason),
        // Only a resync request is refused without a record id.
        FiasLinkEvent::Refused { id: None, reason } => {
            Incoming::ResetEnded(format!("refused: {reason}"))
        }
        FiasLinkEvent::Connected(peer) => Incoming::Note(format!("connected to {peer}")),
        FiasLinkEvent::Listening(addr) => Incoming::Note(format!("listening on {addr}")),
    }
}

/// Starts the link task for `settings` and a task that translates its events.
pub fn start(
    settings: &LinkSettings,
    addr: SocketAddr,
    timezone: chrono_tz::Tz,
) -> (Requests, mpsc::Receiver<Incoming>, JoinHandle<()>) {
    let (out_tx, out_rx) = mpsc::channel(EVENT_QUEUE);
    let handle = match settings.dialect {
        Dialect::Mitel => {
            let role = match settings.role {
                Role::Connect => LinkRole::Connect(addr),
                Role::Listen => LinkRole::Listen(addr),
            };
            let mut config = PmsLinkConfig::new(role);
            config.settings.reset_on_link_start = settings.reset_on_connect;
            let (req_tx, req_rx) = mpsc::channel(REQUEST_QUEUE);
            let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE);
            let link = tokio::spawn(run_pms_link(config, req_rx, ev_tx));
            let pump = tokio::spawn(translate(ev_rx, out_tx, from_mitel));
            (Requests::Mitel(req_tx), joined(link, pump))
        }
        Dialect::Fias => {
            let config = FiasLinkConfig {
                listen: FiasListen::Addr(addr),
                settings: innsync_pms::Settings {
                    encoding: settings.encoding.text_encoding(),
                    fias_max_record_len: settings.max_record_len,
                    ..innsync_pms::Settings::default()
                },
                timezone,
            };
            let (req_tx, req_rx) = mpsc::channel(REQUEST_QUEUE);
            let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE);
            let link = tokio::spawn(run_fias_pms_link(config, req_rx, ev_tx));
            let pump = tokio::spawn(translate(ev_rx, out_tx, from_fias));
            (Requests::Fias(req_tx), joined(link, pump))
        }
    };
    (handle.0, out_rx, handle.1)
}

async fn translate<E>(
    mut rx: mpsc::Receiver<E>,
    tx: mpsc::Sender<Incoming>,
    map: fn(E) -> Incoming,
) {
    while let Some(e) = rx.recv().await {
        if tx.send(map(e)).await.is_err() {
            return;
        }
    }
}

/// One handle that ends both tasks when aborted.
fn joined<E: Send + 'static>(
    link: JoinHandle<Result<(), E>>,
    pump: JoinHandle<()>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let guard = AbortOnDrop(pump);
        let _ = link.await;
        drop(guard);
    })
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
