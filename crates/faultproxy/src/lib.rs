//! A fault-injecting TCP proxy for tests: put it between two servers (or a server and a PMS) and
//! cut the link, heal it, delay it, or drop connections at random with a seeded generator, so
//! tests of replication and handover can exercise real network failures deterministically.
//!
//! ```no_run
//! # async fn demo(upstream: std::net::SocketAddr) -> Result<(), innsync_faultproxy::ProxyError> {
//! let proxy = innsync_faultproxy::Proxy::start("127.0.0.1:0", upstream).await?;
//! let addr = proxy.addr(); // point the client here
//! proxy.cut();             // existing connections drop, new ones are refused
//! proxy.heal();
//! # Ok(()) }
//! ```
//!
//! Link profiles ([`LinkProfile`]: satellite, ADSL, 3G) shape both directions of a relay — a
//! token-bucket rate, delay with seeded jitter, loss as the stalls TCP shows the application, and
//! periodic drop-outs — without the kernel's `netem`:
//!
//! ```no_run
//! # async fn demo(upstream: std::net::SocketAddr) -> Result<(), innsync_faultproxy::ProxyError> {
//! use innsync_faultproxy::{profile, Proxy, Site};
//! let proxy = Proxy::start("127.0.0.1:0", upstream).await?;
//! proxy.set_profile(&profile::SATELLITE, Site::Client, 7);
//! # Ok(()) }
//! ```
//!
//! Everything is bounded: a fixed buffer per direction, a cap on concurrent connections, and a
//! named timeout for reaching the upstream.

mod faults;
pub mod profile;
mod pump;
pub mod shape;

use faults::{Dir, Faults};
pub use profile::{LinkProfile, Site};
pub use shape::{Dropouts, Shape};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

/// How long the proxy waits to reach the upstream before closing the client's connection.
pub const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes read at once in each direction: the most a connection buffers inside the proxy.
pub const BUFFER_BYTES: usize = 16 * 1024;
/// Most connections relayed at once; more are refused (closed at once) and counted.
pub const MAX_CONNECTIONS: usize = 256;
/// Longest delay accepted by [`ProxyHandle::set_delay`], so a typo cannot hang a test suite.
pub const MAX_DELAY: Duration = Duration::from_secs(60);

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The listen address is not an address.
    #[error("bad listen address {addr:?}: {source}")]
    BadAddress {
        /// What was given.
        addr: String,
        /// Why it failed.
        source: std::net::AddrParseError,
    },
    /// Binding failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Counters of what the proxy did, for assertions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted from clients (including those then refused or dropped).
    pub accepted: u64,
    /// Connections relayed to the upstream.
    pub relayed: u64,
    /// Connections refused because the link was cut.
    pub refused_cut: u64,
    /// Connections dropped at random by the drop rate.
    pub dropped_random: u64,
    /// Connections refused over [`MAX_CONNECTIONS`].
    pub refused_over_limit: u64,
    /// Connections closed because the upstream could not be reached in time.
    pub upstream_failures: u64,
    /// Connections closed by [`ProxyHandle::cut`] while open.
    pub severed: u64,
    /// Bytes sent client → upstream.
    pub bytes_up: u64,
    /// Bytes sent upstream → client.
    pub bytes_down: u64,
    /// Chunks held back about a round trip by a simulated lost segment (both directions).
    pub stalls: u64,
    /// Drop-outs begun (each severs the open connections, as a cut does).
    pub dropouts: u64,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    relayed: AtomicU64,
    refused_cut: AtomicU64,
    dropped_random: AtomicU64,
    refused_over_limit: AtomicU64,
    upstream_failures: AtomicU64,
    severed: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    stalls: AtomicU64,
    dropouts: AtomicU64,
}

impl Counters {
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> ProxyStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ProxyStats {
            accepted: g(&self.accepted),
            relayed: g(&self.relayed),
            refused_cut: g(&self.refused_cut),
            dropped_random: g(&self.dropped_random),
            refused_over_limit: g(&self.refused_over_limit),
            upstream_failures: g(&self.upstream_failures),
            severed: g(&self.severed),
            bytes_up: g(&self.bytes_up),
            bytes_down: g(&self.bytes_down),
            stalls: g(&self.stalls),
            dropouts: g(&self.dropouts),
        }
    }
}

/// State shared by the accept loop, the connections and the handle.
struct Shared {
    upstream: SocketAddr,
    faults: Faults,
    counters: Counters,
    /// Bumped by every cut; connections watch it and close when it changes.
    cuts: watch::Sender<u64>,
    slots: Arc<Semaphore>,
}

/// The proxy's entry point.
pub struct Proxy;

impl Proxy {
    /// Listens on `listen` (`"127.0.0.1:0"` for a free port) and relays to `upstream`.
    pub async fn start(listen: &str, upstream: SocketAddr) -> Result<ProxyHandle, ProxyError> {
        let listen_addr: SocketAddr = listen.parse().map_err(|source| ProxyError::BadAddress {
            addr: listen.to_string(),
            source,
        })?;
        let listener = TcpListener::bind(listen_addr)
            .await
            .map_err(|source| ProxyError::Bind {
                addr: listen_addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ProxyError::Bind {
            addr: listen_addr,
            source,
        })?;
        let (cuts, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            upstream,
            faults: Faults::default(),
            counters: Counters::default(),
            cuts,
            slots: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        });
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(ProxyHandle {
            addr,
            shared,
            task,
            dropout_task: Mutex::new(None),
        })
    }
}

