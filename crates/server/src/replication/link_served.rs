//! Counting the peer link's traffic where it passes: [`record`] takes the bytes that the
//! connections of this server's own pulls ([`super::wire_count::PeerHttp`]) and of the peers'
//! pulls served here ([`count_served`] binds the listener's count to the peer) carry, and
//! [`observe`] sets `/metrics`' link gauges from every peer's meter when it is read.
//!
//! Bytes are what TCP carries: HTTP/1.1 or HTTP/2 framing as sent (HPACK-compressed headers
//! included), TLS records and handshakes — not TCP/IP headers. They are counted where the
//! connection is read and written, not estimated, so they match what a relay on the link
//! counts (docs/BENCHMARKS.md).

use super::auth::SERVER_HEADER;
use super::wire_count::ConnBytes;
use crate::metrics::PeerLabels;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use innsync_core::ServerCode;
use std::sync::Arc;
use std::time::Instant;

/// Counts `bytes_in` received from and `bytes_out` sent to `peer`, in its meter and in the
/// metrics. Servers not in the environment file are not counted (the label set stays bounded).
pub fn record(state: &AppState, peer: &ServerCode, bytes_in: u64, bytes_out: u64) {
    let Some(ctx) = &state.env else { return };
    if !ctx.peer_urls.contains_key(peer) {
        return;
    }
    ctx.peer(peer, |p| {
        p.link.traffic(Instant::now(), bytes_in, bytes_out)
    });
    let l = PeerLabels {
        peer: peer.to_string(),
    };
    let m = &state.metrics.links;
    if bytes_in > 0 {
        m.bytes_in.get_or_create(&l).inc_by(bytes_in);
    }
    if bytes_out > 0 {
        m.bytes_out.get_or_create(&l).inc_by(bytes_out);
    }
}

/// Counts a failed pull from `peer`.
pub fn failed(state: &AppState, peer: &ServerCode) {
    let Some(ctx) = &state.env else { return };
    ctx.peer(peer, |p| p.link.failed());
    state
        .metrics
        .links
        .retries
        .get_or_create(&PeerLabels {
            peer: peer.to_string(),
        })
        .inc();
}

/// Sets the link gauges of every peer from its meter, now.
pub fn observe(state: &AppState) {
    let Some(ctx) = &state.env else { return };
    let now = Instant::now();
    let batch = state.settings.pull_batch;
    for p in ctx.peer_statuses() {
        let f = p.link.figures(now, p.behind, batch);
        state.metrics.links.observe(&p.code, &f);
    }
}

/// Middleware on the peer routes: a request from a peer that proves itself (the gate answers
/// anything else 401/403) binds its connection's byte count ([`ConnBytes`], put there by the
/// listener) to that peer, so every byte of the connection — before this request and after,
/// HTTP/2 frames, compressed headers and TLS records as they travel — goes to its meter.
pub async fn count_served(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let peer = req
        .headers()
        .get(SERVER_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| ServerCode::parse(c).ok());
    let bytes = req.extensions().get::<Arc<ConnBytes>>().cloned();
    let (Some(peer), Some(bytes)) = (peer, bytes) else {
        return next.run(req).await;
    };
    let resp = next.run(req).await;
    if matches!(
        resp.status(),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
    ) {
        // Not proven to be that peer: its bytes are not the peer's.
        return resp;
    }
    bytes.bind_with(|| -> super::wire_count::Sink {
        Arc::new(move |bytes_in: u64, bytes_out: u64| {
            record(&state, &peer, bytes_in, bytes_out);
        })
    });
    resp
}
