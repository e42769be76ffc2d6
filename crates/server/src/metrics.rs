//! Prometheus metrics: HTTP traffic by route and status, the writer's group commits, and the
//! server's own jobs. Rendered in the text exposition format at `/metrics`.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use innsync_store::WriterStats;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// Labels of an HTTP request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// GET, POST…
    pub method: String,
    /// The route template (`/api/v1/bookings/{reference}`), never the raw path.
    pub route: String,
    /// Status code.
    pub status: u16,
}

/// Labels of a peer link's figures: the peer's server code (only servers of the environment
/// file, so the label set is bounded).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PeerLabels {
    /// The peer's code.
    pub peer: String,
}

/// A gauge of seconds or bytes per second.
type FloatGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

/// The per-peer link figures (issue 22): counters fed as traffic happens, gauges set from the
/// peers' link meters each time `/metrics` is read.
#[derive(Default)]
pub struct LinkMetrics {
    /// Bytes received from each peer (its answers to our pulls, its requests to us), as TCP
    /// carried them.
    pub bytes_in: Family<PeerLabels, Counter>,
    /// Bytes sent to each peer, as TCP carried them.
    pub bytes_out: Family<PeerLabels, Counter>,
    /// Failed pulls from each peer: the loss and drop-outs the application sees.
    pub retries: Family<PeerLabels, Counter>,
    /// Bytes per second received over the last minute.
    pub in_per_second: Family<PeerLabels, FloatGauge>,
    /// Bytes per second sent over the last minute.
    pub out_per_second: Family<PeerLabels, FloatGauge>,
    /// Smoothed round trip of a pull.
    pub round_trip_seconds: Family<PeerLabels, FloatGauge>,
    /// Seconds since a pull last succeeded.
    pub since_success_seconds: Family<PeerLabels, FloatGauge>,
    /// Estimated seconds to catch up with what the peer holds.
    pub catch_up_seconds: Family<PeerLabels, FloatGauge>,
}

impl LinkMetrics {
    fn register(&self, registry: &mut Registry) {
        let families: [(&str, &str, &Family<PeerLabels, Counter>); 3] = [
            (
                "peer_link_bytes_in",
                "Bytes received from a peer as TCP carried them (HTTP framing and TLS included)",
                &self.bytes_in,
            ),
            (
                "peer_link_bytes_out",
                "Bytes sent to a peer as TCP carried them (HTTP framing and TLS included)",
                &self.bytes_out,
            ),
            (
                "peer_link_retries",
                "Failed pulls from a peer (loss and drop-outs seen)",
                &self.retries,
            ),
        ];
        for (name, help, f) in families {
            registry.register(name, help, f.clone());
        }
        let gauges: [(&str, &str, &Family<PeerLabels, FloatGauge>); 5] = [
            (
                "peer_link_in_bytes_per_second",
                "Bytes per second received from a peer, last minute",
                &self.in_per_second,
            ),
            (
                "peer_link_out_bytes_per_second",
                "Bytes per second sent to a peer, last minute",
                &self.out_per_second,
            ),
            (
                "peer_link_round_trip_seconds",
                "Smoothed round trip of a pull from a peer",
                &self.round_trip_seconds,
            ),
            (
                "peer_link_since_success_seconds",
                "Seconds since a pull from a peer last succeeded",
                &self.since_success_seconds,
            ),
            (
                "peer_link_catch_up_seconds",
                "Estimated seconds to catch up with a peer",
                &self.catch_up_seconds,
            ),
        ];
        for (name, help, f) in gauges {
            registry.register(name, help, f.clone());
        }
    }

