//! innsync's HTTP server: the JSON API of API.md, bearer-token auth with roles, problem+json
//! errors, Prometheus metrics, and the server's own background jobs (hold sweeper, pullers,
//! pending-operation queue, distribution and allotment rules, handover timetable, backups, PMS
//! links).
//!
//! Handlers are thin: they parse and authorise, turn the request into a domain `Command`, hand
//! it to the store's writer, and render the outcome. Every rule lives in `innsync-core`.

pub mod allotment_rules;
pub mod api;
pub mod auth;
pub mod backups;
pub mod bootstrap;
pub mod cluster_http;
pub mod distribution;
pub mod extract;
pub mod gate;
pub mod json_views;
pub mod listener;
pub mod metrics;
pub mod night_audit;
pub mod offsite;
pub mod pms;
pub mod problem;
pub mod replication;
pub mod settings;
pub mod state;
pub mod sweeper;
pub mod tls;
pub mod ui;
pub mod write;

pub use settings::Settings;
pub use state::AppState;

use innsync_core::ServerCode;
use innsync_store::{Clock, Writer, WriterSettings};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] innsync_store::StoreError),
    /// The listen address could not be bound or served.
    #[error("listening on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The first admin could not be set up.
    #[error("setting up the admin: {0}")]
    Bootstrap(String),
    /// The cluster node could not start.
    #[error("the cluster node: {0}")]
    Cluster(String),
    /// The TLS certificates could not be used, or the configuration asks for TLS without them.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The off-site archive's settings are wrong (URL, key file).
    #[error("the off-site archive: {0}")]
    Offsite(String),
}

/// What a server needs to start.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where the database lives.
    pub data_dir: PathBuf,
    /// Address to listen on (`127.0.0.1:7000`; port 0 picks one).
    pub listen: String,
    /// This server's code.
    pub server: ServerCode,
    /// A token that authenticates as the admin; generated on first start if absent.
    pub admin_token: Option<String>,
    /// Named timeouts and limits.
    pub settings: Settings,
    /// The environment file and this server's place in it; `None` for a one-server environment.
    pub environment: Option<Arc<replication::EnvContext>>,
    /// This node's place in an HA cluster (DESIGN.md §7); `None` for a single node.
    pub cluster: Option<innsync_cluster::ClusterConfig>,
}

/// A started server: its address and a way to stop it.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `https` when the listener serves TLS, else `http`.
    pub scheme: &'static str,
    /// The admin token, when one was generated or given at this start.
    pub admin_token: Option<String>,
    /// Resolves when the server stops.
    pub task: tokio::task::JoinHandle<Result<(), ServeError>>,
    /// The cluster node, when this server runs as one.
    pub cluster: Option<Arc<innsync_cluster::ClusterNode>>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl Running {
    /// Asks the server to stop after in-flight requests finish.
    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }
}

