//! `innsync master …` and `innsync status`: the operator's view of and hand on the master token.

use crate::client::Api;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;

/// Where to reach a server and as whom.
#[derive(Args, Debug)]
pub struct Target {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:7000")]
    pub url: String,
    /// A bearer token (an admin's, for handovers).
    #[arg(long, env = "INNSYNC_TOKEN", hide_env_values = true)]
    pub token: String,
}

/// `innsync master` subcommands.
#[derive(Subcommand, Debug)]
pub enum MasterCmd {
    /// Hand the master token to another server (run by the current master; followed there if
    /// the server asked is not the master).
    Handover {
        /// The new master.
        #[arg(long)]
        to: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Take the master token on the server asked, without the master (it is gone). Audited;
    /// the old master's later env writes go to conflicts when it returns.
    Takeover {
        /// Required: this is not a handover.
        #[arg(long)]
        force: bool,
        /// Why, for the audit log.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        target: Target,
    },
}

pub async fn run(cmd: MasterCmd) -> anyhow::Result<()> {
    match cmd {
        MasterCmd::Takeover {
            force,
            reason,
            target,
        } => {
            if !force {
                anyhow::bail!("a takeover needs --force: it fences the old master's later writes into conflicts");
            }
            let api = Api::new(&target.url, &target.token)?;
            let (s, a) = api
                .call(
                    Method::POST,
                    "/api/v1/environment/takeover",
                    Some(&json!({"force": true, "reason": reason})),
                )
                .await?;
            if !s.is_success() {
                anyhow::bail!("{s}: {}", a["detail"].as_str().unwrap_or("no detail"));
            }
            println!(
                "{} is master at epoch {}; {}'s env writes after its change {} will go to conflicts",
                a["master"]["server"], a["master"]["epoch"], a["fenced"]["server"], a["fenced"]["after_seq"]
            );
            Ok(())
        }
        MasterCmd::Handover { to, reason, target } => {
            let body = json!({ "to": to, "reason": reason });
            let mut api = Api::new(&target.url, &target.token)?;
            let (mut status, mut answer) = api
                .call(Method::POST, "/api/v1/environment/handover", Some(&body))
                .await?;
            if answer["code"] == "not_master" {
                if let Some(url) = answer["master_url"].as_str() {
                    println!("the master is {}; asking it at {url}", answer["master"]);
                    api = Api::new(url, &target.token)?;
                    (status, answer) = api
                        .call(Method::POST, "/api/v1/environment/handover", Some(&body))
                        .await?;
                }
            }
            if !status.is_success() {
                anyhow::bail!(
                    "{status}: {}",
                    answer["detail"].as_str().unwrap_or("no detail")
                );
            }
            println!(
                "master is now {} at epoch {} (env writes frozen for {} ms)",
                answer["master"]["server"], answer["master"]["epoch"], answer["frozen_ms"]
            );
            Ok(())
        }
    }
}

/// `innsync status`: master, epoch, and each server's reachability and lag.
pub async fn status(target: Target) -> anyhow::Result<()> {
    let api = Api::new(&target.url, &target.token)?;
    let (s, e) = api.call(Method::GET, "/api/v1/environment", None).await?;
    if !s.is_success() {
        anyhow::bail!("{s}: {}", e["detail"].as_str().unwrap_or("no detail"));
    }
    println!(
        "environment {}  server {} ({})  master {} epoch {}  state {}",
        e["environment"],
        e["server"],
        e["role"],
        e["master"]["server"],
        e["master"]["epoch"],
        e["state"]
    );
    println!(
        "pending {}  failed {}  conflicts {}",
        e["pending"]["count"], e["pending"]["failed"], e["conflicts"]
    );
    println!(
        "{:<4} {:<12} {:<9} {:>7}  {:<28} url",
        "code", "role", "reachable", "behind", "last sync"
    );
    for srv in e["servers"].as_array().into_iter().flatten() {
        println!(
            "{:<4} {:<12} {:<9} {:>7}  {:<28} {}",
            srv["code"].as_str().unwrap_or("?"),
            srv["role"].as_str().unwrap_or("?"),
            srv["reachable"],
            srv["behind"],
            srv["last_sync"].as_str().unwrap_or("-"),
            srv["url"].as_str().unwrap_or("-")
        );
    }
    print_links(&e);
    Ok(())
}

/// The peer links' figures of `innsync status` (issue 22): traffic over the last minute,
/// round trip, retries, time since the last good pull, estimated catch-up.
fn print_links(e: &serde_json::Value) {
    let peers: Vec<_> = e["servers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["link"].is_object())
        .collect();
    if peers.is_empty() {
        return;
    }
    println!(
        "{:<4} {:>10} {:>10} {:>9} {:>7} {:>13} {:>10}",
        "link", "in B/s", "out B/s", "rtt ms", "retries", "last good s", "catch-up s"
    );
    let or_dash = |v: &serde_json::Value| {
        v.as_f64()
            .map_or_else(|| "-".to_string(), |n| format!("{n:.0}"))
    };
    for srv in peers {
        let l = &srv["link"];
        println!(
            "{:<4} {:>10} {:>10} {:>9} {:>7} {:>13} {:>10}",
            srv["code"].as_str().unwrap_or("?"),
            or_dash(&l["bytes_in_per_s"]),
            or_dash(&l["bytes_out_per_s"]),
            or_dash(&l["rtt_ms"]),
            or_dash(&l["retries"]),
            or_dash(&l["since_success_s"]),
            or_dash(&l["catch_up_s"])
        );
    }
}

/// `innsync transfer --with XX`: pull everything from a peer now and say what moved.
pub async fn transfer(with: String, target: Target) -> anyhow::Result<()> {
    let api = Api::new(&target.url, &target.token)?;
    let (s, t) = api
        .call(
            Method::POST,
            "/api/v1/environment/transfer",
            Some(&json!({ "with": with })),
        )
        .await?;
    if !s.is_success() {
        anyhow::bail!("{s}: {}", t["detail"].as_str().unwrap_or("no detail"));
    }
    println!(
        "from {}: {} changes received ({} older than ours, kept in the log), {} duplicates skipped",
        t["with"].as_str().unwrap_or("?"),
        t["received"],
        t["stale"],
        t["duplicates"]
    );
    println!(
        "to {}: {} changes it has not pulled yet (it pulls them by itself)",
        t["with"].as_str().unwrap_or("?"),
        t["peer_behind"]
    );
    Ok(())
}
