//! Engine tests for `SystemSide`: each asserts the exact commands emitted for a scripted exchange.

use super::*;
use crate::frame::{encode_text, ACK, ENQ, NAK};
use crate::hotel_log::LogEntry;
use crate::room::MaidStatus;

fn settings() -> Settings {
    Settings {
        keepalive_interval_ms: None,
        grs_inactivity_timeout_ms: 10_000,
        commit_duration_ms: 100,
        busy_nak_limit: 2,
        ..Settings::default()
    }
}

fn ext(s: &str) -> Extension {
    Extension::new(s).unwrap()
}

fn send(bytes: &[u8]) -> Command<SystemEvent> {
    Command::Send(bytes.to_vec())
}

fn log(at: Millis, event: HotelEvent) -> Command<SystemEvent> {
    Command::HotelLog(LogEntry { at, event })
}

/// Rooms 101..=104 over two nodes (101, 103 on node 0; 102, 104 on node 1).
fn system() -> SystemSide {
    let mut s = SystemSide::new(settings(), 2, RoomPlan::numbered(101, 4, 2).unwrap()).unwrap();
    s.link_up(0);
    assert_eq!(s.take_commands(), vec![log(0, HotelEvent::LinkUp)]);
    s
}

/// The PMS sends one message: ENQ then the text (right-justified).
fn pms_sends(text: &str) -> Vec<u8> {
    let mut bytes = vec![ENQ];
    bytes.extend(encode_text(text.as_bytes()));
    bytes
}

fn occupied(s: &SystemSide, e: &str) -> bool {
    s.room(&ext(e)).unwrap().occupied
}

#[test]
fn normal_check_in_is_applied_at_once() {
    let mut s = system();
    s.handle_bytes(5, &[ENQ]);
    assert_eq!(
        s.take_commands(),
        vec![send(&[ACK]), Command::SetTimer(3_005)]
    );
    s.handle_bytes(6, &encode_text(b"CHK1   101"));
    assert_eq!(s.take_commands(), vec![send(&[ACK]), Command::ClearTimer]);
    assert!(occupied(&s, "101"));
    s.handle_bytes(7, &pms_sends("NAM   101 Rogers"));
    s.take_commands();
    assert_eq!(
        s.room(&ext("101")).unwrap().name.as_ref().unwrap().as_str(),
        "Rogers"
    );
}

#[test]
fn grs_cycle_caches_commits_at_end_and_holds_outbound_until_after() {
    let mut s = system();
    s.handle_bytes(10, &pms_sends("GRS"));
    assert_eq!(
        s.take_commands(),
        vec![
            send(&[ACK]),
            log(10, HotelEvent::GrsReceived),
            log(10, HotelEvent::NodeEnteredGrs { node: 0 }),
            log(10, HotelEvent::NodeEnteredGrs { node: 1 }),
            send(&[ACK]),
            Command::SetTimer(10_010),
        ]
    );
    assert_eq!(s.mode(), GrsMode::Cycle);
    // The PBX raises a maid status during the cycle: database updated, message held.
    let sts = Message::MaidStatus {
        status: MaidStatus::CLEAN,
        extension: ext("104"),
    };
    assert_eq!(
        s.raise(11, sts.clone()),
        Ok(RaiseOutcome::HeldUntilCycleEnds)
    );
    assert_eq!(s.take_commands(), vec![]);
    s.handle_bytes(12, &pms_sends("CHK1   101"));
    s.handle_bytes(13, &pms_sends("CHK1   102"));
    s.take_commands();
    assert_eq!(s.cached_entries(), 2);
    assert!(!occupied(&s, "101"), "cached, not applied");
    s.handle_bytes(20, &pms_sends("END"));
    assert_eq!(
        s.take_commands(),
        vec![
            send(&[ACK]),
            log(20, HotelEvent::EndReceived),
            send(&[ACK]),
            Command::SetTimer(120),
        ]
    );
    assert_eq!(s.mode(), GrsMode::Committing);
    s.handle_timeout(120);
    assert_eq!(
        s.take_commands(),
        vec![
            log(120, HotelEvent::NodeCommitted { node: 0, rooms: 1 }),
            log(120, HotelEvent::NodeCommitted { node: 1, rooms: 1 }),
            Command::Deliver(SystemEvent::CycleCommitted),
            send(&[ENQ]),
            Command::SetTimer(3_120),
        ]
    );
    assert!(occupied(&s, "101") && occupied(&s, "102") && !occupied(&s, "103"));
    s.handle_bytes(121, &[ACK]);
    assert_eq!(
        s.take_commands(),
        vec![send(&encode_text(b"STS 3 104  ")), Command::SetTimer(3_121)]
    );
    s.handle_bytes(122, &[ACK]);
    assert_eq!(
        s.take_commands(),
        vec![
            Command::Deliver(SystemEvent::Sent(sts)),
            Command::ClearTimer
        ]
    );
}

