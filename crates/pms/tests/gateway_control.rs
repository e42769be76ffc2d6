//! The gateway's line-based control protocol over TCP: play the PBX from another process.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use common::*;
use innsync_pms::net::{Gateway, GatewayConfig};
use innsync_pms::RoomPlan;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

async fn ask(
    lines: &mut tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    w: &mut tokio::net::tcp::OwnedWriteHalf,
    cmd: &str,
) -> Vec<String> {
    w.write_all(format!("{cmd}\n").as_bytes()).await.unwrap();
    let mut out = Vec::new();
    loop {
        let line = tokio::time::timeout(PATIENCE, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let last = line.starts_with("OK") || line.starts_with("ERR");
        out.push(line);
        if last {
            return out;
        }
    }
}

#[tokio::test]
async fn control_port_reads_the_database_and_raises_messages() {
    let mut config = GatewayConfig::new("127.0.0.1:0".parse().unwrap(), 2);
    config.rooms = RoomPlan::numbered(101, 3, 2).unwrap();
    config.settings = gateway_settings();
    config.control = Some("127.0.0.1:0".parse().unwrap());
    let gateway = Gateway::bind(config).await.unwrap();
    let control = gateway.control_addr().unwrap();
    let addr = gateway.local_addr().unwrap();
    let handle = gateway.handle();
    tokio::spawn(gateway.run());

    let (r, mut w) = TcpStream::connect(control).await.unwrap().into_split();
    let mut lines = BufReader::new(r).lines();
    assert_eq!(ask(&mut lines, &mut w, "MODE").await, vec!["OK Normal"]);
    assert_eq!(
        ask(&mut lines, &mut w, "ROOMS").await.last().unwrap(),
        "OK 3"
    );
    assert_eq!(
        ask(&mut lines, &mut w, "STS 3 102").await,
        vec!["OK queued"]
    );
    assert_eq!(
        ask(&mut lines, &mut w, "ROOM 102").await,
        vec!["ROOM 102 occupied=0 mw=0 maid=3 name=", "OK"]
    );
    assert!(ask(&mut lines, &mut w, "MW 1 999").await[0].starts_with("ERR"));
    assert!(ask(&mut lines, &mut w, "FROB").await[0].starts_with("ERR"));

    // A raw PMS checks a guest in; the control port sees it.
    let mut raw = RawPms::connect(addr).await;
    assert!(raw.send("CHK1   101").await);
    assert_eq!(
        ask(&mut lines, &mut w, "ROOM 101").await[0],
        "ROOM 101 occupied=1 mw=0 maid=0 name="
    );
    let log = ask(&mut lines, &mut w, "LOG 5").await;
    assert!(log.iter().any(|l| l.ends_with("PMS link up")), "{log:?}");
    handle.shutdown().await;
}
