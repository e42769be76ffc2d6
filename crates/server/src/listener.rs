//! The accept loop: every connection is counted against a global limit (kept below the
//! process's file limit) and a per-client-address limit before a byte is read, optionally
//! wrapped in TLS, and served by hyper with a header read timeout, so a client that opens
//! connections and never finishes its headers is cut off and cannot take every socket.
//!
//! Why not `axum::serve`: it has no header read timeout and no connection limits, and a slow
//! client could hold a connection (and a file descriptor) forever (issue 16).

use crate::replication::wire_count::{ConnBytes, Counted};
use crate::tls::{PeerCertificate, TlsServer};
use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

/// How many connections the listener takes and how long a client may take to speak.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// Connections open at once, from everyone (beyond: closed at once).
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_per_address: usize,
    /// Longest wait for a request's headers (and for the next request on an idle connection,
    /// and for a TLS handshake).
    pub header_read_timeout: Duration,
}

/// Connections open per client address; an entry goes when its last connection closes.
#[derive(Default)]
struct PerAddress {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in [`PerAddress`], given back when dropped.
struct AddressSlot {
    table: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    fn take(table: &Arc<PerAddress>, ip: IpAddr, max: usize) -> Option<AddressSlot> {
        let mut open = table.open.lock().ok()?;
        let n = open.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            table: table.clone(),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.table.open.lock() {
            if let Some(n) = open.get_mut(&self.ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.remove(&self.ip);
                }
            }
        }
    }
}

/// The process's limit on open files, when it can be read.
#[cfg(unix)]
pub fn file_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own and reads nothing else.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    (rc == 0).then_some(lim.rlim_cur)
}

/// The process's limit on open files, when it can be read.
#[cfg(not(unix))]
pub fn file_limit() -> Option<u64> {
    None
}

/// The connection limit actually used: the setting, kept below the file limit with room for
/// the database, the peers and the logs (a quarter of the limit, at least 64 descriptors).
pub fn effective_max_connections(setting: usize, file_limit: Option<u64>) -> usize {
    match file_limit {
        Some(f) => {
            let room = (f / 4).max(64);
            let cap = usize::try_from(f.saturating_sub(room)).unwrap_or(usize::MAX);
            setting.min(cap).max(1)
        }
        None => setting.max(1),
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Serves `app` on `listener` until `stop` turns true, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Option<Arc<TlsServer>>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let max = effective_max_connections(limits.max_connections, file_limit());
    let global = Arc::new(Semaphore::new(max));
    let per_address = Arc::new(PerAddress::default());
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: wait a little instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let Ok(permit) = global.clone().try_acquire_owned() else {
            tracing::debug!(%remote, "connection refused: the server's connection limit is reached");
            drop(stream);
            continue;
        };
        let Some(slot) = PerAddress::take(&per_address, remote.ip(), limits.max_per_address) else {
            tracing::debug!(%remote, "connection refused: too many connections from this address");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        // Every byte of the connection, TLS and HTTP framing included, for the link meter of
        // the peer that proves itself on it (issue 22).
        let bytes = Arc::new(ConnBytes::default());
        let stream = Counted::new(stream, bytes.clone());
        let app = app.clone();
        let tls = tls.clone();
        let stop = stop.clone();
        let header_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            let _held = (permit, slot);
            match tls {
                None => {
                    serve_connection(stream, remote, None, bytes, app, header_timeout, stop).await;
                }
                Some(tls) => {
                    let handshake =
                        tokio::time::timeout(header_timeout, tls.acceptor().accept(stream)).await;
                    match handshake {
                        Ok(Ok(s)) => {
                            let peer = crate::tls::peer_certificate(&s);
                            serve_connection(s, remote, peer, bytes, app, header_timeout, stop)
                                .await;
                        }
                        Ok(Err(e)) => tracing::debug!(%remote, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    // Wait for open connections to finish their requests (they were told to stop).
    let _ = global
        .acquire_many(u32::try_from(max).unwrap_or(u32::MAX))
        .await;
    Ok(())
}

/// Most requests in flight at once on one HTTP/2 connection.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 128;

/// Largest header block a client may send (either protocol's parse buffer).
pub const MAX_HEADER_BYTES: u32 = 64 * 1024;

/// Serves one connection's requests with HTTP/1.1 or HTTP/2 (whichever the client speaks:
/// ALPN over TLS, the connection preface on plain links), adding the client's address (and its
/// verified certificate, over mutual TLS, and the connection's byte count) to every request.
async fn serve_connection<S>(
    stream: S,
    remote: SocketAddr,
    peer: Option<PeerCertificate>,
    bytes: Arc<ConnBytes>,
    app: Router,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(ConnectInfo(remote));
        req.extensions_mut().insert(bytes.clone());
        if let Some(p) = &peer {
            req.extensions_mut().insert(p.clone());
        }
        app.clone().oneshot(req)
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(MAX_HEADER_BYTES as usize);
    // No keep-alive pings: an idle peer link must cost nothing (issue 22); the connection
    // limits bound what idle connections can hold.
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .max_header_list_size(MAX_HEADER_BYTES);
    // The protocol is known from the client's first bytes; a client that sends none is cut
    // off like any other that does not speak (HTTP/1.1's header timeout starts only after).
    let mut stream = tokio::io::BufReader::new(stream);
    match tokio::time::timeout(header_timeout, stream.fill_buf()).await {
        Ok(Ok(first)) if !first.is_empty() => {}
        _ => return,
    }
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let stopping = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%remote, error = %e, "connection ended");
            }
            return;
        }
        () = stopping => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_limit_stays_below_the_file_limit() {
        assert_eq!(effective_max_connections(4_096, Some(20_000)), 4_096);
        assert_eq!(effective_max_connections(50_000, Some(20_000)), 15_000);
        assert_eq!(effective_max_connections(4_096, Some(1_024)), 768);
        assert_eq!(effective_max_connections(4_096, Some(100)), 36);
        assert_eq!(effective_max_connections(4_096, None), 4_096);
    }

    #[test]
    fn an_address_gets_its_slots_back_when_connections_close() {
        let table = Arc::new(PerAddress::default());
        let ip: IpAddr = [127, 0, 0, 2].into();
        let a = PerAddress::take(&table, ip, 2);
        let b = PerAddress::take(&table, ip, 2);
        assert!(a.is_some() && b.is_some());
        assert!(PerAddress::take(&table, ip, 2).is_none());
        assert!(PerAddress::take(&table, [127, 0, 0, 3].into(), 2).is_some());
        drop(a);
        assert!(PerAddress::take(&table, ip, 2).is_some());
    }
}