    /// Sets the gauges of `peer` from its figures (an unknown figure leaves its gauge out).
    pub fn observe(&self, peer: &str, f: &crate::replication::link_meter::LinkFigures) {
        let l = PeerLabels {
            peer: peer.to_string(),
        };
        self.in_per_second.get_or_create(&l).set(f.bytes_in_per_s);
        self.out_per_second.get_or_create(&l).set(f.bytes_out_per_s);
        if let Some(r) = f.rtt_ms {
            self.round_trip_seconds
                .get_or_create(&l)
                .set(r as f64 / 1000.0);
        }
        if let Some(s) = f.since_success_s {
            self.since_success_seconds.get_or_create(&l).set(s as f64);
        }
        if let Some(c) = f.catch_up_s {
            self.catch_up_seconds.get_or_create(&l).set(c);
        }
    }
}

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    /// Requests by method, route and status.
    pub http_requests: Family<HttpLabels, Counter>,
    /// Request latency.
    pub http_seconds: Histogram,
    /// Provisional bookings released by the sweeper.
    pub holds_expired: Counter,
    /// Allotment grants written by standing rules.
    pub allotment_rule_grants: Counter,
    /// Changes applied from peers.
    pub replication_applied: Counter,
    /// Batches from peers refused as garbled or from another environment.
    pub replication_refused: Counter,
    /// Timetable handovers missed or failed.
    pub timetable_alerts: Counter,
    /// Per-peer link figures.
    pub links: LinkMetrics,
    /// The off-site archive's lag and counts (issue 21).
    pub archive: ArchiveGauges,
    writer_batches: Gauge,
    writer_commands: Gauge,
    writer_refused: Gauge,
    writer_changes: Gauge,
    writer_commit_failures: Gauge,
    writer_max_batch: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("innsync");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests served",
            http_requests.clone(),
        );
        let http_seconds = Histogram::new(exponential_buckets(0.000_1, 2.0, 18));
        registry.register(
            "http_request_seconds",
            "HTTP request latency",
            http_seconds.clone(),
        );
        let holds_expired = Counter::default();
        registry.register(
            "holds_expired",
            "Provisional holds released on expiry",
            holds_expired.clone(),
        );
        let allotment_rule_grants = Counter::default();
        registry.register(
            "allotment_rule_grants",
            "Allotment grants written by standing rules",
            allotment_rule_grants.clone(),
        );
        let replication_applied = Counter::default();
        registry.register(
            "replication_applied",
            "Changes applied from peers",
            replication_applied.clone(),
        );
        let replication_refused = Counter::default();
        registry.register(
            "replication_refused",
            "Peer batches refused as garbled",
            replication_refused.clone(),
        );
        let timetable_alerts = Counter::default();
        registry.register(
            "timetable_alerts",
            "Timetable handovers missed or failed",
            timetable_alerts.clone(),
        );
        let links = LinkMetrics::default();
        links.register(&mut registry);
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        Self {
            archive: ArchiveGauges::register(&mut registry),
            writer_batches: gauge(
                &mut registry,
                "writer_batches",
                "Group commits (transactions) committed",
            ),
            writer_commands: gauge(
                &mut registry,
                "writer_commands",
                "Commands run by the writer",
            ),
            writer_refused: gauge(
                &mut registry,
                "writer_refused",
                "Commands refused by the domain rules",
            ),
            writer_changes: gauge(
                &mut registry,
                "writer_changes",
                "Records written to the change log",
            ),
            writer_commit_failures: gauge(
                &mut registry,
                "writer_commit_failures",
                "Group commits that failed",
            ),
            writer_max_batch: gauge(
                &mut registry,
                "writer_max_batch",
                "Largest group commit so far",
            ),
            registry,
            http_requests,
            http_seconds,
            holds_expired,
            allotment_rule_grants,
            replication_applied,
            replication_refused,
            timetable_alerts,
            links,
        }
    }

    /// Copies the off-site shipper's lag into the exported gauges.
    pub fn set_archive(&self, lag: &innsync_offsite::ArchiveLag) {
        let int = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let a = &self.archive;
        a.lag_seconds.set(lag.seconds_behind());
        a.changes_behind.set(lag.changes_behind());
        a.segments_shipped.set(int(lag.segments_shipped()));
        a.backups_shipped.set(int(lag.backups_shipped()));
        a.failures.set(int(lag.failures()));
        a.failing.set(i64::from(lag.failing()));
    }

    /// The text exposition, with the writer's counters read now.
    pub fn render(&self, w: &WriterStats) -> String {
        let get = |a: &std::sync::atomic::AtomicU64| {
            i64::try_from(a.load(Ordering::Relaxed)).unwrap_or(i64::MAX)
        };
        self.writer_batches.set(get(&w.batches));
        self.writer_commands.set(get(&w.commands));
        self.writer_refused.set(get(&w.refused));
        self.writer_changes.set(get(&w.changes));
        self.writer_commit_failures.set(get(&w.commit_failures));
        self.writer_max_batch.set(get(&w.max_batch));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.push_str("# metrics could not be encoded\n");
        }
        out
    }
}

/// The off-site archive's gauges: how far the bucket is behind (the data at risk) and what was
/// shipped, so an operator sees a stalled archive before a disaster does.
pub struct ArchiveGauges {
    /// Age of the oldest change not yet in the bucket, in seconds.
    pub lag_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// Changes committed here and not yet in the bucket.
    pub changes_behind: Gauge,
    /// Segments shipped by this process.
    pub segments_shipped: Gauge,
    /// Backups shipped by this process.
    pub backups_shipped: Gauge,
    /// Rounds that failed (retried).
    pub failures: Gauge,
    /// 1 while the last round failed, else 0.
    pub failing: Gauge,
}

impl ArchiveGauges {
    fn register(registry: &mut Registry) -> Self {
        let lag_seconds = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "archive_lag_seconds",
            "Age of the oldest change not yet in the off-site archive",
            lag_seconds.clone(),
        );
        let mut gauge = |name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        Self {
            lag_seconds,
            changes_behind: gauge(
                "archive_changes_behind",
                "Changes not yet in the off-site archive",
            ),
            segments_shipped: gauge(
                "archive_segments_shipped",
                "Change-log segments shipped to the off-site archive",
            ),
            backups_shipped: gauge(
                "archive_backups_shipped",
                "Backups shipped to the off-site archive",
            ),
            failures: gauge(
                "archive_failures",
                "Off-site archive rounds that failed (retried)",
            ),
            failing: gauge(
                "archive_failing",
                "1 while the off-site archive's last round failed, else 0",
            ),
        }
    }
}

/// Middleware that counts and times every request by its route template.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    // A label per method the server knows; anything else is folded into one, so invented
    // methods cannot grow /metrics without bound (issue 16).
    let method = match req.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m.to_string(),
        _ => "other".to_string(),
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    metrics
        .http_requests
        .get_or_create(&HttpLabels {
            method,
            route,
            status: resp.status().as_u16(),
        })
        .inc();
    metrics.http_seconds.observe(start.elapsed().as_secs_f64());
    resp
}
