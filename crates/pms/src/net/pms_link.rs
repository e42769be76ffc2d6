//! `run_pms_link`: drives a [`PmsLink`] over TCP, connecting to the system or listening for it,
//! reconnecting after a drop, and exchanging requests and events with the application through
//! bounded channels.

use std::net::SocketAddr;
use std::time::Duration;

use thiserror::Error;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{read_some, Clock, READ_CHUNK};
use crate::command::Command;
use crate::mitel::Message;
use crate::pms_side::{MessageId, PmsEvent, PmsLink, ResetError, SubmitError};
use crate::room::RoomOccupancy;
use crate::settings::{Millis, Settings, SettingsError};
use crate::SendFailure;

/// How the PMS side reaches the system (PMS.md: configurable).
#[derive(Debug)]
pub enum LinkRole {
    /// innsync connects to the system at this address, retrying after `reconnect_delay`.
    Connect(SocketAddr),
    /// innsync listens; a new connection replaces the current one.
    Listen(SocketAddr),
    /// Like `Listen`, on a listener the caller already bound (tests, socket activation).
    Listener(TcpListener),
}

/// Everything `run_pms_link` needs.
#[derive(Debug)]
pub struct PmsLinkConfig {
    /// Connect or listen.
    pub role: LinkRole,
    /// Protocol settings.
    pub settings: Settings,
    /// Pause between connection attempts, so a missing system is not hammered.
    pub reconnect_delay: Duration,
}

impl PmsLinkConfig {
    /// A config with default settings and a 1 s reconnect delay.
    pub fn new(role: LinkRole) -> Self {
        PmsLinkConfig {
            role,
            settings: Settings::default(),
            reconnect_delay: Duration::from_secs(1),
        }
    }
}

/// What the application asks of the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PmsRequest {
    /// Send the outbox's next message; wait for `Delivered`/`Failed` before the next one.
    Send {
        /// The outbox id.
        id: MessageId,
        /// `CHK1`, `CHK0`, `NAM` or `MW`.
        message: Message,
    },
    /// Run a General Reset with this full snapshot (answer to `ResetWanted`, or on demand).
    GeneralReset {
        /// Every room of the property.
        rooms: Vec<RoomOccupancy>,
    },
    /// Cancel the running General Reset with `CNL`.
    CancelReset,
    /// The decision on the charge record `sequence` (`PmsEvent::Charge`): `ACK` when
    /// `posted`, else `NAK`.
    AnswerCharge {
        /// The record's sequence number, as received.
        sequence: String,
        /// Whether the charge is on the folio (now or before).
        posted: bool,
    },
}

/// What the link tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PmsLinkEvent {
    /// An engine event (delivery results, received STS/MW, reset progress, link up/down).
    Pms(PmsEvent),
    /// Listening on this address (listen roles).
    Listening(SocketAddr),
    /// Connected to this peer.
    Connected(SocketAddr),
    /// A request could not be taken now (e.g. a second message before the first was settled);
    /// it may be offered again.
    Refused {
        /// The message concerned, if any.
        id: Option<MessageId>,
        /// Why.
        reason: String,
    },
    /// The message can never be sent (its extension does not fit the width, or it is not a
    /// message the PMS sends): skip it and go on with the next one.
    Skipped {
        /// The message concerned.
        id: MessageId,
        /// Why.
        reason: String,
    },
}

