//! `run_gateway`: a simulated PBX / hospitality gateway on TCP, running [`SystemSide`] for one PMS
//! connection at a time (a new connection replaces the current one), with an in-process control
//! handle to read the database and hotel log, raise STS/MW/RTI as a PBX would, and inject faults.

use std::net::SocketAddr;

use thiserror::Error;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::{read_some, Clock, READ_CHUNK};
use crate::command::Command;
use crate::directory::{RoomPlan, RoomRecord};
use crate::frame::ETX;
use crate::hotel_log::LogEntry;
use crate::mitel::Message;
use crate::room::Extension;
use crate::settings::{Millis, Settings};
use crate::system_side::{GrsMode, RaiseError, RaiseOutcome, SystemError, SystemEvent, SystemSide};

/// Capacity of the control request queue (each request is answered before the next is read).
const CONTROL_QUEUE: usize = 64;
/// Capacity of the notice broadcast; slow subscribers see `Lagged` rather than slowing the link.
const NOTICE_QUEUE: usize = 4_096;

/// What `innsync pms gateway --listen ADDR --nodes N` configures.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Where the PMS connects.
    pub listen: SocketAddr,
    /// Nodes (ICPs) the rooms are spread over.
    pub nodes: usize,
    /// Which rooms exist (default: any extension, created on first use).
    pub rooms: RoomPlan,
    /// Protocol settings.
    pub settings: Settings,
    /// Optional address for the line-based control protocol (see [`super::control`]), so the
    /// PBX can be played from another process.
    pub control: Option<SocketAddr>,
}

impl GatewayConfig {
    /// A gateway on `listen` with `nodes` nodes, any room, default settings, no control port.
    pub fn new(listen: SocketAddr, nodes: usize) -> Self {
        GatewayConfig {
            listen,
            nodes,
            rooms: RoomPlan::Any,
            settings: Settings::default(),
            control: None,
        }
    }
}

/// Why the gateway could not start or stopped.
#[derive(Debug, Error)]
pub enum GatewayError {
    /// Bad settings or room plan.
    #[error(transparent)]
    System(#[from] SystemError),
    /// Could not bind or accept.
    #[error("gateway socket: {0}")]
    Io(#[from] std::io::Error),
}

/// Why a control request failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GatewayControlError {
    /// The gateway task has stopped.
    #[error("the gateway has stopped")]
    Closed,
    /// The message could not be raised.
    #[error(transparent)]
    Raise(#[from] RaiseError),
}

/// Things that happened in the gateway, for operators' consoles and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayNotice {
    /// A PMS connected.
    PmsConnected(SocketAddr),
    /// The PMS connection ended.
    PmsDisconnected,
    /// A hotel log entry was written.
    Log(LogEntry),
    /// A raised message reached the PMS.
    Sent(Message),
    /// Every node committed a General Reset.
    CycleCommitted,
}

enum Control {
    Rooms(oneshot::Sender<Vec<(Extension, RoomRecord)>>),
    Room(Extension, oneshot::Sender<Option<RoomRecord>>),
    Log(oneshot::Sender<Vec<LogEntry>>),
    Mode(oneshot::Sender<GrsMode>),
    Raise(Message, oneshot::Sender<Result<RaiseOutcome, RaiseError>>),
    Disconnect(oneshot::Sender<()>),
    CutAfter(u64, oneshot::Sender<()>),
    Shutdown,
}

/// In-process control of a running gateway; cheap to clone.
#[derive(Debug, Clone)]
pub struct GatewayHandle {
    tx: mpsc::Sender<Control>,
    notices: broadcast::Sender<GatewayNotice>,
}

impl GatewayHandle {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Control,
    ) -> Result<T, GatewayControlError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
            .await
            .map_err(|_| GatewayControlError::Closed)?;
        rx.await.map_err(|_| GatewayControlError::Closed)
    }

    /// The whole database, sorted by extension.
    pub async fn rooms(&self) -> Result<Vec<(Extension, RoomRecord)>, GatewayControlError> {
        self.ask(Control::Rooms).await
    }

    /// One room's record.
    pub async fn room(
        &self,
        extension: Extension,
    ) -> Result<Option<RoomRecord>, GatewayControlError> {
        self.ask(|tx| Control::Room(extension, tx)).await
    }

    /// The kept hotel log entries, oldest first.
    pub async fn hotel_log(&self) -> Result<Vec<LogEntry>, GatewayControlError> {
        self.ask(Control::Log).await
    }

    /// The General Reset mode.
    pub async fn mode(&self) -> Result<GrsMode, GatewayControlError> {
        self.ask(Control::Mode).await
    }

    /// Raises `STS`, `MW` or `RTI` as the PBX would (a maid dialling a code, a voicemail).
    pub async fn raise(&self, message: Message) -> Result<RaiseOutcome, GatewayControlError> {
        Ok(self.ask(|tx| Control::Raise(message, tx)).await??)
    }

    /// Drops the current PMS connection (as a cable pull would).
    pub async fn disconnect_pms(&self) -> Result<(), GatewayControlError> {
        self.ask(Control::Disconnect).await
    }

    /// Fault injection: drop the PMS connection right after the `n`th text frame from now.
    pub async fn cut_link_after(&self, texts: u64) -> Result<(), GatewayControlError> {
        self.ask(|tx| Control::CutAfter(texts, tx)).await
    }

    /// Stops the gateway.
    pub async fn shutdown(&self) {
        let _ = self.tx.send(Control::Shutdown).await;
    }

    /// Notices from now on (connections, hotel log, messages sent, commits).
    pub fn subscribe(&self) -> broadcast::Receiver<GatewayNotice> {
        self.notices.subscribe()
    }
}

