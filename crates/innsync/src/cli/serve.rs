//! `innsync serve`: one server, until Ctrl-C or SIGTERM.

use anyhow::{bail, Context};
use clap::Args;
use innsync_core::ServerCode;
use innsync_server::{ServerConfig, Settings};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// Options of `innsync serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Where the database lives (created if missing).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:7000")]
    pub listen: String,
    /// This server's two-letter code (WB, RS, PA…).
    #[arg(long)]
    pub server: String,
    /// The environment file shared by every server (multi-server environments).
    #[arg(long)]
    pub environment: Option<PathBuf>,
    /// A bearer token that authenticates as the admin.
    #[arg(long, env = "INNSYNC_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

pub async fn run(a: ServeArgs) -> anyhow::Result<()> {
    super::init_logging("info");
    let server = ServerCode::parse(&a.server).map_err(anyhow::Error::msg)?;
    if let Some(env) = &a.environment {
        bail!(
            "--environment {}: multi-server environments are not available in this build yet; \
             run without --environment for a one-server environment",
            env.display()
        );
    }
    let config = ServerConfig {
        data_dir: a.data_dir.clone(),
        listen: a.listen.clone(),
        server,
        admin_token: a.admin_token,
        settings: Settings::default(),
    };
    let running = innsync_server::start(config, Arc::new(chrono::Utc::now))
        .await
        .with_context(|| format!("starting the server in {}", a.data_dir.display()))?;
    {
        // Best effort: whoever started us may have stopped reading; that is no reason to stop.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening http://{}", running.addr);
        if let Some(t) = &running.admin_token {
            let _ = writeln!(
                out,
                "admin token (also saved in {}): {t}",
                a.data_dir
                    .join(innsync_server::auth::ADMIN_TOKEN_FILE)
                    .display()
            );
        }
        let _ = out.flush();
    }
    wait_for_stop().await;
    running.stop();
    running.task.await.context("server task")??;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn wait_for_stop() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
