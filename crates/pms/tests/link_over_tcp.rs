//! End-to-end tests over real loopback TCP between `run_pms_link` and `run_gateway`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use common::*;
use innsync_pms::net::GatewayNotice;
use innsync_pms::{
    AbandonReason, GrsMode, GuestName, HotelEvent, MaidStatus, Message, MessageId, PmsEvent,
    RaiseOutcome, ResetReason, RoomPlan,
};

#[tokio::test]
async fn check_in_and_check_out_reach_the_gateway_database() {
    let mut gw = start_gateway(
        gateway_settings(),
        2,
        RoomPlan::numbered(101, 10, 2).unwrap(),
    )
    .await;
    let mut pms = start_pms(gw.addr, pms_settings(false));
    pms.wait(None, |e| *e == PmsEvent::LinkUp).await;
    let script = [
        Message::CheckIn(ext("101")),
        Message::Name {
            extension: ext("101"),
            name: GuestName::lossy("Rogers", 20),
        },
        Message::CheckIn(ext("102")),
        Message::CheckOut(ext("102")),
        Message::CheckIn(ext("999")), // no such room: refused
    ];
    for (i, message) in script.into_iter().enumerate() {
        let id = MessageId(i as u64);
        pms.requests
            .send(innsync_pms::net::PmsRequest::Send { id, message })
            .await
            .unwrap();
        let settled = pms
            .wait(None, |e| {
                matches!(e, PmsEvent::Delivered(_) | PmsEvent::Failed(..))
            })
            .await;
        if i < 4 {
            assert_eq!(settled, PmsEvent::Delivered(id));
        } else {
            assert!(matches!(settled, PmsEvent::Failed(got, _) if got == id));
        }
    }
    let r101 = gw.handle.room(ext("101")).await.unwrap().unwrap();
    assert!(r101.occupied);
    assert_eq!(r101.name.unwrap().as_str(), "Rogers");
    assert!(!gw.handle.room(ext("102")).await.unwrap().unwrap().occupied);
    wait_notice(&mut gw.notices, |n| {
        matches!(n, GatewayNotice::Log(e) if e.event == HotelEvent::UnknownExtension(ext("999")))
    })
    .await;
}

#[tokio::test]
async fn general_reset_of_2000_rooms_over_4_nodes_matches_the_snapshot() {
    let mut gw = start_gateway(
        gateway_settings(),
        4,
        RoomPlan::numbered(10_000, 2_000, 4).unwrap(),
    )
    .await;
    let rooms = snapshot(10_000, 2_000);
    let mut pms = start_pms(gw.addr, pms_settings(true));
    pms.wait(Some(&rooms), |e| {
        matches!(e, PmsEvent::ResetCompleted { rooms: 2_000 })
    })
    .await;
    let seen = wait_notice(&mut gw.notices, |n| *n == GatewayNotice::CycleCommitted).await;
    let committed: usize = seen
        .iter()
        .filter_map(|n| match n {
            GatewayNotice::Log(e) => match e.event {
                HotelEvent::NodeCommitted { rooms, .. } => Some(rooms),
                _ => None,
            },
            _ => None,
        })
        .sum();
    assert_eq!(committed, 2_000);
    assert_database_matches(&gw.handle, &rooms).await;
    assert_eq!(gw.handle.mode().await.unwrap(), GrsMode::Normal);
}

