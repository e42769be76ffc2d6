//! `run_fias_pms_link`: drives a [`FiasPmsLink`] as the listening TCP server FIAS expects of the
//! PMS (one client per port; a new connection replaces the current one), exchanging requests and
//! events with the application through bounded channels.

use std::net::SocketAddr;

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{read_some, Clock, READ_CHUNK};
use crate::command::Command;
use crate::fias::Stamp;
use crate::fias_pms::{FiasEvent, FiasMessage, FiasPmsLink, Posting, ResyncRoom};
use crate::pms_side::MessageId;
use crate::settings::Settings;

use super::pms_link::PmsLinkError;

/// Where the FIAS server listens.
#[derive(Debug)]
pub enum FiasListen {
    /// Bind this address.
    Addr(SocketAddr),
    /// Use a listener the caller bound (tests, socket activation).
    Listener(TcpListener),
}

/// Everything `run_fias_pms_link` needs.
#[derive(Debug)]
pub struct FiasLinkConfig {
    /// Where to listen.
    pub listen: FiasListen,
    /// Protocol settings (FIAS buffer, limits).
    pub settings: Settings,
    /// The property's time zone: FIAS `DA`/`TI` are the hotel's local date and time.
    pub timezone: chrono_tz::Tz,
}

/// What the application asks of the FIAS link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FiasRequest {
    /// Send (or buffer) a record.
    Send {
        /// Outbox id.
        id: MessageId,
        /// The record.
        message: FiasMessage,
    },
    /// Answer `DR` with every room.
    Resync {
        /// Every room of the property.
        rooms: Vec<ResyncRoom>,
    },
    /// Answer a posting (`PA`) once it is charged, or refused.
    AnswerPosting {
        /// The posting as received.
        posting: Box<Posting>,
        /// FIAS answer status (`OK`, `NG`, `NP`, `UR`).
        status: &'static str,
        /// Clear text for the other side's operator (may be empty).
        text: String,
    },
}

/// What the FIAS link tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FiasLinkEvent {
    /// An engine event.
    Fias(FiasEvent),
    /// Listening on this address.
    Listening(SocketAddr),
    /// A client connected from this address.
    Connected(SocketAddr),
    /// A request could not be taken.
    Refused {
        /// The record concerned, if any.
        id: Option<MessageId>,
        /// Why.
        reason: String,
    },
}

/// The property's local date and time now (the adapter may read the clock; the engine may not).
fn stamp(tz: chrono_tz::Tz) -> Stamp {
    Stamp::from_local(chrono::Utc::now().with_timezone(&tz).naive_local())
}

/// Runs the FIAS server until `requests` is closed or `events` has no receiver.
pub async fn run_fias_pms_link(
    config: FiasLinkConfig,
    mut requests: mpsc::Receiver<FiasRequest>,
    events: mpsc::Sender<FiasLinkEvent>,
) -> Result<(), PmsLinkError> {
    let clock = Clock::new();
    let offset = config.timezone;
    let mut engine = FiasPmsLink::new(config.settings)?;
    let listener = match config.listen {
        FiasListen::Addr(a) => TcpListener::bind(a).await?,
        FiasListen::Listener(l) => l,
    };
    if events
        .send(FiasLinkEvent::Listening(listener.local_addr()?))
        .await
        .is_err()
    {
        return Ok(());
    }
    let mut read = None;
    let mut write: Option<OwnedWriteHalf> = None;
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let mut close = false;
        tokio::select! {
            acc = listener.accept() => {
                let (stream, peer) = acc?;
                if write.take().is_some() {
                    engine.link_down(clock.now());
                    if !flush(&mut engine, None, &events).await.0 { return Ok(()); }
                }
                let (r, w) = split(stream);
                read = Some(r);
                write = Some(w);
                if events.send(FiasLinkEvent::Connected(peer)).await.is_err() { return Ok(()); }
                engine.link_up(clock.now(), stamp(offset));
            }
            r = read_some(&mut read, &mut buf) => match r {
                Ok(0) | Err(_) => close = true,
                Ok(n) => {
                    engine.set_stamp(stamp(offset));
                    engine.handle_bytes(clock.now(), &buf[..n]);
                }
            },
            req = requests.recv() => {
                let Some(req) = req else { return Ok(()) };
                let now = clock.now();
                engine.set_stamp(stamp(offset));
                let refused = match req {
                    FiasRequest::Send { id, message } => engine
                        .submit(now, id, &message)
                        .err()
                        .map(|e| FiasLinkEvent::Refused { id: Some(id), reason: e.to_string() }),
                    FiasRequest::Resync { rooms } => engine
                        .start_resync(now, &rooms)
                        .err()
                        .map(|e| FiasLinkEvent::Refused { id: None, reason: e.to_string() }),
                    FiasRequest::AnswerPosting { posting, status, text } => {
                        engine.answer_posting(&posting, status, &text);
                        None
                    }
                };
                if let Some(event) = refused {
                    if events.send(event).await.is_err() { return Ok(()); }
                }
            }
        }
        let (open, wants_close) = flush(&mut engine, write.as_mut(), &events).await;
        if !open {
            return Ok(());
        }
        if (close || wants_close) && write.is_some() {
            read = None;
            write = None;
            engine.link_down(clock.now());
            if !flush(&mut engine, None, &events).await.0 {
                return Ok(());
            }
        }
    }
}

fn split(stream: TcpStream) -> (tokio::net::tcp::OwnedReadHalf, OwnedWriteHalf) {
    let _ = stream.set_nodelay(true);
    stream.into_split()
}

/// Carries out the engine's commands; returns (application still there, close wanted).
async fn flush(
    engine: &mut FiasPmsLink,
    write: Option<&mut OwnedWriteHalf>,
    events: &mpsc::Sender<FiasLinkEvent>,
) -> (bool, bool) {
    let mut bytes = Vec::new();
    let mut delivered = Vec::new();
    let mut close = false;
    for command in engine.take_commands() {
        match command {
            Command::Send(b) => bytes.extend_from_slice(&b),
            Command::Deliver(e) => delivered.push(e),
            Command::CloseLink => close = true,
            Command::SetTimer(_) | Command::ClearTimer | Command::HotelLog(_) => {}
        }
    }
    if let (Some(w), false) = (write, bytes.is_empty()) {
        if w.write_all(&bytes).await.is_err() {
            close = true;
        }
    }
    for event in delivered {
        if events.send(FiasLinkEvent::Fias(event)).await.is_err() {
            return (false, close);
        }
    }
    (true, close)
}