/// Controls a running proxy; dropping it stops accepting and closes every connection.
pub struct ProxyHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
    /// Severs the open connections at the start of each drop-out.
    dropout_task: Mutex<Option<JoinHandle<()>>>,
}

impl ProxyHandle {
    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts the link: every open connection is dropped and new ones are refused until [`heal`].
    ///
    /// [`heal`]: ProxyHandle::heal
    pub fn cut(&self) {
        self.shared.faults.set_cut(true);
        self.shared.cuts.send_modify(|n| *n += 1);
    }

    /// Restores the link for new connections (dropped ones stay dropped, as on a real network).
    pub fn heal(&self) {
        self.shared.faults.set_cut(false);
    }

    /// Delays every chunk relayed, in both directions, by `delay` (capped at [`MAX_DELAY`]).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.faults.set_delay(delay.min(MAX_DELAY));
    }

    /// Drops each new connection with probability `rate` (clamped to 0–1), drawn from a
    /// generator seeded with `seed`, so a failing test replays the same drops.
    pub fn set_drop_rate(&self, rate: f64, seed: u64) {
        self.shared.faults.set_drop_rate(rate, seed);
    }

    /// Shapes both directions as `profile`, with `site` the end of the relay that is the remote
    /// site (its uplink rate applies to what it sends), jitter and loss drawn from generators
    /// seeded with `seed`, and the profile's drop-outs (if any) starting now. Two relays of one
    /// link (one per pulling direction) given the same profile at once share the schedule.
    pub fn set_profile(&self, profile: &LinkProfile, site: Site, seed: u64) {
        self.set_shapes(Some(profile.shapes(site)), seed);
        self.set_dropouts(profile.dropouts);
    }

    /// Shapes the two directions, `(client → upstream, upstream → client)`; `None` removes the
    /// shaping (the fixed delay of [`set_delay`] still applies).
    ///
    /// [`set_delay`]: ProxyHandle::set_delay
    pub fn set_shapes(&self, shapes: Option<(Shape, Shape)>, seed: u64) {
        self.shared.faults.set_shapes(shapes, seed);
    }

    /// Starts periodic drop-outs now (`None` stops them): during each, open connections are
    /// severed and new ones refused, as on a cell that loses its signal.
    pub fn set_dropouts(&self, dropouts: Option<Dropouts>) {
        let start = std::time::Instant::now();
        self.shared.faults.set_dropouts(dropouts, start);
        let mut slot = self.dropout_task.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = slot.take() {
            t.abort();
        }
        if let Some(d) = dropouts {
            let shared = Arc::clone(&self.shared);
            *slot = Some(tokio::spawn(sever_at_dropouts(shared, d, start)));
        }
    }

    /// What the proxy has done so far.
    pub fn stats(&self) -> ProxyStats {
        self.shared.counters.snapshot()
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        self.task.abort();
        if let Some(t) = self
            .dropout_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            t.abort();
        }
        self.shared.cuts.send_modify(|n| *n += 1);
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            Err(e) => {
                // Out of file descriptors and the like: back off briefly rather than spin.
                tracing::warn!(error = %e, "faultproxy accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        Counters::bump(&shared.counters.accepted);
        if shared.faults.is_cut() {
            Counters::bump(&shared.counters.refused_cut);
            drop(client);
            continue;
        }
        if shared.faults.should_drop() {
            Counters::bump(&shared.counters.dropped_random);
            drop(client);
            continue;
        }
        let Ok(permit) = Arc::clone(&shared.slots).try_acquire_owned() else {
            Counters::bump(&shared.counters.refused_over_limit);
            drop(client);
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            relay(client, &shared).await;
            drop(permit);
        });
    }
}

/// Severs every open connection at the start of each drop-out of `d` (new ones are refused by
/// the accept loop while it lasts).
async fn sever_at_dropouts(shared: Arc<Shared>, d: Dropouts, start: std::time::Instant) {
    loop {
        let Some(next) = d.next_start(start.elapsed()) else {
            return;
        };
        tokio::time::sleep_until((start + next).into()).await;
        Counters::bump(&shared.counters.dropouts);
        shared.cuts.send_modify(|n| *n += 1);
    }
}

/// Pause after a failed `accept`, so a persistent error does not spin a core.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

async fn relay(client: TcpStream, shared: &Shared) {
    let mut cut = shared.cuts.subscribe();
    let upstream = match tokio::time::timeout(
        UPSTREAM_CONNECT_TIMEOUT,
        TcpStream::connect(shared.upstream),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(_)) | Err(_) => {
            Counters::bump(&shared.counters.upstream_failures);
            return;
        }
    };
    if shared.faults.is_cut() {
        Counters::bump(&shared.counters.severed);
        return;
    }
    Counters::bump(&shared.counters.relayed);
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (ur, uw) = upstream.into_split();
    let c = &shared.counters;
    let up = pump::pump(
        cr,
        uw,
        &shared.faults,
        Dir::Up,
        pump::PumpCounters {
            bytes: &c.bytes_up,
            stalls: &c.stalls,
        },
    );
    let down = pump::pump(
        ur,
        cw,
        &shared.faults,
        Dir::Down,
        pump::PumpCounters {
            bytes: &c.bytes_down,
            stalls: &c.stalls,
        },
    );
    tokio::select! {
        _ = async { tokio::join!(up, down) } => {}
        _ = cut.changed() => Counters::bump(&shared.counters.severed),
    }
    // Dropping both halves closes both sockets.
}

#[cfg(test)]
mod shape_tests;
#[cfg(test)]
mod tests;