#[tokio::test]
async fn maid_status_raised_during_the_cycle_arrives_only_after_end() {
    let mut gw = start_gateway(
        gateway_settings(),
        2,
        RoomPlan::numbered(10_000, 2_000, 2).unwrap(),
    )
    .await;
    let rooms = snapshot(10_000, 2_000);
    let mut pms = start_pms(gw.addr, pms_settings(true));
    pms.wait(Some(&rooms), |e| matches!(e, PmsEvent::ResetStarted { .. }))
        .await;
    wait_notice(
        &mut gw.notices,
        |n| matches!(n, GatewayNotice::Log(e) if e.event == HotelEvent::GrsReceived),
    )
    .await;
    // The cycle is running on the gateway (thousands of messages to go): raise a maid status.
    let sts = Message::MaidStatus {
        status: MaidStatus::INSPECTED,
        extension: ext("10001"),
    };
    assert_eq!(
        gw.handle.raise(sts.clone()).await.unwrap(),
        RaiseOutcome::HeldUntilCycleEnds
    );
    pms.wait(Some(&rooms), |e| *e == PmsEvent::Received(sts.clone()))
        .await;
    let completed = pms
        .seen
        .iter()
        .position(|e| matches!(e, PmsEvent::ResetCompleted { .. }))
        .expect("cycle completed");
    let received = pms
        .seen
        .iter()
        .position(|e| matches!(e, PmsEvent::Received(_)))
        .unwrap();
    assert!(completed < received, "STS must follow END: {:?}", pms.seen);
    let seen = wait_notice(&mut gw.notices, |n| matches!(n, GatewayNotice::Sent(_))).await;
    let commit = seen
        .iter()
        .position(|n| *n == GatewayNotice::CycleCommitted)
        .unwrap();
    assert!(commit < seen.len() - 1, "committed before the STS went out");
}

#[tokio::test]
async fn abandon_by_inactivity_leaves_the_database_untouched_and_in_grs_mode() {
    let settings = innsync_pms::Settings {
        grs_inactivity_timeout_ms: 300,
        ..gateway_settings()
    };
    let mut gw = start_gateway(settings, 2, RoomPlan::numbered(101, 4, 2).unwrap()).await;
    let mut raw = RawPms::connect(gw.addr).await;
    assert!(raw.send("GRS").await);
    assert!(raw.send("CHK1   101").await);
    assert!(raw.send("CHK1   102").await);
    // Go silent: the gateway's own timer abandons the cycle.
    wait_notice(&mut gw.notices, |n| {
        matches!(n, GatewayNotice::Log(e) if e.event == HotelEvent::CycleAbandoned(AbandonReason::Inactivity))
    })
    .await;
    assert_eq!(gw.handle.mode().await.unwrap(), GrsMode::Abandoned);
    let all_vacant = gw
        .handle
        .rooms()
        .await
        .unwrap()
        .iter()
        .all(|(_, r)| !r.occupied);
    assert!(all_vacant, "nothing from the abandoned cycle is written");
    // Later CHKs are answered but not acted on.
    assert!(raw.send("CHK1   103").await);
    assert!(!gw.handle.room(ext("103")).await.unwrap().unwrap().occupied);
    assert_eq!(gw.handle.mode().await.unwrap(), GrsMode::Abandoned);
    // END for the abandoned cycle is refused.
    assert!(!raw.send("END").await);
}

#[tokio::test]
async fn cancel_returns_the_gateway_to_normal_mode() {
    let gw = start_gateway(
        gateway_settings(),
        2,
        RoomPlan::numbered(101, 4, 2).unwrap(),
    )
    .await;
    let mut raw = RawPms::connect(gw.addr).await;
    assert!(raw.send("GRS").await);
    assert!(raw.send("CHK1   101").await);
    assert!(raw.send("CNL").await);
    assert_eq!(gw.handle.mode().await.unwrap(), GrsMode::Normal);
    assert!(raw.send("CHK1   102").await);
    assert!(!gw.handle.room(ext("101")).await.unwrap().unwrap().occupied);
    assert!(gw.handle.room(ext("102")).await.unwrap().unwrap().occupied);
    assert!(!raw.send("CHK3   102").await, "unknown status is NAKed");
}

