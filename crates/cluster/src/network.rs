//! Raft RPCs over HTTP between the nodes: `POST /cluster/raft/{append,vote,snapshot}` on the
//! peer's base URL, authenticated with the cluster token. A snapshot travels as one streamed
//! body: a length-prefixed JSON header (vote and snapshot meta), then the database file.

use crate::auth::TOKEN_HEADER;
use crate::types::{NodeId, SnapshotFile, TypeConfig, Vote};
use openraft::error::{
    Fatal, NetworkError, RPCError, RaftError, RemoteError, ReplicationClosed, StreamingError,
    Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{BasicNode, Snapshot};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How a node reaches its peers.
#[derive(Clone)]
pub struct Network {
    http: reqwest::Client,
    /// This node's own view of the peers' URLs (proxies, tunnels); the membership's address
    /// otherwise.
    urls: Arc<BTreeMap<NodeId, String>>,
    token: Arc<String>,
}

impl Network {
    /// A network with this node's peer URLs and the cluster token.
    pub fn new(
        urls: BTreeMap<NodeId, String>,
        token: String,
        connect_timeout: Duration,
        tls: Option<&rustls::ClientConfig>,
    ) -> Self {
        Self {
            http: crate::node_client(tls)
                .connect_timeout(connect_timeout)
                .build()
                .unwrap_or_default(),
            urls: Arc::new(urls),
            token: Arc::new(token),
        }
    }
}

/// One peer.
pub struct Peer {
    net: Network,
    target: NodeId,
    url: String,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Peer {
        let url = self
            .urls
            .get(&target)
            .cloned()
            .unwrap_or_else(|| node.addr.clone());
        Peer {
            net: self.clone(),
            target,
            url: url.trim_end_matches('/').to_string(),
        }
    }
}

/// The header of a snapshot body.
#[derive(Serialize, Deserialize)]
pub(crate) struct SnapshotHeader {
    pub vote: Vote,
    pub meta: openraft::SnapshotMeta<u64, BasicNode>,
}

impl Peer {
    async fn call<Req: Serialize, Resp: DeserializeOwned, E>(
        &self,
        what: &str,
        req: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>
    where
        E: std::error::Error + DeserializeOwned,
    {
        let resp = self
            .net
            .http
            .post(format!("{}/cluster/raft/{what}", self.url))
            .header(TOKEN_HEADER, self.net.token.as_str())
            .timeout(option.hard_ttl())
            .json(req)
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() {
                    RPCError::Unreachable(Unreachable::new(&e))
                } else {
                    RPCError::Network(NetworkError::new(&e))
                }
            })?;
        if !resp.status().is_success() {
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            return Err(RPCError::Network(NetworkError::new(
                &std::io::Error::other(format!(
                    "{what} to node {}: HTTP {status}: {text}",
                    self.target
                )),
            )));
        }
        let res: Result<Resp, RaftError<NodeId, E>> = resp
            .json()
            .await
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        res.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Peer {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call("append", &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call("vote", &rpc, &option).await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot<TypeConfig>,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<NodeId>, StreamingError<TypeConfig, Fatal<NodeId>>> {
        let SnapshotFile { path } = *snapshot.snapshot;
        let header = serde_json::to_vec(&SnapshotHeader {
            vote,
            meta: snapshot.meta,
        })
        .map_err(|e| StreamingError::Network(NetworkError::new(&e)))?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(|e| StreamingError::Network(NetworkError::new(&e)))?;
        let mut prefix = (header.len() as u32).to_be_bytes().to_vec();
        prefix.extend(header);
        let head = futures::stream::once(async move { Ok::<_, std::io::Error>(bytes(prefix)) });
        let body = futures::StreamExt::chain(head, tokio_util::io::ReaderStream::new(file));
        let send = self
            .net
            .http
            .post(format!("{}/cluster/raft/snapshot", self.url))
            .header(TOKEN_HEADER, self.net.token.as_str())
            .timeout(option.hard_ttl().max(Duration::from_secs(60)))
            .body(reqwest::Body::wrap_stream(body))
            .send();
        let resp = tokio::select! {
            r = send => r.map_err(|e| if e.is_connect() {
                StreamingError::Unreachable(Unreachable::new(&e))
            } else {
                StreamingError::Network(NetworkError::new(&e))
            })?,
            closed = cancel => return Err(StreamingError::Closed(closed)),
        };
        if !resp.status().is_success() {
            let status = resp.status();
            let text = resp.text().await.unwrap_or_default();
            return Err(StreamingError::Network(NetworkError::new(
                &std::io::Error::other(format!("snapshot: HTTP {status}: {text}")),
            )));
        }
        let res: Result<SnapshotResponse<NodeId>, Fatal<NodeId>> = resp
            .json()
            .await
            .map_err(|e| StreamingError::Network(NetworkError::new(&e)))?;
        res.map_err(|e| StreamingError::RemoteError(RemoteError::new(self.target, e)))
    }
}

fn bytes(v: Vec<u8>) -> axum::body::Bytes {
    axum::body::Bytes::from(v)
}
