//! `innsync pending …`: the queue of operations waiting for another server or a partner —
//! list them, retry a failed one, cancel one.

use super::master::Target;
use crate::client::Api;
use clap::Subcommand;
use reqwest::Method;
use serde_json::Value;

/// `innsync pending` subcommands.
#[derive(Subcommand, Debug)]
pub enum PendingCmd {
    /// List operations, newest first, with the queue's depth, oldest age and failures.
    List {
        /// Only this state (pending, in_progress, retry, done, failed, canceled).
        #[arg(long)]
        state: Option<String>,
        /// Only this pool.
        #[arg(long)]
        pool: Option<String>,
        /// Most operations listed.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[command(flatten)]
        target: Target,
    },
    /// Try a failed (or waiting) operation again now.
    Retry {
        /// Its id.
        id: i64,
        #[command(flatten)]
        target: Target,
    },
    /// Cancel an operation that has not completed.
    Cancel {
        /// Its id.
        id: i64,
        #[command(flatten)]
        target: Target,
    },
}

fn refused(status: reqwest::StatusCode, a: &Value) -> anyhow::Error {
    anyhow::anyhow!(
        "{status} {}: {}",
        a["code"].as_str().unwrap_or("error"),
        a["detail"].as_str().unwrap_or("no detail")
    )
}

/// One operation as a line.
fn line(o: &Value) -> String {
    format!(
        "{:>6}  {:<11} {:<8} {:<11} {:<8} att {:<3} {}{}",
        o["id"],
        o["state"].as_str().unwrap_or("?"),
        o["pool"].as_str().unwrap_or("?"),
        o["target"].as_str().unwrap_or("?"),
        o["op"].as_str().unwrap_or("?"),
        o["attempts"],
        o["summary"].as_str().unwrap_or(""),
        o["last_error"]
            .as_str()
            .map(|e| format!("  — {e}"))
            .unwrap_or_default()
    )
}

pub async fn run(cmd: PendingCmd) -> anyhow::Result<()> {
    match cmd {
        PendingCmd::List {
            state,
            pool,
            limit,
            target,
        } => {
            let api = Api::new(&target.url, &target.token)?;
            let mut q = format!("/api/v1/pending?limit={limit}");
            if let Some(s) = state {
                q.push_str(&format!("&state={s}"));
            }
            if let Some(p) = pool {
                q.push_str(&format!("&pool={p}"));
            }
            let (s, a) = api.call(Method::GET, &q, None).await?;
            if !s.is_success() {
                return Err(refused(s, &a));
            }
            println!(
                "depth {}  failed {}  oldest queued {}",
                a["depth"],
                a["failed"],
                a["oldest_created_at"].as_str().unwrap_or("-")
            );
            if let Some(last) = a["last_success"].as_object() {
                for (t, at) in last {
                    println!("  last success at {t}: {}", at.as_str().unwrap_or("?"));
                }
            }
            for o in a["pending"].as_array().into_iter().flatten() {
                println!("{}", line(o));
            }
            Ok(())
        }
        PendingCmd::Retry { id, target } => steer(id, "retry", target).await,
        PendingCmd::Cancel { id, target } => steer(id, "cancel", target).await,
    }
}

async fn steer(id: i64, action: &str, target: Target) -> anyhow::Result<()> {
    let api = Api::new(&target.url, &target.token)?;
    let (s, a) = api
        .call(
            Method::POST,
            &format!("/api/v1/pending/{id}/{action}"),
            None,
        )
        .await?;
    if !s.is_success() {
        return Err(refused(s, &a));
    }
    println!("{}", line(&a));
    Ok(())
}
