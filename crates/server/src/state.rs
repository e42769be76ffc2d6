//! The state every handler shares.

use crate::auth::AuthCache;
use crate::metrics::Metrics;
use crate::problem::{ApiResult, Problem};
use crate::settings::Settings;
use innsync_store::{Clock, ReadPool, StoreError, Writer};
use std::sync::Arc;

/// Handles to the store, settings, metrics and caches; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The single writer.
    pub writer: Writer,
    /// Read-only connections.
    pub reads: Arc<ReadPool>,
    /// The clock, injected so tests can drive time.
    pub clock: Clock,
    /// Named timeouts and limits.
    pub settings: Arc<Settings>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Recently authenticated tokens.
    pub auth: Arc<AuthCache>,
    /// The PMS links this server runs.
    pub pms: Arc<crate::pms::PmsLinks>,
    /// The environment this server belongs to; `None` when it runs alone.
    pub env: Option<Arc<crate::replication::EnvContext>>,
    /// This node of an HA cluster; `None` for a single node.
    pub cluster: Option<Arc<innsync_cluster::ClusterNode>>,
    /// TLS for links to peers and cluster nodes (the environment's CA, this server's
    /// certificate for mutual TLS); `None`: plain HTTP, as the URLs say.
    pub peer_tls: Option<Arc<rustls::ClientConfig>>,
    /// The client a cluster node relays requests to the leader with (TLS as `peer_tls`).
    pub node_http: reqwest::Client,
}

impl AppState {
    /// Wires the state together.
    pub fn new(writer: Writer, reads: Arc<ReadPool>, clock: Clock, settings: Settings) -> Self {
        Self {
            writer,
            reads,
            clock,
            settings: Arc::new(settings),
            metrics: Arc::new(Metrics::new()),
            auth: Arc::new(AuthCache::default()),
            pms: Arc::new(crate::pms::PmsLinks::default()),
            env: None,
            cluster: None,
            peer_tls: None,
            node_http: reqwest::Client::new(),
        }
    }

    /// Runs a blocking read on the read pool off the async threads.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&ReadPool) -> Result<T, StoreError> + Send + 'static,
    ) -> ApiResult<T> {
        let pool = self.reads.clone();
        tokio::task::spawn_blocking(move || f(&pool))
            .await
            .map_err(|e| Problem::unavailable(format!("read task failed: {e}")))?
            .map_err(Problem::from)
    }
}