/// Opens the store, bootstraps the admin, binds, and serves until stopped.
pub async fn start(config: ServerConfig, clock: Clock) -> Result<Running, ServeError> {
    let tls_server = listener_tls(&config)?;
    let peer_tls = tls::client_config(&config.settings.tls)?;
    let (writer, reads, cluster) = open_store(&config, &clock).await?;
    let mut state = AppState::new(writer, Arc::new(reads), clock, config.settings.clone());
    state.env = config.environment.clone();
    state.node_http = tls::peer_client_builder(peer_tls.as_ref(), config.settings.peer_h2c)
        .connect_timeout(std::time::Duration::from_secs(1))
        .tcp_nodelay(true)
        .build()
        .map_err(|e| ServeError::Tls(tls::TlsError::Config(e.to_string())))?;
    state.peer_tls = peer_tls.map(Arc::new);
    state.cluster = cluster.clone();
    if let Some(env) = &state.env {
        set_server_urls(env);
    }
    let (admin_token, cluster_admin) = match &cluster {
        None => (
            bootstrap::bootstrap_admin(&state, &config.data_dir, config.admin_token.clone())
                .await?,
            String::new(),
        ),
        // In a cluster the admin is set up by whichever node leads (see `cluster_http`).
        Some(_) => {
            let (t, new) = cluster_http::admin_token(&config.data_dir, config.admin_token.clone())?;
            (new.then(|| t.clone()), t)
        }
    };
    let (listener, addr) = bind(&config.listen).await?;
    let (shutdown, stop) = tokio::sync::watch::channel(false);
    // The jobs that write run where writes are taken: here, or on the cluster's leader only.
    let jobs = match &cluster {
        None => {
            if state.settings.archive_dir.is_some() || state.settings.offsite.url.is_some() {
                // Changes are numbered in commit order before the first write is taken.
                crate::write::track_commit_order(&state).await?;
            }
            start_pms_links(&state).await;
            spawn_jobs(&state, stop.clone())
        }
        Some(node) => vec![tokio::spawn(cluster_http::lead(
            state.clone(),
            node.clone(),
            config.data_dir.clone(),
            cluster_admin,
            stop.clone(),
        ))],
    };
    let housekeeping = backups::spawn(&state, &config.data_dir, stop.clone());
    let offsite_job = offsite::spawn(&state, &config.data_dir, stop.clone())?;
    let app = api::router(state.clone());
    let app = match &cluster {
        None => app,
        Some(node) => app
            .merge(cluster_http::router(state.clone()))
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                cluster_http::relay_to_leader,
            ))
            .merge(innsync_cluster::routes::router(node.clone())),
    };
    // A pause in a body beyond `body_read_timeout` ends the request.
    let app = app.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        state.settings.body_read_timeout,
    ));
    let limits = listener::ConnectionLimits {
        max_connections: state.settings.max_connections,
        max_per_address: state.settings.max_connections_per_address,
        header_read_timeout: state.settings.header_read_timeout,
    };
    let reload = tls_server
        .as_ref()
        .map(|t| t.spawn_reload(state.settings.tls_reload_interval, stop.clone()));
    let scheme = if tls_server.is_some() {
        "https"
    } else {
        "http"
    };
    let plain = match &state.settings.loopback_plain_listen {
        Some(l) => Some(loopback_plain(l, &app, &limits, &stop).await?),
        None => None,
    };
    let pms = state.pms.clone();
    let task = tokio::spawn(async move {
        let served = listener::serve(listener, app, limits, tls_server, stop.clone()).await;
        if let Some(p) = plain {
            let _ = p.await;
        }
        for j in jobs
            .into_iter()
            .chain(housekeeping)
            .chain(reload)
            .chain(offsite_job)
        {
            j.abort();
        }
        pms.stop_all();
        served.map_err(|source| ServeError::Listen {
            addr: addr.to_string(),
            source,
        })
    });
    tracing::info!(%addr, server = %config.server, "innsync serving");
    Ok(Running {
        addr,
        scheme,
        admin_token,
        task,
        cluster,
        shutdown,
    })
}

