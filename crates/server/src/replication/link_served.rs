//! Counting the peer link's traffic where it passes: [`record`] for this server's own pulls
//! (the puller), [`count_served`] for what peers ask of it (a middleware outside the peer
//! routes' compression, so answers are counted as sent, gzip and all), and [`observe`] to set
//! `/metrics`' link gauges from every peer's meter when it is read.
//!
//! Bytes are HTTP bytes as the application sends them — request or status line, headers and
//! body — not TCP/IP framing or TLS records (the figures in docs/BENCHMARKS.md are counted on
//! the wire by a relay and include everything above TCP).

use super::auth::SERVER_HEADER;
use crate::metrics::PeerLabels;
use crate::state::AppState;
use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use innsync_core::ServerCode;
use std::time::Instant;

/// Bytes of an HTTP/1.1 header block: each `name: value\r\n`, and the blank line. Over
/// HTTP/2 the same headers travel HPACK-compressed (a few bytes once known), so the link
/// meter's figure is an upper bound there; the link benchmark counts the real bytes.
pub fn header_bytes(h: &HeaderMap) -> u64 {
    h.iter()
        .map(|(n, v)| (n.as_str().len() + v.len() + 4) as u64)
        .sum::<u64>()
        + 2
}

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

/// Middleware on the peer routes: counts each request from a peer (line, headers, body) and
/// its answer (status line, headers, and the body's bytes as they stream out).
pub async fn count_served(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let peer = req
        .headers()
        .get(SERVER_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| ServerCode::parse(c).ok());
    let Some(peer) = peer else {
        return next.run(req).await;
    };
    let body_len = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    // `POST /path HTTP/1.1\r\n`
    let line = (req.method().as_str().len() + req.uri().to_string().len() + 12) as u64;
    let bytes_in = line + header_bytes(req.headers()) + body_len;
    let resp = next.run(req).await;
    if matches!(
        resp.status(),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
    ) {
        // Not proven to be that peer: its bytes are not the peer's.
        return resp;
    }
    // `HTTP/1.1 200 OK\r\n`
    let head = 17 + header_bytes(resp.headers());
    record(&state, &peer, bytes_in, head);
    let (parts, body) = resp.into_parts();
    if let Some(exact) = body.size_hint().exact() {
        // A body of known length passes untouched (wrapping it would make it chunked).
        record(&state, &peer, 0, exact);
        return Response::from_parts(parts, body);
    }
    let counted = body.into_data_stream().inspect(move |chunk| {
        if let Ok(b) = chunk {
            record(&state, &peer, 0, b.len() as u64);
        }
    });
    Response::from_parts(parts, Body::from_stream(counted))
}
