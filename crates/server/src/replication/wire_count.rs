//! The peer link's bytes as they really travel (issue 22): a byte-counting wrapper around a
//! connection's TCP stream, below TLS and below HTTP, so HPACK-compressed HTTP/2 headers,
//! frames, TLS records and connection set-up are counted as what they cost on the wire — not
//! estimated at HTTP/1.1 header size, which overstated an HTTP/2 exchange by hundreds of bytes.
//!
//! Two users: the listener wraps every accepted connection ([`ConnBytes`]; a peer route binds
//! the connection to the peer that proved itself, and its bytes from then on, and those before,
//! go to that peer's meter), and the puller sends its pulls through [`PeerHttp`], a small HTTP
//! client whose connector wraps each connection it opens, counting into the pulled peer's meter.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Where a connection's bytes go: `(bytes read, bytes written)` since the last call.
pub type Sink = Arc<dyn Fn(u64, u64) + Send + Sync>;

/// A connection's byte count: held until the connection is bound to a peer, then passed on
/// to that peer's [`Sink`] as the bytes move.
#[derive(Default)]
pub struct ConnBytes {
    state: Mutex<Binding>,
}

#[derive(Default)]
enum Binding {
    /// Not known whose yet, nothing moved.
    #[default]
    Unbound,
    /// Not known whose yet: `(read, written)` so far.
    Pending(u64, u64),
    /// The peer's.
    Bound(Sink),
}

impl ConnBytes {
    /// A connection whose bytes go to `sink` from the start (the puller's own connections).
    pub fn bound(sink: Sink) -> Arc<ConnBytes> {
        Arc::new(ConnBytes {
            state: Mutex::new(Binding::Bound(sink)),
        })
    }

    /// Counts `read` and `written` bytes: to the bound sink, or held until [`Self::bind`].
    fn count(&self, read: u64, written: u64) {
        if read == 0 && written == 0 {
            return;
        }
        let Ok(mut s) = self.state.lock() else { return };
        match &mut *s {
            Binding::Bound(sink) => sink(read, written),
            Binding::Unbound => *s = Binding::Pending(read, written),
            Binding::Pending(r, w) => {
                *r += read;
                *w += written;
            }
        }
    }

    /// Gives this connection's bytes — those so far, and those to come — to `sink`, unless it
    /// is bound already (a connection carries one peer's requests: the first proof binds it).
    /// `make` is called only when the connection is not bound yet.
    pub fn bind_with(&self, make: impl FnOnce() -> Sink) {
        let Ok(mut s) = self.state.lock() else { return };
        let (read, written) = match &*s {
            Binding::Bound(_) => return,
            Binding::Unbound => (0, 0),
            Binding::Pending(r, w) => (*r, *w),
        };
        let sink = make();
        if read > 0 || written > 0 {
            sink(read, written);
        }
        *s = Binding::Bound(sink);
    }

    /// Whether the connection's bytes already go to a peer.
    pub fn is_bound(&self) -> bool {
        self.state
            .lock()
            .is_ok_and(|s| matches!(*s, Binding::Bound(_)))
    }
}

/// A stream whose bytes read and written are counted in its [`ConnBytes`].
pub struct Counted<S> {
    inner: S,
    bytes: Arc<ConnBytes>,
}

impl<S> Counted<S> {
    /// Wraps `inner`, counting into `bytes`.
    pub fn new(inner: S, bytes: Arc<ConnBytes>) -> Counted<S> {
        Counted { inner, bytes }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            self.bytes.count((buf.filled().len() - before) as u64, 0);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.bytes.count(0, n as u64);
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            self.bytes.count(0, n as u64);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Why a peer exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// No connection, or it broke: the peer is unreachable.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The exchange did not finish within its time.
    #[error("timed out after {0:?}")]
    TimedOut(Duration),
    /// The answer was larger than the caller accepts, or the request could not be made.
    #[error("{0}")]
    Refused(String),
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// One counted connection to a peer, plain or TLS, as the HTTP client uses it.
pub struct PeerConn {
    io: TokioIo<Box<dyn Io>>,
    h2: bool,
}

impl Connection for PeerConn {
    fn connected(&self) -> Connected {
        let c = Connected::new();
        if self.h2 {
            c.negotiated_h2()
        } else {
            c
        }
    }
}

impl hyper::rt::Read for PeerConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        hyper::rt::Read::poll_read(Pin::new(&mut self.io), cx, buf)
    }
}

impl hyper::rt::Write for PeerConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        hyper::rt::Write::poll_write(Pin::new(&mut self.io), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        hyper::rt::Write::poll_flush(Pin::new(&mut self.io), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        hyper::rt::Write::poll_shutdown(Pin::new(&mut self.io), cx)
    }
}

/// Opens counted connections to peers: TCP (with `connect_timeout`), then TLS when the URL is
/// `https` (ALPN `h2` then `http/1.1`, as the listener offers).
#[derive(Clone)]
pub struct PeerConnector {
    tls: Option<tokio_rustls::TlsConnector>,
    connect_timeout: Duration,
    sink: Sink,
}