#[test]
fn busy_naks_during_commit_then_buffered_and_processed_after() {
    let mut s = system();
    for t in ["GRS", "CHK0   101", "END"] {
        s.handle_bytes(0, &pms_sends(t));
    }
    s.take_commands();
    s.handle_bytes(1, &pms_sends("CHK1   103"));
    // ENQ is answered; the text is NAKed as busy.
    assert_eq!(s.take_commands(), vec![send(&[ACK]), send(&[NAK])]);
    s.handle_bytes(2, &encode_text(b"CHK1   103"));
    assert_eq!(s.take_commands(), vec![send(&[NAK])]);
    s.handle_bytes(3, &encode_text(b"CHK1   103"));
    assert_eq!(s.take_commands(), vec![send(&[ACK])]);
    assert!(!occupied(&s, "103"), "buffered until the commit is over");
    s.handle_timeout(100);
    let cmds = s.take_commands();
    assert!(cmds.contains(&Command::Deliver(SystemEvent::CycleCommitted)));
    assert!(occupied(&s, "103"));
    assert_eq!(s.mode(), GrsMode::Normal);
}

#[test]
fn abandon_by_inactivity_leaves_database_untouched_and_stays_in_grs_mode() {
    let mut s = system();
    s.handle_bytes(0, &pms_sends("GRS"));
    s.handle_bytes(1, &pms_sends("CHK1   101"));
    s.take_commands();
    s.handle_timeout(10_000); // one ms early
    assert_eq!(s.take_commands(), vec![]);
    s.handle_timeout(10_001);
    assert_eq!(
        s.take_commands(),
        vec![
            log(
                10_001,
                HotelEvent::CycleAbandoned(AbandonReason::Inactivity)
            ),
            Command::ClearTimer
        ]
    );
    assert_eq!(s.mode(), GrsMode::Abandoned);
    assert_eq!(s.cached_entries(), 0);
    assert!(!occupied(&s, "101"));
    // Later CHKs are answered but not acted on.
    s.handle_bytes(20_000, &pms_sends("CHK1   102"));
    assert_eq!(
        s.take_commands(),
        vec![
            send(&[ACK]),
            log(
                20_000,
                HotelEvent::IgnoredInGrsMode(Message::CheckIn(ext("102")))
            ),
            send(&[ACK]),
        ]
    );
    assert!(!occupied(&s, "102"));
    // END for the abandoned cycle is refused.
    s.handle_bytes(20_001, &pms_sends("END"));
    let cmds = s.take_commands();
    assert!(cmds.contains(&log(20_001, HotelEvent::EndWithoutGrs)));
    assert!(cmds.contains(&send(&[NAK])));
    // A new complete cycle returns to normal.
    for t in ["GRS", "CHK1   102", "END"] {
        s.handle_bytes(30_000, &pms_sends(t));
    }
    s.handle_timeout(30_100);
    assert_eq!(s.mode(), GrsMode::Normal);
    assert!(occupied(&s, "102"));
}

#[test]
fn abandon_by_link_drop() {
    let mut s = system();
    s.handle_bytes(0, &pms_sends("GRS"));
    s.handle_bytes(1, &pms_sends("CHK1   101"));
    s.take_commands();
    s.link_down(2);
    assert_eq!(
        s.take_commands(),
        vec![
            log(2, HotelEvent::CycleAbandoned(AbandonReason::LinkDropped)),
            log(2, HotelEvent::LinkDown),
            Command::ClearTimer
        ]
    );
    assert_eq!(s.mode(), GrsMode::Abandoned);
    assert!(!occupied(&s, "101"));
}

#[test]
fn cancel_returns_to_normal_mode() {
    let mut s = system();
    s.handle_bytes(0, &pms_sends("GRS"));
    s.handle_bytes(1, &pms_sends("CHK1   101"));
    s.take_commands();
    s.handle_bytes(2, &pms_sends("CNL"));
    assert_eq!(
        s.take_commands(),
        vec![
            send(&[ACK]),
            log(2, HotelEvent::CycleCancelled),
            send(&[ACK]),
            Command::ClearTimer
        ]
    );
    assert_eq!(s.mode(), GrsMode::Normal);
    assert!(!occupied(&s, "101"), "the cancelled cycle wrote nothing");
    s.handle_bytes(3, &pms_sends("CHK1   101"));
    assert!(occupied(&s, "101"), "processed as outside a cycle");
}

#[test]
fn end_without_grs_is_naked_and_logged() {
    let mut s = system();
    s.handle_bytes(0, &pms_sends("END"));
    assert_eq!(
        s.take_commands(),
        vec![
            send(&[ACK]),
            log(0, HotelEvent::EndWithoutGrs),
            send(&[NAK]),
            Command::SetTimer(3_000),
        ]
    );
}

