//! `innsync serve --cluster-…` (a node of an HA cluster) and `innsync cluster
//! status|add|remove|replace` (the operator's view of and hand on the membership).

use super::master::Target;
use crate::client::Api;
use anyhow::bail;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeMap;

/// The cluster options of `innsync serve`.
#[derive(Args, Debug, Default)]
pub struct ClusterArgs {
    /// Run as node N of an HA cluster (needs --cluster-peers).
    #[arg(long)]
    pub cluster_node: Option<u64>,
    /// Every node as `ID=URL,ID=URL,…`, as this node reaches it; this node's own entry is
    /// the URL the others reach it at.
    #[arg(long, value_parser = parse_peers)]
    pub cluster_peers: Option<BTreeMap<u64, String>>,
    /// The secret the nodes prove they share (default: the environment file's secret).
    #[arg(long, env = "INNSYNC_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<String>,
    /// On the very first start of one node only: create the cluster with every peer as a
    /// voter. Ignored once the node has Raft state, or when a peer already has a cluster.
    #[arg(long)]
    pub cluster_bootstrap: bool,
}

fn parse_peers(s: &str) -> Result<BTreeMap<u64, String>, String> {
    let mut out = BTreeMap::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let (id, url) = part
            .split_once('=')
            .ok_or_else(|| format!("expected ID=URL, got {part:?}"))?;
        let id: u64 = id
            .trim()
            .parse()
            .map_err(|_| format!("{id:?} is not a node id (a number)"))?;
        let url = url.trim().trim_end_matches('/');
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(format!("node {id}: {url:?} is not an http(s) URL"));
        }
        if out.insert(id, url.to_string()).is_some() {
            return Err(format!("node {id} is named twice"));
        }
    }
    if out.is_empty() {
        return Err("no peers given".into());
    }
    Ok(out)
}

impl ClusterArgs {
    /// The node's configuration, or `None` for a single node.
    pub fn config(
        &self,
        env_secret: Option<String>,
        settings: &innsync_server::Settings,
    ) -> anyhow::Result<Option<innsync_cluster::ClusterConfig>> {
        let (node, peers) = match (&self.cluster_node, &self.cluster_peers) {
            (None, None) if !self.cluster_bootstrap => return Ok(None),
            (Some(n), Some(p)) => (*n, p.clone()),
            _ => bail!("a cluster node needs both --cluster-node and --cluster-peers"),
        };
        if !peers.contains_key(&node) {
            bail!("--cluster-peers names no URL for this node ({node})");
        }
        let Some(secret) = self.cluster_secret.clone().or(env_secret) else {
            bail!("a cluster node needs a secret: --cluster-secret (or INNSYNC_CLUSTER_SECRET), or an --environment file");
        };
        Ok(Some(innsync_cluster::ClusterConfig {
            node,
            peers,
            secret,
            bootstrap: self.cluster_bootstrap,
            settings: settings.cluster.clone(),
            tls: None,
        }))
    }
}

/// `innsync cluster` subcommands.
#[derive(Subcommand, Debug)]
pub enum ClusterCmd {
    /// This node's view: role, term, leader, log and applied positions, members.
    Status(Target),
    /// Add a node (it catches up as a learner, then votes).
    Add {
        /// The new node's id.
        #[arg(long)]
        node: u64,
        /// Its URL.
        #[arg(long)]
        node_url: String,
        #[command(flatten)]
        target: Target,
    },
    /// Remove a node from the voters.
    Remove {
        /// The node's id.
        #[arg(long)]
        node: u64,
        #[command(flatten)]
        target: Target,
    },
    /// Replace node OLD by a new node: add it, let it catch up, then remove OLD.
    Replace {
        /// The node replaced.
        #[arg(long)]
        old: u64,
        /// The new node's id.
        #[arg(long)]
        node: u64,
        /// Its URL.
        #[arg(long)]
        node_url: String,
        #[command(flatten)]
        target: Target,
    },
}

pub async fn run(cmd: ClusterCmd) -> anyhow::Result<()> {
    let (target, method, path, body) = match cmd {
        ClusterCmd::Status(t) => (t, Method::GET, "/api/v1/cluster", None),
        ClusterCmd::Add {
            node,
            node_url,
            target,
        } => (
            target,
            Method::POST,
            "/api/v1/cluster/add",
            Some(json!({"node": node, "url": node_url})),
        ),
        ClusterCmd::Remove { node, target } => (
            target,
            Method::POST,
            "/api/v1/cluster/remove",
            Some(json!({"node": node})),
        ),
        ClusterCmd::Replace {
            old,
            node,
            node_url,
            target,
        } => (
            target,
            Method::POST,
            "/api/v1/cluster/replace",
            Some(json!({"old": old, "node": node, "url": node_url})),
        ),
    };
    let api = Api::new(&target.url, &target.token)?;
    let (status, v) = api.call(method, path, body.as_ref()).await?;
    if !status.is_success() {
        bail!("{status}: {}", v["detail"].as_str().unwrap_or("no detail"));
    }
    println!(
        "node {} is {} (term {})",
        v["node"],
        v["role"].as_str().unwrap_or("?"),
        v["term"]
    );
    println!(
        "leader: {} {}",
        v["leader"],
        v["leader_url"].as_str().unwrap_or("")
    );
    println!(
        "log: last {} applied {} snapshot {}",
        v["last_log_index"], v["last_applied"], v["snapshot"]
    );
    if let Some(voters) = v["voters"].as_object() {
        for (id, url) in voters {
            println!("voter {id}: {}", url.as_str().unwrap_or(""));
        }
    }
    if let Some(learners) = v["learners"].as_object() {
        for (id, url) in learners {
            println!("learner {id}: {}", url.as_str().unwrap_or(""));
        }
    }
    println!("writable: {}", v["writable"]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse_with_clear_errors() {
        let p = parse_peers("1=http://a:1,2=http://b:2/,3=http://c:3").unwrap();
        assert_eq!(p[&2], "http://b:2");
        assert!(parse_peers("1=http://a:1,1=http://b:2")
            .unwrap_err()
            .contains("twice"));
        assert!(parse_peers("x=http://a").unwrap_err().contains("node id"));
        assert!(parse_peers("1=ftp://a").unwrap_err().contains("http"));
        assert!(parse_peers("").is_err());
    }
}