/// A bound gateway, not yet running: lets the caller learn the address and take a handle first.
#[derive(Debug)]
pub struct Gateway {
    listener: TcpListener,
    control_listener: Option<TcpListener>,
    system: SystemSide,
    control: mpsc::Receiver<Control>,
    handle: GatewayHandle,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Control")
    }
}

impl Gateway {
    /// Validates the configuration and binds the listening socket.
    pub async fn bind(config: GatewayConfig) -> Result<Gateway, GatewayError> {
        let system = SystemSide::new(config.settings, config.nodes, config.rooms)?;
        let listener = TcpListener::bind(config.listen).await?;
        let control_listener = match config.control {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let (tx, control) = mpsc::channel(CONTROL_QUEUE);
        let (notices, _) = broadcast::channel(NOTICE_QUEUE);
        Ok(Gateway {
            listener,
            control_listener,
            system,
            control,
            handle: GatewayHandle { tx, notices },
        })
    }

    /// The address the gateway listens on (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, GatewayError> {
        Ok(self.listener.local_addr()?)
    }

    /// The address of the line-based control port, when configured.
    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.control_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// A control handle.
    pub fn handle(&self) -> GatewayHandle {
        self.handle.clone()
    }

    /// Runs until `shutdown` (or until every handle is dropped).
    pub async fn run(self) -> Result<(), GatewayError> {
        let Gateway {
            listener,
            control_listener,
            mut system,
            mut control,
            handle,
        } = self;
        let control_task = control_listener
            .map(|l| tokio::spawn(super::control::serve_control(l, handle.clone())));
        let result = Self::serve(listener, &mut system, &mut control, handle).await;
        if let Some(task) = control_task {
            task.abort();
        }
        result
    }