/// Serves `app` in plain HTTP on a loopback address too (the demo's browser UI).
async fn loopback_plain(
    listen: &str,
    app: &axum::Router,
    limits: &listener::ConnectionLimits,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<std::io::Result<()>>, ServeError> {
    let (l, addr) = bind(listen).await?;
    if !addr.ip().is_loopback() {
        return Err(ServeError::Listen {
            addr: addr.to_string(),
            source: std::io::Error::other("plain HTTP is served on a loopback address only"),
        });
    }
    tracing::info!(%addr, "plain HTTP on loopback");
    Ok(tokio::spawn(listener::serve(
        l,
        app.clone(),
        limits.clone(),
        None,
        stop.clone(),
    )))
}

/// The listener's TLS, when certificates are configured. An environment file that gives this
/// server an `https://` URL needs them: plain HTTP is served only when asked for (an `http://`
/// URL, or no environment).
fn listener_tls(config: &ServerConfig) -> Result<Option<Arc<tls::TlsServer>>, ServeError> {
    let files = &config.settings.tls;
    if files.serves_tls() {
        return Ok(Some(tls::TlsServer::load(files.clone())?));
    }
    if let Some(env) = &config.environment {
        if env.me.url.scheme() == "https" {
            return Err(ServeError::Tls(tls::TlsError::Config(format!(
                "the environment file gives {} the URL {}, but no tls_cert and tls_key are set",
                env.me.code, env.me.url
            ))));
        }
    }
    Ok(None)
}

/// The writer's limits and the environment's owners, holders and archives.
fn writer_settings(config: &ServerConfig) -> WriterSettings {
    WriterSettings {
        queue_limit: config.settings.write_queue_limit,
        max_batch: config.settings.write_batch_limit,
        initial_master: config
            .environment
            .as_ref()
            .map(|e| e.env.initial_master.clone()),
        property_owners: config
            .environment
            .as_ref()
            .map(|e| {
                e.env
                    .servers
                    .iter()
                    .flat_map(|s| s.properties.iter().map(|p| (p.clone(), s.code.clone())))
                    .collect()
            })
            .unwrap_or_default(),
        holders: config
            .environment
            .as_ref()
            .map(|e| {
                e.env
                    .servers
                    .iter()
                    .filter(|s| s.role.may_hold_allotments())
                    .map(|s| s.code.clone())
                    .collect()
            })
            .unwrap_or_default(),
        archives: config
            .environment
            .as_ref()
            .map(|e| {
                e.env
                    .servers
                    .iter()
                    .filter(|s| !s.role.may_hold_allotments())
                    .map(|s| s.code.clone())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The writer (and read pool) of a single node, or of a cluster node with its Raft node.
async fn open_store(
    config: &ServerConfig,
    clock: &Clock,
) -> Result<
    (
        Writer,
        innsync_store::ReadPool,
        Option<Arc<innsync_cluster::ClusterNode>>,
    ),
    ServeError,
> {
    let writer_settings = writer_settings(config);
    Ok(match &config.cluster {
        None => {
            let (w, r) = Writer::open(
                &config.data_dir,
                config.server.clone(),
                clock.clone(),
                writer_settings,
            )?;
            (w, r, None)
        }
        Some(c) => {
            let (w, r, replica, requests) = Writer::open_replicated(
                &config.data_dir,
                config.server.clone(),
                clock.clone(),
                writer_settings,
            )?;
            // The nodes talk to each other with the server's TLS.
            let mut c = c.clone();
            c.tls = tls::client_config(&config.settings.tls)?;
            let node = innsync_cluster::ClusterNode::start(
                c,
                &config.data_dir,
                config.data_dir.join(innsync_store::DB_FILE),
                replica,
                requests,
                clock.clone(),
            )
            .await
            .map_err(|e| ServeError::Cluster(e.to_string()))?;
            (w, r, Some(node))
        }
    })
}

/// Problems name the servers of the environment by URL.
fn set_server_urls(env: &replication::EnvContext) {
    problem::set_server_urls(
        env.env
            .servers
            .iter()
            .map(|s| {
                (
                    s.code.to_string(),
                    s.url.as_str().trim_end_matches('/').to_string(),
                )
            })
            .collect(),
    );
}

/// Binds the listen address.
async fn bind(listen: &str) -> Result<(tokio::net::TcpListener, SocketAddr), ServeError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: listen.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: listen.to_string(),
        source,
    })?;
    Ok((listener, addr))
}

/// Spawns the server's own jobs that write: the hold sweeper, a puller per peer, the timetable
/// and the pending-operation worker. They stop when `stop` turns true.
pub(crate) fn spawn_jobs(
    state: &AppState,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    std::iter::once(tokio::spawn(sweeper::run(state.clone(), stop.clone())))
        .chain(
            state
                .env
                .iter()
                .flat_map(|e| e.peer_urls.keys().cloned().collect::<Vec<_>>())
                .map(|peer| {
                    tokio::spawn(replication::puller::run(state.clone(), peer, stop.clone()))
                }),
        )
        .chain(std::iter::once(tokio::spawn(replication::timetable::run(
            state.clone(),
            stop.clone(),
        ))))
        .chain(std::iter::once(tokio::spawn(replication::queue::run(
            state.clone(),
            stop.clone(),
        ))))
        .chain(std::iter::once(tokio::spawn(distribution::run(
            state.clone(),
            stop.clone(),
        ))))
        .chain(std::iter::once(tokio::spawn(allotment_rules::run(
            state.clone(),
            stop.clone(),
        ))))
        .chain(std::iter::once(tokio::spawn(night_audit::run(
            state.clone(),
            stop.clone(),
        ))))
        .collect()
}

/// Starts every PMS link stored with this server.
pub(crate) async fn start_pms_links(state: &AppState) {
    let rows = match state.read(|r| r.pms_links()).await {
        Ok(rows) => rows,
        Err(p) => {
            tracing::error!(error = %p.detail, "PMS links could not be read; none started");
            return;
        }
    };
    for row in rows {
        match serde_json::from_str::<pms::LinkSettings>(&row.config) {
            Ok(settings) => state.pms.start(state, &row.name, settings, row.delivered),
            Err(e) => {
                tracing::error!(link = %row.name, error = %e, "stored PMS link settings unreadable")
            }
        }
    }
}
