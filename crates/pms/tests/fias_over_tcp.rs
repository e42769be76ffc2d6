//! FIAS over real loopback TCP: innsync listens, a scripted interface connects, the link starts
//! (`LS` → `LD`/`LR`/`LA` → `LA`), records flow, a resync answers `DR`, and a new connection
//! replaces the old one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

use std::time::Duration;

use innsync_pms::fias::Record;
use innsync_pms::net::{run_fias_pms_link, FiasLinkConfig, FiasLinkEvent, FiasListen, FiasRequest};
use innsync_pms::{Extension, FiasEvent, FiasGuest, FiasMessage, MessageId, ResyncRoom, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const PATIENCE: Duration = Duration::from_secs(30);

struct Interface {
    stream: TcpStream,
    pending: Vec<u8>,
}

impl Interface {
    async fn connect(addr: std::net::SocketAddr) -> Interface {
        Interface {
            stream: TcpStream::connect(addr).await.unwrap(),
            pending: Vec::new(),
        }
    }

    async fn send(&mut self, text: &str) {
        let mut frame = vec![0x02];
        frame.extend_from_slice(text.as_bytes());
        frame.push(0x03);
        self.stream.write_all(&frame).await.unwrap();
    }

    /// The next record's text.
    async fn recv(&mut self) -> String {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == 0x03) {
                let frame: Vec<u8> = self.pending.drain(..=end).collect();
                let start = frame.iter().position(|&b| b == 0x02).unwrap();
                return String::from_utf8(frame[start + 1..frame.len() - 1].to_vec()).unwrap();
            }
            let mut buf = [0u8; 1024];
            let n = tokio::time::timeout(PATIENCE, self.stream.read(&mut buf))
                .await
                .expect("timed out waiting for a record")
                .unwrap();
            assert!(n > 0, "connection closed");
            self.pending.extend_from_slice(&buf[..n]);
        }
    }
}

async fn next_fias(
    events: &mut mpsc::Receiver<FiasLinkEvent>,
    want: impl Fn(&FiasEvent) -> bool,
) -> FiasEvent {
    loop {
        let e = tokio::time::timeout(PATIENCE, events.recv())
            .await
            .unwrap()
            .unwrap();
        if let FiasLinkEvent::Fias(e) = e {
            if want(&e) {
                return e;
            }
        }
    }
}

fn room(s: &str) -> Extension {
    Extension::new(s).unwrap()
}

#[tokio::test]
async fn fias_link_start_records_and_resync() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (requests, req_rx) = mpsc::channel(8);
    let (ev_tx, mut events) = mpsc::channel(64);
    let config = FiasLinkConfig {
        listen: FiasListen::Listener(listener),
        settings: Settings::default(),
        timezone: chrono_tz::UTC,
    };
    tokio::spawn(run_fias_pms_link(config, req_rx, ev_tx));
    let guest = FiasGuest {
        room: room("103"),
        reservation: Some(4711),
        name: Some("Rogers".into()),
        share: None,
    };
    // Submitted before any interface is there: buffered, not lost.
    requests
        .send(FiasRequest::Send {
            id: MessageId(1),
            message: FiasMessage::CheckIn(guest.clone()),
        })
        .await
        .unwrap();

    let mut fias = Interface::connect(addr).await;
    let ls = Record::parse(fias.recv().await.as_bytes()).unwrap();
    assert_eq!(ls.kind.as_str(), "LS");
    assert_eq!(ls.get(innsync_pms::fias::ids::DA).map(str::len), Some(6));
    fias.send("LD|V#2.1|IFPB|DA270301|TI140000|").await;
    fias.send("LR|RIGI|FLRNG#GNSF|").await;
    fias.send("LR|RIGO|FLRNG#|").await;
    fias.send("LA|").await;
    assert!(fias.recv().await.starts_with("LA|"));
    next_fias(&mut events, |e| *e == FiasEvent::LinkAlive).await;
    assert_eq!(fias.recv().await, "GI|RN103|G#4711|GNRogers|");
    next_fias(&mut events, |e| *e == FiasEvent::Delivered(MessageId(1))).await;

    fias.send("RE|RN103|RS3|").await;
    next_fias(&mut events, |e| {
        matches!(e, FiasEvent::RoomStatus { status: 3, .. })
    })
    .await;

    fias.send("DR|").await;
    next_fias(&mut events, |e| *e == FiasEvent::ResyncWanted).await;
    requests
        .send(FiasRequest::Resync {
            rooms: vec![ResyncRoom::Occupied(guest), ResyncRoom::Vacant(room("104"))],
        })
        .await
        .unwrap();
    assert!(fias.recv().await.starts_with("DS|DA"));
    assert_eq!(fias.recv().await, "GI|RN103|G#4711|GNRogers|SF|");
    assert_eq!(fias.recv().await, "GO|RN104|SF|");
    assert!(fias.recv().await.starts_with("DE|DA"));

    // A new connection replaces the old one and starts a new link.
    let mut second = Interface::connect(addr).await;
    assert!(second.recv().await.starts_with("LS|"));
    next_fias(&mut events, |e| *e == FiasEvent::LinkDown).await;
}