    async fn serve(
        listener: TcpListener,
        system: &mut SystemSide,
        control: &mut mpsc::Receiver<Control>,
        handle: GatewayHandle,
    ) -> Result<(), GatewayError> {
        // Keep only the broadcast side so dropping every user handle ends the loop.
        let notices = handle.notices.clone();
        drop(handle);
        let clock = Clock::new();
        let mut timer: Option<Millis> = None;
        let mut read = None;
        let mut write: Option<OwnedWriteHalf> = None;
        let mut cut_after: Option<u64> = None;
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let mut close = false;
            tokio::select! {
                acc = listener.accept() => {
                    let (stream, peer) = acc?;
                    if write.is_some() {
                        system.link_down(clock.now());
                        flush(system, None, &notices, &mut timer).await;
                        let _ = notices.send(GatewayNotice::PmsDisconnected);
                    }
                    let (r, w) = split(stream);
                    read = Some(r);
                    write = Some(w);
                    let _ = notices.send(GatewayNotice::PmsConnected(peer));
                    system.link_up(clock.now());
                }
                r = read_some(&mut read, &mut buf) => match r {
                    Ok(0) | Err(_) => close = true,
                    Ok(n) => {
                        let mut data = &buf[..n];
                        if let Some(left) = cut_after {
                            // Feed up to and including the frame that reaches the count.
                            let mut remaining = left;
                            let mut end = data.len();
                            for (i, &b) in data.iter().enumerate() {
                                if b == ETX {
                                    remaining -= 1;
                                    if remaining == 0 {
                                        end = i + 1;
                                        break;
                                    }
                                }
                            }
                            data = &data[..end];
                            cut_after = Some(remaining);
                            if remaining == 0 {
                                cut_after = None;
                                close = true;
                            }
                        }
                        system.handle_bytes(clock.now(), data);
                    }
                },
                ctl = control.recv() => match ctl {
                    None | Some(Control::Shutdown) => return Ok(()),
                    Some(ctl) => {
                        let now = clock.now();
                        match ctl {
                            Control::Rooms(tx) => { let _ = tx.send(system.rooms()); }
                            Control::Room(e, tx) => { let _ = tx.send(system.room(&e).cloned()); }
                            Control::Log(tx) => { let _ = tx.send(system.hotel_log().entries().cloned().collect()); }
                            Control::Mode(tx) => { let _ = tx.send(system.mode()); }
                            Control::Raise(m, tx) => { let _ = tx.send(system.raise(now, m)); }
                            Control::Disconnect(tx) => { close = write.is_some(); let _ = tx.send(()); }
                            Control::CutAfter(n, tx) => { cut_after = (n > 0).then_some(n); let _ = tx.send(()); }
                            Control::Shutdown => return Ok(()),
                        }
                    }
                },
                _ = clock.sleep(timer) => system.handle_timeout(clock.now()),
            }
            // A link being cut sends nothing more.
            let writer = if close { None } else { write.as_mut() };
            if !flush(system, writer, &notices, &mut timer).await {
                close = true;
            }
            if close && write.is_some() {
                read = None;
                write = None;
                system.link_down(clock.now());
                flush(system, None, &notices, &mut timer).await;
                let _ = notices.send(GatewayNotice::PmsDisconnected);
            }
        }
    }
}

fn split(stream: TcpStream) -> (tokio::net::tcp::OwnedReadHalf, OwnedWriteHalf) {
    let _ = stream.set_nodelay(true);
    stream.into_split()
}

/// Runs a gateway until it is shut down: what `innsync pms gateway` calls.
pub async fn run_gateway(config: GatewayConfig) -> Result<(), GatewayError> {
    let gateway = Gateway::bind(config).await?;
    tracing::info!(addr = %gateway.local_addr()?, "PMS gateway listening");
    // Keep a handle alive so the gateway runs until the process ends.
    let _keep = gateway.handle();
    gateway.run().await
}

/// Carries out the system's commands; false when writing failed.
async fn flush(
    system: &mut SystemSide,
    write: Option<&mut OwnedWriteHalf>,
    notices: &broadcast::Sender<GatewayNotice>,
    timer: &mut Option<Millis>,
) -> bool {
    let mut bytes = Vec::new();
    let mut close = false;
    for command in system.take_commands() {
        match command {
            Command::Send(b) => bytes.extend_from_slice(&b),
            Command::SetTimer(at) => *timer = Some(at),
            Command::ClearTimer => *timer = None,
            Command::Deliver(SystemEvent::Sent(m)) => {
                let _ = notices.send(GatewayNotice::Sent(m));
            }
            Command::Deliver(SystemEvent::CycleCommitted) => {
                let _ = notices.send(GatewayNotice::CycleCommitted);
            }
            Command::HotelLog(entry) => {
                tracing::info!(at = entry.at, "hotel log: {}", entry.event);
                let _ = notices.send(GatewayNotice::Log(entry));
            }
            Command::CloseLink => close = true,
        }
    }
    if let (Some(w), false) = (write, bytes.is_empty()) {
        if w.write_all(&bytes).await.is_err() {
            return false;
        }
    }
    !close
}
