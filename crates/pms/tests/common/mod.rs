//! Shared harness for the TCP integration tests: a gateway on 127.0.0.1:0, a PMS link connected to
//! it, a raw Mitel client for scripted exchanges, and waiting helpers with a generous deadline
//! (waiting on events, never sleeping to synchronise).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use innsync_pms::net::{
    run_pms_link, Gateway, GatewayConfig, GatewayHandle, GatewayNotice, LinkRole, PmsLinkConfig,
    PmsLinkEvent, PmsRequest,
};
use innsync_pms::{Extension, GuestName, PmsEvent, RoomOccupancy, RoomPlan, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc};

/// Upper bound on any wait; only reached when a test is failing.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub fn gateway_settings() -> Settings {
    Settings {
        commit_duration_ms: 50,
        keepalive_interval_ms: None,
        ..Settings::default()
    }
}

pub fn pms_settings(reset_on_link_start: bool) -> Settings {
    Settings {
        keepalive_interval_ms: None,
        reset_on_link_start,
        cycle_retry_delay_ms: 50,
        ..Settings::default()
    }
}

pub struct GatewayUnderTest {
    pub handle: GatewayHandle,
    pub addr: SocketAddr,
    pub notices: broadcast::Receiver<GatewayNotice>,
}

pub async fn start_gateway(settings: Settings, nodes: usize, rooms: RoomPlan) -> GatewayUnderTest {
    let config = GatewayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        nodes,
        rooms,
        settings,
        control: None,
    };
    let gateway = Gateway::bind(config).await.unwrap();
    let addr = gateway.local_addr().unwrap();
    let handle = gateway.handle();
    let notices = handle.subscribe();
    tokio::spawn(gateway.run());
    GatewayUnderTest {
        handle,
        addr,
        notices,
    }
}

pub struct PmsUnderTest {
    pub requests: mpsc::Sender<PmsRequest>,
    pub events: mpsc::Receiver<PmsLinkEvent>,
    /// Every engine event seen so far, in order.
    pub seen: Vec<PmsEvent>,
}

pub fn start_pms(addr: SocketAddr, settings: Settings) -> PmsUnderTest {
    let (requests, req_rx) = mpsc::channel(16);
    let (ev_tx, events) = mpsc::channel(256);
    let config = PmsLinkConfig {
        role: LinkRole::Connect(addr),
        settings,
        reconnect_delay: Duration::from_millis(50),
    };
    tokio::spawn(run_pms_link(config, req_rx, ev_tx));
    PmsUnderTest {
        requests,
        events,
        seen: Vec::new(),
    }
}

impl PmsUnderTest {
    /// Waits for an engine event matching `want`, answering `ResetWanted` with `snapshot`.
    pub async fn wait(
        &mut self,
        snapshot: Option<&[RoomOccupancy]>,
        want: impl Fn(&PmsEvent) -> bool,
    ) -> PmsEvent {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .expect("timed out waiting for a PMS event")
                .expect("PMS link stopped");
            let PmsLinkEvent::Pms(event) = event else {
                continue;
            };
            self.seen.push(event.clone());
            if let (PmsEvent::ResetWanted(_), Some(rooms)) = (&event, snapshot) {
                self.requests
                    .send(PmsRequest::GeneralReset {
                        rooms: rooms.to_vec(),
                    })
                    .await
                    .unwrap();
            }
            if want(&event) {
                return event;
            }
        }
    }
}

/// Waits for a gateway notice matching `want`; returns every notice seen up to it.
pub async fn wait_notice(
    notices: &mut broadcast::Receiver<GatewayNotice>,
    want: impl Fn(&GatewayNotice) -> bool,
) -> Vec<GatewayNotice> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    loop {
        let notice = tokio::time::timeout_at(deadline, notices.recv())
            .await
            .expect("timed out waiting for a gateway notice")
            .expect("gateway notices closed or lagged");
        seen.push(notice.clone());
        if want(&notice) {
            return seen;
        }
    }
}

pub fn ext(s: &str) -> Extension {
    Extension::new(s).unwrap()
}

/// `count` rooms from `first`: two in three occupied (with a name), the rest vacant.
pub fn snapshot(first: u32, count: u32) -> Vec<RoomOccupancy> {
    (0..count)
        .map(|i| {
            let occupied = i % 3 != 2;
            RoomOccupancy {
                extension: ext(&(first + i).to_string()),
                occupied,
                name: occupied.then(|| GuestName::lossy(&format!("Guest {i}"), 20)),
            }
        })
        .collect()
}

/// Asserts the gateway's database holds exactly the snapshot's occupancy and names.
pub async fn assert_database_matches(gateway: &GatewayHandle, snapshot: &[RoomOccupancy]) {
    let rooms = gateway.rooms().await.unwrap();
    assert_eq!(rooms.len(), snapshot.len());
    let mut want: Vec<_> = snapshot.iter().collect();
    want.sort_by(|a, b| a.extension.cmp(&b.extension));
    for ((extension, record), expected) in rooms.iter().zip(want) {
        assert_eq!(extension, &expected.extension);
        assert_eq!(record.occupied, expected.occupied, "room {extension}");
        assert_eq!(record.name, expected.name, "room {extension}");
    }
}

/// A scripted PMS speaking raw bytes, for exchanges the engine would never produce (going
/// silent mid-cycle).
pub struct RawPms {
    stream: TcpStream,
}

impl RawPms {
    pub async fn connect(addr: SocketAddr) -> RawPms {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        RawPms { stream }
    }

    /// The next answer byte. An `ENQ` from the gateway is a collision the PMS wins: ignored.
    async fn read_byte(&mut self) -> u8 {
        loop {
            let mut b = [0u8; 1];
            tokio::time::timeout(PATIENCE, self.stream.read_exact(&mut b))
                .await
                .expect("timed out reading from the gateway")
                .unwrap();
            if b[0] != 0x05 {
                return b[0];
            }
        }
    }

    /// ENQ, text, and the gateway's answer to the text: true for ACK.
    pub async fn send(&mut self, text: &str) -> bool {
        self.stream.write_all(&[0x05]).await.unwrap();
        assert_eq!(self.read_byte().await, 0x06, "ENQ not acknowledged");
        let mut frame = vec![0x02];
        frame.extend_from_slice(text.as_bytes());
        frame.push(0x03);
        self.stream.write_all(&frame).await.unwrap();
        match self.read_byte().await {
            0x06 => true,
            0x15 => false,
            other => panic!("unexpected answer {other:#x}"),
        }
    }
}
