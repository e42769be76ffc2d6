//! Timing a General Reset end to end over loopback TCP, through the real adapters
//! ([`run_pms_link`] and the [`Gateway`]): shared by the `general_reset` cargo bench and
//! `innsync bench all`, so both report the same measurement.

use super::{
    run_pms_link, Gateway, GatewayConfig, GatewayNotice, LinkRole, PmsLinkConfig, PmsLinkEvent,
    PmsRequest,
};
use crate::{Extension, GuestName, PmsEvent, RoomOccupancy, RoomPlan, Settings};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The first extension of the timed hotel.
pub const FIRST_EXTENSION: u32 = 10_000;

/// What a timed General Reset took.
#[derive(Clone, Copy, Debug)]
pub struct ResetTiming {
    /// Rooms in the snapshot.
    pub rooms: u32,
    /// Messages of the cycle (GRS, a status per room, a name per occupied room, END).
    pub messages: usize,
    /// From the request until END was acknowledged.
    pub end_acked: Duration,
    /// Until every node of the gateway committed (includes its modelled commit time).
    pub committed: Duration,
    /// Rooms the gateway holds occupied afterwards.
    pub occupied: usize,
}

/// A hotel of `rooms` rooms, two in three occupied and named.
pub fn snapshot(rooms: u32) -> Vec<RoomOccupancy> {
    (0..rooms)
        .filter_map(|i| {
            let occupied = i % 3 != 2;
            Some(RoomOccupancy {
                extension: Extension::new(&(FIRST_EXTENSION + i).to_string()).ok()?,
                occupied,
                name: occupied.then(|| GuestName::lossy(&format!("Guest {i}"), 20)),
            })
        })
        .collect()
}

/// Runs one General Reset of `rooms` rooms on a gateway of `nodes` nodes over loopback, with
/// `settings` (PMS.md timeouts unless changed) on both sides, and times it. The gateway is
/// shut down afterwards; `requests` stays open for more (see [`TimedLink`]).
pub async fn time_general_reset(
    rooms: u32,
    nodes: usize,
    settings: Settings,
) -> Result<(ResetTiming, TimedLink), String> {
    let snapshot = snapshot(rooms);
    let messages = 2 + snapshot.len() + snapshot.iter().filter(|r| r.name.is_some()).count();
    let config = GatewayConfig {
        listen: "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        nodes,
        rooms: RoomPlan::numbered(FIRST_EXTENSION, rooms, nodes).map_err(|e| e.to_string())?,
        settings: settings.clone(),
        control: None,
    };
    let gateway = Gateway::bind(config).await.map_err(|e| e.to_string())?;
    let addr = gateway.local_addr().map_err(|e| e.to_string())?;
    let handle = gateway.handle();
    let mut notices = handle.subscribe();
    tokio::spawn(gateway.run());
    let (requests, req_rx) = mpsc::channel(16);
    let (ev_tx, mut events) = mpsc::channel(1024);
    let config = PmsLinkConfig {
        role: LinkRole::Connect(addr),
        settings: Settings {
            reset_on_link_start: false,
            ..settings
        },
        reconnect_delay: Duration::from_millis(100),
    };
    tokio::spawn(run_pms_link(config, req_rx, ev_tx));
    while let Some(e) = events.recv().await {
        if e == PmsLinkEvent::Pms(PmsEvent::LinkUp) {
            break;
        }
    }
    let started = Instant::now();
    requests
        .send(PmsRequest::GeneralReset { rooms: snapshot })
        .await
        .map_err(|_| "the link stopped".to_string())?;
    while let Some(e) = events.recv().await {
        match e {
            PmsLinkEvent::Pms(PmsEvent::ResetCompleted { .. }) => break,
            PmsLinkEvent::Pms(PmsEvent::ResetFailed(why)) => {
                return Err(format!("reset failed: {why}"))
            }
            _ => {}
        }
    }
    let end_acked = started.elapsed();
    loop {
        match notices.recv().await {
            Ok(GatewayNotice::CycleCommitted) => break,
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(e) => return Err(format!("gateway stopped: {e}")),
        }
    }
    let committed = started.elapsed();
    let occupied = handle
        .rooms()
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .filter(|(_, r)| r.occupied)
        .count();
    Ok((
        ResetTiming {
            rooms,
            messages,
            end_acked,
            committed,
            occupied,
        },
        TimedLink {
            requests,
            events,
            gateway: handle,
        },
    ))
}

/// The link and gateway of a timed reset, still running, for further measurements.
pub struct TimedLink {
    /// Requests to the PMS side.
    pub requests: mpsc::Sender<PmsRequest>,
    /// Its events.
    pub events: mpsc::Receiver<PmsLinkEvent>,
    /// The gateway; shut it down when done.
    pub gateway: super::GatewayHandle,
}
