//! `run_pms_link` in the listening role: a system connects to innsync, its messages reach the
//! application, and a new connection replaces the current one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use std::time::Duration;

use common::*;
use innsync_pms::net::{run_pms_link, LinkRole, PmsLinkConfig};
use innsync_pms::{MaidStatus, Message, PmsEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

async fn system_sends(stream: &mut TcpStream, text: &str) -> u8 {
    let mut b = [0u8; 1];
    stream.write_all(&[0x05]).await.unwrap();
    stream.read_exact(&mut b).await.unwrap();
    assert_eq!(b[0], 0x06);
    let mut frame = vec![0x02];
    frame.extend_from_slice(text.as_bytes());
    frame.push(0x03);
    stream.write_all(&frame).await.unwrap();
    stream.read_exact(&mut b).await.unwrap();
    b[0]
}

#[tokio::test]
async fn listening_pms_link_receives_maid_status_and_replaces_connections() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (requests, req_rx) = mpsc::channel(4);
    let (ev_tx, events) = mpsc::channel(64);
    let config = PmsLinkConfig {
        role: LinkRole::Listener(listener),
        settings: pms_settings(false),
        reconnect_delay: Duration::from_millis(50),
    };
    tokio::spawn(run_pms_link(config, req_rx, ev_tx));
    let mut pms = PmsUnderTest {
        requests,
        events,
        seen: Vec::new(),
    };
    let mut first = TcpStream::connect(addr).await.unwrap();
    pms.wait(None, |e| *e == PmsEvent::LinkUp).await;
    assert_eq!(system_sends(&mut first, "STS 5 1234 ").await, 0x06);
    pms.wait(None, |e| {
        *e == PmsEvent::Received(Message::MaidStatus {
            status: MaidStatus::OUT_OF_ORDER,
            extension: ext("1234"),
        })
    })
    .await;
    assert_eq!(
        system_sends(&mut first, "CHK1  1234").await,
        0x15,
        "wrong direction is NAKed"
    );
    // A second connection replaces the first.
    let mut second = TcpStream::connect(addr).await.unwrap();
    pms.wait(None, |e| *e == PmsEvent::LinkDown).await;
    pms.wait(None, |e| *e == PmsEvent::LinkUp).await;
    assert_eq!(system_sends(&mut second, "MW 1 1234 ").await, 0x06);
    pms.wait(None, |e| {
        matches!(
            e,
            PmsEvent::Received(Message::MessageWaiting { on: true, .. })
        )
    })
    .await;
    let mut rest = Vec::new();
    let n = first.read_to_end(&mut rest).await.unwrap_or(0);
    assert_eq!(n, 0, "the replaced connection was closed");
}
