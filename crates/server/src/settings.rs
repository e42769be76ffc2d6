//! Every timeout and limit of the server, named, with its default.

use std::time::Duration;

/// Timeouts and limits of one server.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Largest request body accepted (413 beyond).
    pub max_body_bytes: usize,
    /// Rows a list returns when no `limit` is given.
    pub default_list_limit: usize,
    /// Most rows a list may return.
    pub max_list_limit: usize,
    /// How often lapsed provisional holds are looked for.
    pub hold_sweep_interval: Duration,
    /// How long an authenticated token is trusted before it is looked up again.
    pub auth_cache_ttl: Duration,
    /// Most tokens remembered in the auth cache.
    pub auth_cache_limit: usize,
    /// Most write requests waiting for the writer (503 beyond).
    pub write_queue_limit: usize,
    /// Most commands in one group commit.
    pub write_batch_limit: usize,
    /// Longest time a request of the public API may take, from its headers to its answer,
    /// before it is answered 503 (the whole-request deadline).
    pub request_timeout: Duration,
    /// Most requests of the public API (and UI) served at once; others wait.
    pub max_concurrent_requests: usize,
    // --- Safe on the open internet (issue 16) ---
    /// Longest wait for a request's headers, for the next request on an idle connection and
    /// for a TLS handshake; the connection is closed beyond.
    pub header_read_timeout: Duration,
    /// Longest pause while a request body is read (between two pieces of it); the request is
    /// refused beyond.
    pub body_read_timeout: Duration,
    /// The whole-request deadline of routes between servers (peer and cluster), which
    /// long-poll for up to 30 s.
    pub peer_route_timeout: Duration,
    /// Connections open at once (kept below the process's file limit).
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_connections_per_address: usize,
    /// Requests between servers (peer and cluster routes) served at once, in their own pool:
    /// the public API cannot starve replication.
    pub max_concurrent_peer_requests: usize,
    /// Login attempts per account per minute (429 beyond).
    pub login_per_account_per_minute: u32,
    /// Login attempts per client address per minute (429 beyond).
    pub login_per_address_per_minute: u32,
    /// TLS certificate, key and the environment's CA (none: plain HTTP).
    pub tls: crate::tls::TlsFiles,
    /// Whether routes between servers require a client certificate from the environment's CA
    /// (mutual TLS) besides the peer token.
    pub peer_mtls: bool,
    /// How often the TLS files are looked at for a new certificate.
    pub tls_reload_interval: Duration,
    /// Whether this server speaks HTTP/2 to peers on plain-HTTP (loopback) links without
    /// asking first (h2c "prior knowledge"). Over TLS, HTTP/2 is negotiated (ALPN) whatever
    /// this says; on a plain link a peer that speaks only HTTP/1.1 would fail, so it is off
    /// unless every peer is known to be an innsync server (the link benchmark, tests).
    pub peer_h2c: bool,
    /// A second listener serving plain HTTP on a loopback address only (`127.0.0.1:7000`): a
    /// browser on the same machine opens the UI without a certificate warning while the
    /// server's own listener, and every link between servers, is TLS. None by default.
    pub loopback_plain_listen: Option<String>,
    /// How often an idle PMS link looks for outbox events it was not woken for.
    pub pms_outbox_poll: Duration,
    /// Pause before a PMS message that failed every resend is tried again.
    pub pms_retry_delay: Duration,
    /// How long a pull waits at the peer for new changes (long-poll). Each empty answer costs
    /// a request and an answer on the link (about 540 bytes), so this sets an idle link's
    /// traffic (issue 22: 30 s keeps two servers' link under 40 bytes/s); new changes are
    /// answered at once whatever it is. A peer waits at most its `MAX_PULL_WAIT_MS` (30 s).
    pub pull_wait: Duration,
    /// Most changes asked for in one pull.
    pub pull_batch: usize,
    /// How long connecting to a peer may take.
    pub peer_connect_timeout: Duration,
    /// How long a pull may take beyond its wait.
    pub peer_request_timeout: Duration,
    /// First pause after a failed pull; doubles up to `peer_retry_max`.
    pub peer_retry_min: Duration,
    /// Longest pause between pulls of an unreachable peer.
    pub peer_retry_max: Duration,
    /// How long a handover may take to catch the target up before it aborts.
    pub handover_timeout: Duration,
    /// A handover target that has not pulled for this long counts as unreachable.
    pub handover_silence: Duration,
    /// How often the master looks at the timetable.
    pub timetable_check: Duration,
    /// How often due pending operations are looked for.
    pub pending_poll: Duration,
    /// First pause before a pending operation is tried again; doubles up to the max.
    pub pending_retry_min: Duration,
    /// Longest pause between two attempts of a pending operation.
    pub pending_retry_max: Duration,
    /// Attempts before a pending operation is given up as failed.
    pub pending_max_attempts: u32,
    /// Added to the machine's clock to give this server's time (`-90s`, `+2m`; default 0):
    /// a fault harness skews servers' clocks with it to test the timetable and hold expiry.
    pub clock_offset: chrono::TimeDelta,
    /// How often the environment's standing allotment rules run here.
    pub allotment_rule_interval: Duration,
    /// How often `on = "schedule"` distribution rules look at the records this server owns.
    pub rule_sweep_interval: Duration,
    // --- HA cluster and backups (issue 7) ---
    /// Cluster: heartbeat, election timeouts, log compaction, write and readiness limits.
    pub cluster: innsync_cluster::ClusterSettings,
    /// Where committed changes are archived in segments for point-in-time restore (none: off).
    pub archive_dir: Option<std::path::PathBuf>,
    /// How often new changes are archived.
    pub archive_interval: Duration,
    /// The off-site archive in object storage (`archive_url`, `archive_key_file`, …; issue 21).
    pub offsite: innsync_offsite::OffsiteSettings,
    /// Where scheduled backups go (none: off).
    pub backup_dir: Option<std::path::PathBuf>,
    /// Time between two scheduled backups.
    pub backup_interval: Duration,
    /// Scheduled backups kept; older ones are removed.
    pub backup_keep: usize,
    /// After a restore: how often the peers are asked for this server's own later changes.
    pub restore_recovery_retry: Duration,
    // --- Money (issue 18) ---
    /// Local time at each property after which the night audit closes the previous business
    /// date (for the bookings this server writes).
    pub night_audit_time: chrono::NaiveTime,
    /// How often the night audit job looks whether a property's audit is due.
    pub night_audit_check: Duration,
    /// Whether the night audit marks confirmed arrivals that never came as no-shows.
    pub night_audit_no_shows: bool,
    /// Share of a stay's price due as a deposit, in basis points (3 000 = 30%), on arrival: the
    /// deposits report's rule for bookings sold without a rate plan (a plan has its own).
    pub deposit_bp: u32,
    /// Whether the deposit sweep confirms a provisional booking once its plan's deposit is
    /// paid (it always releases one whose deposit is overdue).
    pub confirm_on_deposit: bool,
    // --- Operator UI (issue 19) ---
    /// How the UI writes and reads dates, one convention for the installation: `iso`
    /// (2026-11-23, the default), `dmy` (23/11/2026) or `mdy` (11/23/2026).
    pub ui_date_format: String,
    /// Whether the UI is served over TLS (directly or behind a proxy): its session cookie is
    /// then marked `Secure`, so a browser never sends it over plain HTTP.
    pub ui_tls: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            default_list_limit: 100,
            max_list_limit: 1_000,
            hold_sweep_interval: Duration::from_secs(1),
            auth_cache_ttl: Duration::from_secs(30),
            auth_cache_limit: 10_000,
            write_queue_limit: 8_192,
            write_batch_limit: 2_048,
            request_timeout: Duration::from_secs(60),
            max_concurrent_requests: 1_024,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            peer_route_timeout: Duration::from_secs(90),
            max_connections: 4_096,
            max_connections_per_address: 128,
            max_concurrent_peer_requests: 256,
            login_per_account_per_minute: 10,
            login_per_address_per_minute: 30,
            tls: crate::tls::TlsFiles::default(),
            peer_mtls: false,
            peer_h2c: false,
            tls_reload_interval: Duration::from_secs(10),
            loopback_plain_listen: None,
            pms_outbox_poll: Duration::from_millis(500),
            pms_retry_delay: Duration::from_secs(2),
            pull_wait: Duration::from_secs(30),
            pull_batch: 1_000,
            peer_connect_timeout: Duration::from_secs(2),
            peer_request_timeout: Duration::from_secs(5),
            peer_retry_min: Duration::from_millis(100),
            peer_retry_max: Duration::from_secs(3),
            handover_timeout: Duration::from_secs(30),
            handover_silence: Duration::from_secs(15),
            timetable_check: Duration::from_secs(5),
            pending_poll: Duration::from_millis(200),
            pending_retry_min: Duration::from_millis(200),
            pending_retry_max: Duration::from_secs(30),
            pending_max_attempts: 20,
            clock_offset: chrono::TimeDelta::zero(),
            allotment_rule_interval: Duration::from_secs(30),
            rule_sweep_interval: Duration::from_secs(3_600),
            cluster: innsync_cluster::ClusterSettings::default(),
            archive_dir: None,
            archive_interval: Duration::from_secs(1),
            offsite: innsync_offsite::OffsiteSettings::default(),
            backup_dir: None,
            backup_interval: Duration::from_secs(6 * 3600),
            backup_keep: 7,
            restore_recovery_retry: Duration::from_secs(1),
            night_audit_time: chrono::NaiveTime::from_hms_opt(3, 0, 0).unwrap_or_default(),
            night_audit_check: Duration::from_secs(60),
            night_audit_no_shows: true,
            deposit_bp: 3_000,
            confirm_on_deposit: true,
            ui_date_format: "iso".into(),
            ui_tls: false,
        }
    }
}