#[tokio::test]
async fn cancel_from_the_pms_link_returns_to_normal() {
    let mut gw = start_gateway(
        gateway_settings(),
        2,
        RoomPlan::numbered(100, 1_000, 2).unwrap(),
    )
    .await;
    let rooms = snapshot(100, 1_000);
    let mut pms = start_pms(gw.addr, pms_settings(true));
    pms.wait(Some(&rooms), |e| matches!(e, PmsEvent::ResetStarted { .. }))
        .await;
    pms.requests
        .send(innsync_pms::net::PmsRequest::CancelReset)
        .await
        .unwrap();
    pms.wait(None, |e| *e == PmsEvent::ResetCancelled).await;
    wait_notice(
        &mut gw.notices,
        |n| matches!(n, GatewayNotice::Log(e) if e.event == HotelEvent::CycleCancelled),
    )
    .await;
    assert_eq!(gw.handle.mode().await.unwrap(), GrsMode::Normal);
    let any_occupied = gw
        .handle
        .rooms()
        .await
        .unwrap()
        .iter()
        .any(|(_, r)| r.occupied);
    assert!(!any_occupied, "a cancelled cycle writes nothing");
}

#[tokio::test]
async fn link_cut_mid_cycle_leads_to_a_fresh_complete_cycle() {
    let mut gw = start_gateway(
        gateway_settings(),
        4,
        RoomPlan::numbered(10_000, 1_000, 4).unwrap(),
    )
    .await;
    gw.handle.cut_link_after(300).await.unwrap();
    let rooms = snapshot(10_000, 1_000);
    let mut pms = start_pms(gw.addr, pms_settings(true));
    pms.wait(Some(&rooms), |e| {
        matches!(e, PmsEvent::ResetCompleted { .. })
    })
    .await;
    let expected_order = [
        PmsEvent::ResetWanted(ResetReason::LinkStart),
        PmsEvent::ResetInterrupted,
        PmsEvent::ResetWanted(ResetReason::Interrupted),
        PmsEvent::ResetCompleted { rooms: 1_000 },
    ];
    let mut at = 0;
    for event in &pms.seen {
        if at < expected_order.len() && *event == expected_order[at] {
            at += 1;
        }
    }
    assert_eq!(at, expected_order.len(), "events: {:?}", pms.seen);
    let seen = wait_notice(&mut gw.notices, |n| *n == GatewayNotice::CycleCommitted).await;
    let abandoned = seen.iter().any(|n| {
        matches!(n, GatewayNotice::Log(e) if e.event == HotelEvent::CycleAbandoned(AbandonReason::LinkDropped))
    });
    assert!(abandoned);
    assert_database_matches(&gw.handle, &rooms).await;
}

#[tokio::test]
async fn message_right_after_end_is_busy_naked_then_buffered_and_applied_after_commit() {
    let settings = innsync_pms::Settings {
        commit_duration_ms: 2_000,
        ..gateway_settings()
    };
    let mut gw = start_gateway(settings, 2, RoomPlan::numbered(100, 20, 2).unwrap()).await;
    let rooms = snapshot(100, 20); // room 102 is vacant in the snapshot
    let mut pms = start_pms(gw.addr, pms_settings(true));
    pms.wait(Some(&rooms), |e| {
        matches!(e, PmsEvent::ResetCompleted { .. })
    })
    .await;
    pms.requests
        .send(innsync_pms::net::PmsRequest::Send {
            id: MessageId(42),
            message: Message::CheckIn(ext("102")),
        })
        .await
        .unwrap();
    // Accepted into the busy buffer while the nodes are still committing.
    pms.wait(None, |e| *e == PmsEvent::Delivered(MessageId(42)))
        .await;
    assert_eq!(gw.handle.mode().await.unwrap(), GrsMode::Committing);
    assert!(!gw.handle.room(ext("102")).await.unwrap().unwrap().occupied);
    wait_notice(&mut gw.notices, |n| *n == GatewayNotice::CycleCommitted).await;
    assert!(gw.handle.room(ext("102")).await.unwrap().unwrap().occupied);
}