#[test]
fn unknown_status_is_naked() {
    let mut s = system();
    s.handle_bytes(0, &pms_sends("CHK3   101"));
    assert_eq!(
        s.take_commands(),
        vec![
            send(&[ACK]),
            log(
                0,
                HotelEvent::Refused("unknown status \"3\" for CHK".into())
            ),
            send(&[NAK]),
            Command::SetTimer(3_000),
        ]
    );
}

#[test]
fn extension_mapping_to_no_room_is_naked() {
    let mut s = system();
    s.handle_bytes(0, &pms_sends("CHK1   999"));
    assert_eq!(
        s.take_commands(),
        vec![
            send(&[ACK]),
            log(0, HotelEvent::UnknownExtension(ext("999"))),
            send(&[NAK]),
            Command::SetTimer(3_000),
        ]
    );
    // Also inside a cycle.
    s.handle_bytes(10_000, &pms_sends("GRS"));
    s.take_commands();
    s.handle_bytes(10_001, &pms_sends("CHK0   999"));
    assert!(s
        .take_commands()
        .contains(&log(10_001, HotelEvent::UnknownExtension(ext("999")))));
    assert_eq!(s.cached_entries(), 0);
}

#[test]
fn collision_system_yields_to_pms() {
    let mut s = system();
    s.raise(0, Message::RequestInit).unwrap();
    assert_eq!(
        s.take_commands(),
        vec![send(&[ENQ]), Command::SetTimer(3_000)]
    );
    s.handle_bytes(1, &[ENQ]); // crossing ENQ from the PMS
    assert_eq!(
        s.take_commands(),
        vec![send(&[ACK]), Command::SetTimer(3_001)]
    );
    s.handle_bytes(2, &encode_text(b"CHK1   101"));
    assert_eq!(
        s.take_commands(),
        vec![send(&[ACK]), send(&[ENQ]), Command::SetTimer(3_002)]
    );
    assert!(occupied(&s, "101"));
    s.handle_bytes(3, &[ACK]);
    assert_eq!(
        s.take_commands(),
        vec![send(&encode_text(b"RTI")), Command::SetTimer(3_003)]
    );
}

#[test]
fn outbound_message_given_up_after_naks_is_logged() {
    let mut s = system();
    let mw = Message::MessageWaiting {
        on: true,
        extension: ext("103"),
    };
    assert_eq!(s.raise(0, mw.clone()), Ok(RaiseOutcome::Queued));
    assert!(s.room(&ext("103")).unwrap().message_waiting);
    s.handle_bytes(0, &[ACK, NAK, NAK, NAK]);
    s.take_commands();
    s.handle_bytes(1, &[NAK]);
    assert_eq!(
        s.take_commands(),
        vec![log(1, HotelEvent::OutboundDropped(mw)), Command::ClearTimer]
    );
}

#[test]
fn raise_is_bounded_and_validated() {
    let mut s = SystemSide::new(
        Settings {
            outbound_queue_capacity: 1,
            ..settings()
        },
        1,
        RoomPlan::numbered(1, 1, 1).unwrap(),
    )
    .unwrap();
    let mw = |e: &str| Message::MessageWaiting {
        on: true,
        extension: ext(e),
    };
    assert_eq!(
        s.raise(0, mw("2")),
        Err(RaiseError::UnknownExtension(ext("2")))
    );
    assert_eq!(
        s.raise(0, Message::CheckIn(ext("1"))),
        Err(RaiseError::NotFromSystem)
    );
    assert_eq!(s.raise(0, mw("1")), Ok(RaiseOutcome::Queued));
    assert_eq!(s.raise(0, mw("1")), Err(RaiseError::QueueFull(1)));
}

#[test]
fn queued_message_survives_link_drop() {
    let mut s = system();
    s.raise(0, Message::RequestInit).unwrap();
    s.link_down(1);
    assert_eq!(s.outbound_len(), 1);
    s.take_commands();
    s.link_up(2);
    assert_eq!(
        s.take_commands(),
        vec![
            log(2, HotelEvent::LinkUp),
            send(&[ENQ]),
            Command::SetTimer(3_002)
        ]
    );
}

#[test]
fn any_plan_creates_rooms_on_demand_within_limit() {
    let mut s = SystemSide::new(
        Settings {
            max_rooms: 1,
            ..settings()
        },
        3,
        RoomPlan::Any,
    )
    .unwrap();
    s.link_up(0);
    s.handle_bytes(0, &pms_sends("CHK1  4711"));
    assert!(occupied(&s, "4711"));
    s.handle_bytes(0, &pms_sends("CHK1  4712"));
    assert!(s.room(&ext("4712")).is_none());
}
