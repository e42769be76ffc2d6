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
    /// Address to listen on; port 0 picks a free port (printed on stdout). Default: the host
    /// and port of this server's URL in the environment file, else 127.0.0.1:7000.
    #[arg(long)]
    pub listen: Option<String>,
    /// This server's two-letter code (WB, RS, PA…).
    #[arg(long)]
    pub server: String,
    /// The environment file shared by every server (multi-server environments).
    #[arg(long)]
    pub environment: Option<PathBuf>,
    /// A bearer token that authenticates as the admin.
    #[arg(long, env = "INNSYNC_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Reach a peer at another URL than the environment file's (`RS=http://10.0.0.5:7001`):
    /// a node's own setting, for tunnels and test proxies.
    #[arg(long = "peer-url", value_parser = parse_peer_url)]
    pub peer_urls: Vec<(ServerCode, String)>,
    /// Override a named timeout or limit (`handover_timeout=10s`, `pull_batch=500`); repeatable.
    #[arg(long = "setting", value_parser = parse_setting)]
    pub settings: Vec<(String, String)>,
    #[command(flatten)]
    pub cluster: super::cluster::ClusterArgs,
}

fn parse_setting(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, got {s:?}"))?;
    let mut probe = Settings::default();
    probe.set(k, v)?;
    Ok((k.to_string(), v.to_string()))
}

fn parse_peer_url(s: &str) -> Result<(ServerCode, String), String> {
    let (code, url) = s
        .split_once('=')
        .ok_or_else(|| format!("expected CODE=URL, got {s:?}"))?;
    Ok((
        ServerCode::parse(code)?,
        url.trim_end_matches('/').to_string(),
    ))
}

/// Reads an `environment.toml` (at most one byte beyond the largest allowed, so a huge file is
/// refused as too large without reading it all) and validates it.
pub fn read_environment(
    path: &std::path::Path,
) -> Result<innsync_environment::Environment, innsync_environment::LoadError> {
    use std::io::Read;
    let read_err = |source| innsync_environment::LoadError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    file.take(innsync_environment::limits::MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    innsync_environment::Environment::from_file(path, bytes)
}

/// Loads and checks the environment file for `server`, or explains why it cannot be used.
pub fn load_environment(
    path: &std::path::Path,
    server: &ServerCode,
    peer_urls: &[(ServerCode, String)],
) -> anyhow::Result<innsync_server::replication::EnvContext> {
    let env = read_environment(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let me = env
        .require_server(server)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        .clone();
    for (code, _) in peer_urls {
        if env.server(code).is_none() || code == server {
            bail!("--peer-url {code}: not a peer in {}", path.display());
        }
    }
    Ok(innsync_server::replication::EnvContext::new(
        env,
        me,
        peer_urls.iter().cloned().collect(),
    ))
}

pub async fn run(a: ServeArgs) -> anyhow::Result<()> {
    super::init_logging("info");
    let server = ServerCode::parse(&a.server).map_err(anyhow::Error::msg)?;
    let environment = match &a.environment {
        Some(path) => Some(Arc::new(load_environment(path, &server, &a.peer_urls)?)),
        None if !a.peer_urls.is_empty() => bail!("--peer-url needs --environment"),
        None => None,
    };
    let listen = match (&a.listen, &environment) {
        (Some(l), _) => l.clone(),
        (None, Some(e)) => {
            let u = &e.me.url;
            format!(
                "{}:{}",
                u.host_str().unwrap_or("127.0.0.1"),
                u.port_or_known_default().unwrap_or(7000)
            )
        }
        (None, None) => "127.0.0.1:7000".into(),
    };
    let mut settings = Settings::default();
    for (k, v) in &a.settings {
        settings.set(k, v).map_err(anyhow::Error::msg)?;
    }
    // The server's clock: the machine's, shifted by `clock_offset` (a fault harness's skew).
    let offset = settings.clock_offset;
    let clock: innsync_store::Clock = Arc::new(move || chrono::Utc::now() + offset);
    let config = ServerConfig {
        data_dir: a.data_dir.clone(),
        listen,
        server,
        admin_token: a.admin_token,
        cluster: a.cluster.config(
            environment
                .as_ref()
                .map(|e| e.env.secret.expose().to_string()),
            &settings,
        )?,
        settings,
        environment,
    };
    let running = innsync_server::start(config, clock)
        .await
        .with_context(|| format!("starting the server in {}", a.data_dir.display()))?;
    {
        // Best effort: whoever started us may have stopped reading; that is no reason to stop.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening {}://{}", running.scheme, running.addr);
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
    let node_stopped = running.cluster.as_ref().map(|n| n.stopped());
    let node_failed = async move {
        match node_stopped {
            Some(mut rx) => rx
                .wait_for(|s| s.is_some())
                .await
                .ok()
                .and_then(|s| s.clone())
                .unwrap_or_else(|| "the Raft core stopped".into()),
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = wait_for_stop() => {}
        // A cluster node whose storage failed stops rather than diverge; whoever supervises
        // it restarts it, and it resumes from its last applied entry.
        why = node_failed => {
            running.stop();
            anyhow::bail!("the cluster node stopped: {why}");
        }
    }
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