/// Parses `250ms`, `2s`, `5m` or `1h` (or plain milliseconds).
fn duration(v: &str) -> Result<Duration, String> {
    let (n, unit) = v
        .find(|c: char| !c.is_ascii_digit())
        .map_or((v, "ms"), |i| (&v[..i], &v[i..]));
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{v:?} is not a duration like 500ms or 2s"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("{v:?}: unit must be ms, s, m or h")),
    }
}

/// Parses a rate per minute (at least one).
fn per_minute(v: &str) -> Result<u32, String> {
    v.parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{v:?} is not a count per minute (1 or more)"))
}

/// Parses a signed duration (`-90s`, `+2m`, `250ms`) for [`Settings::clock_offset`].
fn signed_duration(v: &str) -> Result<chrono::TimeDelta, String> {
    let (negative, magnitude) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let d = chrono::TimeDelta::from_std(duration(magnitude)?)
        .map_err(|_| format!("{v:?} is too long an offset"))?;
    Ok(if negative { -d } else { d })
}

impl Settings {
    /// Overrides one setting by its name (`innsync serve --setting handover_timeout=10s`).
    #[allow(clippy::too_many_lines, reason = "one arm per setting, read as a list")]
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let count = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("{v:?} is not a count"))
        };
        match name {
            "max_body_bytes" => self.max_body_bytes = count(value)?,
            "default_list_limit" => self.default_list_limit = count(value)?,
            "max_list_limit" => self.max_list_limit = count(value)?,
            "hold_sweep_interval" => self.hold_sweep_interval = duration(value)?,
            "auth_cache_ttl" => self.auth_cache_ttl = duration(value)?,
            "write_queue_limit" => self.write_queue_limit = count(value)?,
            "write_batch_limit" => self.write_batch_limit = count(value)?,
            "request_timeout" => self.request_timeout = duration(value)?,
            "max_concurrent_requests" => self.max_concurrent_requests = count(value)?,
            "header_read_timeout" => self.header_read_timeout = duration(value)?,
            "body_read_timeout" => self.body_read_timeout = duration(value)?,
            "peer_route_timeout" => self.peer_route_timeout = duration(value)?,
            "max_connections" => self.max_connections = count(value)?,
            "max_connections_per_address" => self.max_connections_per_address = count(value)?,
            "max_concurrent_peer_requests" => self.max_concurrent_peer_requests = count(value)?,
            "login_per_account_per_minute" => {
                self.login_per_account_per_minute = per_minute(value)?
            }
            "login_per_address_per_minute" => {
                self.login_per_address_per_minute = per_minute(value)?
            }
            "tls_cert" => self.tls.cert = Some(value.into()),
            "tls_key" => self.tls.key = Some(value.into()),
            "tls_ca" => self.tls.ca = Some(value.into()),
            "peer_mtls" => {
                self.peer_mtls = value
                    .parse()
                    .map_err(|_| format!("{value:?} is not true or false"))?
            }
            "peer_h2c" => {
                self.peer_h2c = value
                    .parse()
                    .map_err(|_| format!("{value:?} is not true or false"))?
            }
            "tls_reload_interval" => self.tls_reload_interval = duration(value)?,
            "loopback_plain_listen" => {
                let addr: std::net::SocketAddr = value
                    .parse()
                    .map_err(|_| format!("{value:?} is not an address like 127.0.0.1:7000"))?;
                if !addr.ip().is_loopback() {
                    return Err(format!(
                        "{value}: plain HTTP is served on a loopback address only"
                    ));
                }
                self.loopback_plain_listen = Some(value.to_string());
            }
            "pms_outbox_poll" => self.pms_outbox_poll = duration(value)?,
            "pms_retry_delay" => self.pms_retry_delay = duration(value)?,
            "pull_wait" => self.pull_wait = duration(value)?,
            "pull_batch" => self.pull_batch = count(value)?,
            "peer_connect_timeout" => self.peer_connect_timeout = duration(value)?,
            "peer_request_timeout" => self.peer_request_timeout = duration(value)?,
            "peer_retry_min" => self.peer_retry_min = duration(value)?,
            "peer_retry_max" => self.peer_retry_max = duration(value)?,
            "handover_timeout" => self.handover_timeout = duration(value)?,
            "handover_silence" => self.handover_silence = duration(value)?,
            "timetable_check" => self.timetable_check = duration(value)?,
            "pending_poll" => self.pending_poll = duration(value)?,
            "pending_retry_min" => self.pending_retry_min = duration(value)?,
            "pending_retry_max" => self.pending_retry_max = duration(value)?,
            "allotment_rule_interval" => self.allotment_rule_interval = duration(value)?,
            "rule_sweep_interval" => self.rule_sweep_interval = duration(value)?,
            "pending_max_attempts" => {
                self.pending_max_attempts = value
                    .parse()
                    .map_err(|_| format!("{value:?} is not a count"))?
            }
            "clock_offset" => self.clock_offset = signed_duration(value)?,
            "cluster_heartbeat" => self.cluster.heartbeat = duration(value)?,
            "cluster_election_min" => self.cluster.election_min = duration(value)?,
            "cluster_election_max" => self.cluster.election_max = duration(value)?,
            "cluster_snapshot_logs" => {
                self.cluster.snapshot_logs = count(value)?.max(1) as u64;
            }
            "cluster_keep_logs" => self.cluster.keep_logs = count(value)? as u64,
            "cluster_connect_timeout" => self.cluster.connect_timeout = duration(value)?,
            "cluster_write_timeout" => self.cluster.write_timeout = duration(value)?,
            "cluster_in_flight" => self.cluster.in_flight = count(value)?.max(1),
            "cluster_max_rpc_bytes" => self.cluster.max_rpc_bytes = count(value)?,
            "cluster_ready_quorum_age" => self.cluster.ready_quorum_age = duration(value)?,
            "archive_dir" => self.archive_dir = Some(value.into()),
            "archive_interval" => self.archive_interval = duration(value)?,
            "backup_dir" => self.backup_dir = Some(value.into()),
            "backup_interval" => self.backup_interval = duration(value)?,
            "backup_keep" => self.backup_keep = count(value)?.max(1),
            "restore_recovery_retry" => self.restore_recovery_retry = duration(value)?,
            "night_audit_time" => {
                self.night_audit_time = chrono::NaiveTime::parse_from_str(value, "%H:%M")
                    .map_err(|_| format!("{value:?} is not a time of day (HH:MM)"))?
            }
            "night_audit_check" => self.night_audit_check = duration(value)?,
            "night_audit_no_shows" => {
                self.night_audit_no_shows = value
                    .parse()
                    .map_err(|_| format!("{value:?} is not true or false"))?
            }
            "deposit_bp" => {
                self.deposit_bp = value
                    .parse::<u32>()
                    .ok()
                    .filter(|v| *v <= 10_000)
                    .ok_or_else(|| format!("{value:?} is not basis points from 0 to 10000"))?
            }
            "confirm_on_deposit" => {
                self.confirm_on_deposit = value
                    .parse()
                    .map_err(|_| format!("{value:?} is not true or false"))?
            }
            "ui_date_format" => match value {
                "iso" | "dmy" | "mdy" => self.ui_date_format = value.into(),
                _ => return Err(format!("{value:?}: ui_date_format is iso, dmy or mdy")),
            },
            "ui_tls" => {
                self.ui_tls = value
                    .parse()
                    .map_err(|_| format!("{value:?} is not true or false"))?
            }
            other if innsync_offsite::OffsiteSettings::NAMES.contains(&other) => {
                self.offsite.set(other, value, duration)?
            }
            other => return Err(format!("no setting named {other:?}")),
        }
        if self.max_body_bytes == 0
            || self.max_list_limit == 0
            || self.pull_batch == 0
            || self.max_connections == 0
            || self.max_connections_per_address == 0
            || self.max_concurrent_requests == 0
            || self.max_concurrent_peer_requests == 0
            || self.header_read_timeout.is_zero()
            || self.body_read_timeout.is_zero()
            || self.request_timeout.is_zero()
            || self.peer_route_timeout.is_zero()
            || self.tls_reload_interval.is_zero()
        {
            return Err(format!("{name} must be more than zero"));
        }
        if self.cluster.election_min <= self.cluster.heartbeat
            || self.cluster.election_max <= self.cluster.election_min
        {
            return Err(format!(
                "{name}: cluster_heartbeat < cluster_election_min < cluster_election_max must hold"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_set_by_name_with_units() {
        let mut s = Settings::default();
        s.set("handover_timeout", "3s").unwrap();
        s.set("pull_wait", "250ms").unwrap();
        s.set("pending_max_attempts", "5").unwrap();
        assert_eq!(s.handover_timeout, Duration::from_secs(3));
        assert_eq!(s.pull_wait, Duration::from_millis(250));
        assert_eq!(s.pending_max_attempts, 5);
        assert!(s.set("nonsense", "1").is_err());
        assert!(s.set("pull_wait", "soon").is_err());
        assert!(s.set("pull_batch", "0").is_err());
        let mut s = Settings::default();
        s.set("clock_offset", "-90s").unwrap();
        assert_eq!(s.clock_offset, chrono::TimeDelta::seconds(-90));
        s.set("clock_offset", "+2m").unwrap();
        assert_eq!(s.clock_offset, chrono::TimeDelta::minutes(2));
        assert!(s.set("clock_offset", "-soon").is_err());
    }
}
