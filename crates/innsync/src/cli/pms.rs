//! `innsync pms …`: the system side of the PMS link (a hospitality gateway / PBX simulator).

use anyhow::Context;
use clap::{Args, Subcommand};
use innsync_pms::net::{Gateway, GatewayConfig};
use innsync_pms::RoomPlan;
use std::io::Write;
use std::net::SocketAddr;

/// `innsync pms` subcommands.
#[derive(Subcommand, Debug)]
pub enum PmsCmd {
    /// Run the system side of the link: a gateway with its own occupancy database, hotel log
    /// and outbound queue, with rooms spread over N nodes, until Ctrl-C.
    Gateway(GatewayArgs),
    /// Ask a running server to start a General Reset on one of its links.
    Reset(ResetArgs),
}

/// Options of `innsync pms reset`.
#[derive(Args, Debug)]
pub struct ResetArgs {
    /// The link's name.
    #[arg(long)]
    pub link: String,
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:7000")]
    pub url: String,
    /// A bearer token of a user with front-desk or admin rights.
    #[arg(long, env = "INNSYNC_TOKEN", hide_env_values = true)]
    pub token: String,
}

/// Options of `innsync pms gateway`.
#[derive(Args, Debug)]
pub struct GatewayArgs {
    /// Where the PMS connects (Mitel-style dialect over TCP).
    #[arg(long, default_value = "127.0.0.1:5010")]
    pub listen: SocketAddr,
    /// Nodes (ICPs) the rooms are spread over.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// Control port: a line protocol (MODE, ROOMS, ROOM x, LOG n, STS s x, MW 1 x, RTI,
    /// DISCONNECT) to read the database and log and to act as the PBX.
    #[arg(long)]
    pub control: Option<SocketAddr>,
    /// Only rooms FIRST..FIRST+COUNT exist (as `FIRST:COUNT`); default: any extension.
    #[arg(long, value_parser = parse_rooms)]
    pub rooms: Option<(u32, u32)>,
}

fn parse_rooms(s: &str) -> Result<(u32, u32), String> {
    let (a, b) = s
        .split_once(':')
        .ok_or_else(|| format!("expected FIRST:COUNT like 101:40, got {s:?}"))?;
    let first = a.parse().map_err(|_| format!("bad first room {a:?}"))?;
    let count = b.parse().map_err(|_| format!("bad room count {b:?}"))?;
    Ok((first, count))
}

pub async fn run(cmd: PmsCmd) -> anyhow::Result<()> {
    super::init_logging("info");
    match cmd {
        PmsCmd::Reset(a) => {
            let api = crate::client::Api::new(&a.url, &a.token)?;
            let path = format!("/api/v1/pms/links/{}/reset", a.link);
            let (status, body) = api.call(reqwest::Method::POST, &path, None).await?;
            if !status.is_success() {
                anyhow::bail!(
                    "{status}: {}",
                    body["detail"].as_str().unwrap_or("no detail")
                );
            }
            println!("General Reset requested on link {}", a.link);
            Ok(())
        }
        PmsCmd::Gateway(a) => {
            let mut config = GatewayConfig::new(a.listen, a.nodes);
            config.control = a.control;
            if let Some((first, count)) = a.rooms {
                config.rooms = RoomPlan::numbered(first, count, a.nodes)
                    .map_err(|e| anyhow::anyhow!("--rooms: {e}"))?;
            }
            let gateway = Gateway::bind(config)
                .await
                .context("starting the gateway")?;
            let handle = gateway.handle();
            {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "gateway listening {}", gateway.local_addr()?);
                if let Some(c) = gateway.control_addr() {
                    let _ = writeln!(out, "control {c}");
                }
                let _ = out.flush();
            }
            let stopper = tokio::spawn(async move {
                super::serve::wait_for_stop().await;
                handle.shutdown().await;
            });
            let result = gateway.run().await;
            stopper.abort();
            result.context("gateway")
        }
    }
}