type Connecting = Pin<Box<dyn Future<Output = Result<PeerConn, io::Error>> + Send>>;

impl tower::Service<Uri> for PeerConnector {
    type Response = PeerConn;
    type Error = io::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Connecting {
        let this = self.clone();
        Box::pin(async move {
            let host = uri
                .host()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no host"))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let https = uri.scheme_str() == Some("https");
            let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
            let tcp = tokio::time::timeout(
                this.connect_timeout,
                TcpStream::connect((host.as_str(), port)),
            )
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
            let _ = tcp.set_nodelay(true);
            let counted = Counted::new(tcp, ConnBytes::bound(this.sink.clone()));
            match (&this.tls, https) {
                (Some(tls), true) => {
                    let name = rustls::pki_types::ServerName::try_from(host)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                    let s = tokio::time::timeout(this.connect_timeout, tls.connect(name, counted))
                        .await
                        .map_err(|_| {
                            io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")
                        })??;
                    let h2 = s.get_ref().1.alpn_protocol() == Some(&b"h2"[..]);
                    Ok(PeerConn {
                        io: TokioIo::new(Box::new(s)),
                        h2,
                    })
                }
                (None, true) => Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "an https peer but no TLS configured",
                )),
                (_, false) => Ok(PeerConn {
                    io: TokioIo::new(Box::new(counted)),
                    h2: false,
                }),
            }
        })
    }
}

/// The puller's HTTP client towards one peer: every byte of its connections counted into
/// that peer's link meter as it travels.
#[derive(Clone)]
pub struct PeerHttp {
    client: hyper_util::client::legacy::Client<PeerConnector, Full<Bytes>>,
}

impl PeerHttp {
    /// A client over `tls` (the environment's, when configured), HTTP/2 without asking first
    /// on plain links when `h2c` ([`crate::Settings::peer_h2c`]), counting into `sink`.
    pub fn new(
        tls: Option<&rustls::ClientConfig>,
        h2c: bool,
        connect_timeout: Duration,
        sink: Sink,
    ) -> PeerHttp {
        let tls = tls.map(|c| {
            let mut c = c.clone();
            c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            tokio_rustls::TlsConnector::from(Arc::new(c))
        });
        let connector = PeerConnector {
            tls,
            connect_timeout,
            sink,
        };
        let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .http2_only(h2c)
            .build(connector);
        PeerHttp { client }
    }

    /// POSTs `body` to `url` with `headers`; the whole exchange, the answer's body included,
    /// within `timeout`, the body at most `max_body` bytes: `(status, headers, body)`.
    pub async fn post(
        &self,
        url: &str,
        headers: HeaderMap,
        body: Vec<u8>,
        timeout: Duration,
        max_body: usize,
    ) -> Result<(StatusCode, HeaderMap, Bytes), WireError> {
        let mut req = Request::post(url)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| WireError::Refused(e.to_string()))?;
        *req.headers_mut() = headers;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| {
                WireError::Unreachable(
                    std::error::Error::source(&e)
                        .map_or_else(|| e.to_string(), |s| format!("{e}: {s}")),
                )
            })?;
            let (parts, incoming) = resp.into_parts();
            let body = Limited::new(incoming, max_body)
                .collect()
                .await
                .map_err(|e| WireError::Unreachable(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok((parts.status, parts.headers, body))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| WireError::TimedOut(timeout))?
    }
}

/// A header value from text known to be valid (codes, tokens, fingerprints); an invalid one
/// is refused rather than sent.
pub fn header_value(v: &str) -> Result<HeaderValue, WireError> {
    HeaderValue::from_str(v).map_err(|e| WireError::Refused(format!("header value: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn bytes_before_the_binding_go_to_the_peer_that_binds_and_later_ones_follow() {
        let (a, mut b) = tokio::io::duplex(1024);
        let count = Arc::new(ConnBytes::default());
        let mut a = Counted::new(a, count.clone());
        a.write_all(b"hello").await.unwrap();
        b.write_all(b"abc").await.unwrap();
        let mut got = [0u8; 3];
        a.read_exact(&mut got).await.unwrap();
        assert!(!count.is_bound());
        let (read, written) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (r, w) = (read.clone(), written.clone());
        count.bind_with(move || -> Sink {
            Arc::new(move |i: u64, o: u64| {
                r.fetch_add(i, Ordering::SeqCst);
                w.fetch_add(o, Ordering::SeqCst);
            })
        });
        assert_eq!(
            (read.load(Ordering::SeqCst), written.load(Ordering::SeqCst)),
            (3, 5)
        );
        a.write_all(b"12").await.unwrap();
        // A second binding does not take the connection over.
        count.bind_with(|| -> Sink { Arc::new(|_: u64, _: u64| panic!("bound twice")) });
        a.write_all(b"3").await.unwrap();
        assert_eq!(written.load(Ordering::SeqCst), 8);
    }
}