/// Why the link task stopped with an error.
#[derive(Debug, Error)]
pub enum PmsLinkError {
    /// Invalid settings.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// Could not bind or accept.
    #[error("PMS link socket: {0}")]
    Io(#[from] std::io::Error),
}

enum Flow {
    Continue,
    Close,
    Shutdown,
}

/// Runs the PMS link until `requests` is closed or `events` has no receiver.
pub async fn run_pms_link(
    config: PmsLinkConfig,
    mut requests: mpsc::Receiver<PmsRequest>,
    events: mpsc::Sender<PmsLinkEvent>,
) -> Result<(), PmsLinkError> {
    let clock = Clock::new();
    let mut engine = PmsLink::new(config.settings)?;
    let (connect_to, listener) = match config.role {
        LinkRole::Connect(addr) => (Some(addr), None),
        LinkRole::Listen(addr) => (None, Some(TcpListener::bind(addr).await?)),
        LinkRole::Listener(l) => (None, Some(l)),
    };
    if let Some(l) = &listener {
        if events
            .send(PmsLinkEvent::Listening(l.local_addr()?))
            .await
            .is_err()
        {
            return Ok(());
        }
    }
    let mut timer: Option<Millis> = None;
    let mut next: Option<TcpStream> = None;
    loop {
        // Phase 1: no link. Serve requests (they fail fast) while obtaining a connection.
        let stream = match next.take() {
            Some(s) => s,
            None => {
                let obtain = obtain(connect_to, listener.as_ref(), config.reconnect_delay);
                tokio::pin!(obtain);
                loop {
                    tokio::select! {
                        s = &mut obtain => break s?,
                        req = requests.recv() => {
                            let Some(req) = req else { return Ok(()) };
                            let now = clock.now();
                            if !apply_request(&mut engine, now, req, &events).await {
                                return Ok(());
                            }
                            if let Flow::Shutdown = flush(&mut engine, None, &events, &mut timer).await {
                                return Ok(());
                            }
                        }
                    }
                }
            }
        };
        // Phase 2: connected.
        let _ = stream.set_nodelay(true);
        let peer = stream.peer_addr().ok();
        let (read, write) = stream.into_split();
        let mut read = Some(read);
        let mut write = Some(write);
        if let Some(peer) = peer {
            if events.send(PmsLinkEvent::Connected(peer)).await.is_err() {
                return Ok(());
            }
        }
        engine.link_up(clock.now());
        let mut flow = flush(&mut engine, write.as_mut(), &events, &mut timer).await;
        let mut buf = vec![0u8; READ_CHUNK];
        while let Flow::Continue = flow {
            let sleep = clock.sleep(timer);
            tokio::select! {
                r = read_some(&mut read, &mut buf) => match r {
                    Ok(0) | Err(_) => flow = Flow::Close,
                    Ok(n) => engine.handle_bytes(clock.now(), &buf[..n]),
                },
                req = requests.recv() => {
                    let Some(req) = req else { return Ok(()) };
                    if !apply_request(&mut engine, clock.now(), req, &events).await {
                        return Ok(());
                    }
                }
                _ = sleep => engine.handle_timeout(clock.now()),
                acc = accept(listener.as_ref()) => {
                    if let Ok((s, _)) = acc {
                        next = Some(s);
                        flow = Flow::Close;
                    }
                }
            }
            if let Flow::Continue = flow {
                flow = flush(&mut engine, write.as_mut(), &events, &mut timer).await;
            }
        }
        if let Flow::Shutdown = flow {
            return Ok(());
        }
        drop(read.take());
        drop(write.take());
        engine.link_down(clock.now());
        if let Flow::Shutdown = flush(&mut engine, None, &events, &mut timer).await {
            return Ok(());
        }
    }
}

/// Connects (retrying with a pause) or accepts, depending on the role.
async fn obtain(
    connect_to: Option<SocketAddr>,
    listener: Option<&TcpListener>,
    delay: Duration,
) -> std::io::Result<TcpStream> {
    if let Some(l) = listener {
        return l.accept().await.map(|(s, _)| s);
    }
    let Some(addr) = connect_to else {
        return std::future::pending().await;
    };
    loop {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => {
                tracing::debug!(%addr, error = %e, "PMS link connect failed; retrying");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

async fn accept(listener: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Hands one request to the engine; false when the application is gone.
async fn apply_request(
    engine: &mut PmsLink,
    now: Millis,
    req: PmsRequest,
    events: &mpsc::Sender<PmsLinkEvent>,
) -> bool {
    let refusal = match req {
        PmsRequest::Send { id, message } => match engine.submit(now, id, &message) {
            Ok(()) => None,
            Err(SubmitError::LinkDown) => Some(PmsLinkEvent::Pms(PmsEvent::Failed(
                id,
                SendFailure::LinkDown,
            ))),
            Err(e @ (SubmitError::Print(_) | SubmitError::WrongDirection)) => {
                Some(PmsLinkEvent::Skipped {
                    id,
                    reason: e.to_string(),
                })
            }
            Err(e) => Some(PmsLinkEvent::Refused {
                id: Some(id),
                reason: e.to_string(),
            }),
        },
        PmsRequest::GeneralReset { rooms } => match engine.start_general_reset(now, rooms) {
            // The engine asks again with ResetWanted when the link is up.
            Ok(()) | Err(ResetError::LinkDown) => None,
            Err(e) => Some(PmsLinkEvent::Refused {
                id: None,
                reason: e.to_string(),
            }),
        },
        PmsRequest::CancelReset => {
            engine.cancel_general_reset(now);
            None
        }
        PmsRequest::AnswerCharge { sequence, posted } => {
            if !engine.answer_charge(now, &sequence, posted) {
                // Answered busy already (the system resends it) or the link dropped.
                tracing::warn!(%sequence, "the answer to a charge record came too late");
            }
            None
        }
    };
    match refusal {
        Some(event) => events.send(event).await.is_ok(),
        None => true,
    }
}

/// Carries out the engine's commands: one write for all bytes, timer bookkeeping, events.
async fn flush(
    engine: &mut PmsLink,
    write: Option<&mut OwnedWriteHalf>,
    events: &mpsc::Sender<PmsLinkEvent>,
    timer: &mut Option<Millis>,
) -> Flow {
    let mut bytes = Vec::new();
    let mut delivered = Vec::new();
    let mut flow = Flow::Continue;
    for command in engine.take_commands() {
        match command {
            Command::Send(b) => bytes.extend_from_slice(&b),
            Command::SetTimer(at) => *timer = Some(at),
            Command::ClearTimer => *timer = None,
            Command::Deliver(event) => delivered.push(event),
            Command::HotelLog(entry) => tracing::info!(at = entry.at, "{}", entry.event),
            Command::CloseLink => flow = Flow::Close,
        }
    }
    // Bytes first: the peer is waiting for them; the application is not.
    if let (Some(w), false) = (write, bytes.is_empty()) {
        if w.write_all(&bytes).await.is_err() {
            flow = Flow::Close;
        }
    }
    for event in delivered {
        if events.send(PmsLinkEvent::Pms(event)).await.is_err() {
            return Flow::Shutdown;
        }
    }
    flow
}
