//! Engine tests for `PmsLink`: each asserts the exact commands emitted for a scripted exchange.

use super::*;
use crate::frame::{encode_text, ACK, ENQ, NAK};
use crate::room::{Extension, GuestName, MaidStatus};

fn settings() -> Settings {
    Settings {
        keepalive_interval_ms: None,
        reset_on_link_start: false,
        ..Settings::default()
    }
}

fn ext(s: &str) -> Extension {
    Extension::new(s).unwrap()
}

fn send(bytes: &[u8]) -> Command<PmsEvent> {
    Command::Send(bytes.to_vec())
}

fn text(t: &str) -> Command<PmsEvent> {
    Command::Send(encode_text(t.as_bytes()))
}

fn ev(e: PmsEvent) -> Command<PmsEvent> {
    Command::Deliver(e)
}

fn up(s: Settings) -> PmsLink {
    let mut pms = PmsLink::new(s).unwrap();
    pms.link_up(0);
    assert_eq!(pms.take_commands(), vec![ev(PmsEvent::LinkUp)]);
    pms
}

#[test]
fn normal_check_in_exchange() {
    let mut pms = up(settings());
    pms.submit(10, MessageId(1), &Message::CheckIn(ext("1234")))
        .unwrap();
    assert_eq!(
        pms.take_commands(),
        vec![send(&[ENQ]), Command::SetTimer(3_010)]
    );
    assert_eq!(
        pms.submit(11, MessageId(2), &Message::CheckOut(ext("1"))),
        Err(SubmitError::Busy)
    );
    pms.handle_bytes(20, &[ACK]);
    assert_eq!(
        pms.take_commands(),
        vec![text("CHK1  1234"), Command::SetTimer(3_020)]
    );
    pms.handle_bytes(30, &[ACK]);
    assert_eq!(
        pms.take_commands(),
        vec![ev(PmsEvent::Delivered(MessageId(1))), Command::ClearTimer]
    );
    assert!(pms.ready_for_message());
}

/// After any refusal the engine must still send the next message and run a General Reset.
fn assert_still_flowing(pms: &mut PmsLink, now: Millis) {
    pms.submit(now, MessageId(90), &Message::CheckIn(ext("1234")))
        .unwrap();
    assert_eq!(
        pms.take_commands(),
        vec![send(&[ENQ]), Command::SetTimer(now + 3_000)]
    );
    pms.handle_bytes(now + 1, &[ACK]);
    assert_eq!(
        pms.take_commands(),
        vec![text("CHK1  1234"), Command::SetTimer(now + 3_001)]
    );
    pms.handle_bytes(now + 2, &[ACK]);
    assert_eq!(
        pms.take_commands(),
        vec![ev(PmsEvent::Delivered(MessageId(90))), Command::ClearTimer]
    );
    pms.start_general_reset(now + 3, vec![]).unwrap();
    assert_eq!(
        pms.take_commands()[..2],
        [ev(PmsEvent::ResetStarted { rooms: 0 }), send(&[ENQ])]
    );
}

#[test]
fn an_extension_wider_than_the_field_is_refused_and_the_link_goes_on() {
    let mut pms = up(settings());
    assert_eq!(
        pms.submit(10, MessageId(1), &Message::CheckIn(ext("123456"))),
        Err(SubmitError::Print(PrintError::ExtensionTooWide {
            extension: "123456".into(),
            width: 5
        }))
    );
    assert_eq!(pms.take_commands(), vec![]);
    assert!(pms.ready_for_message());
    assert_still_flowing(&mut pms, 20);
}

#[test]
fn a_system_message_from_the_application_is_refused_and_the_link_goes_on() {
    let mut pms = up(settings());
    assert_eq!(
        pms.submit(10, MessageId(1), &Message::RequestInit),
        Err(SubmitError::WrongDirection)
    );
    assert_eq!(pms.take_commands(), vec![]);
    assert_still_flowing(&mut pms, 20);
}

#[test]
fn a_name_outside_the_charset_or_too_long_is_converted_and_sent() {
    let mut pms = up(settings());
    let name = GuestName::lossy("Zoë Müller-Lüdenscheidt 王", 20);
    pms.submit(
        10,
        MessageId(1),
        &Message::Name {
            extension: ext("1234"),
            name,
        },
    )
    .unwrap();
    pms.handle_bytes(11, &[ACK]);
    assert_eq!(
        pms.take_commands(),
        vec![
            send(&[ENQ]),
            Command::SetTimer(3_010),
            text("NAM  1234 Zoe Mueller-Luedensc"),
            Command::SetTimer(3_011)
        ]
    );
    pms.handle_bytes(12, &[ACK]);
    pms.take_commands();
    assert_still_flowing(&mut pms, 20);
}

#[test]
fn nak_then_resend_then_give_up() {
    let mut pms = up(settings());
    pms.submit(0, MessageId(7), &Message::CheckOut(ext("55")))
        .unwrap();
    pms.handle_bytes(1, &[ACK]);
    assert_eq!(
        pms.take_commands(),
        vec![
            send(&[ENQ]),
            Command::SetTimer(3_000),
            text("CHK0    55"),
            Command::SetTimer(3_001)
        ]
    );
    for t in 2..5 {
        pms.handle_bytes(t, &[NAK]);
        assert_eq!(
            pms.take_commands(),
            vec![text("CHK0    55"), Command::SetTimer(t + 3_000)]
        );
    }
    pms.handle_bytes(5, &[NAK]);
    assert_eq!(
        pms.take_commands(),
        vec![
            ev(PmsEvent::Failed(MessageId(7), SendFailure::TextRefused)),
            Command::ClearTimer
        ]
    );
    assert!(pms.ready_for_message());
}

#[test]
fn nak_then_resend_accepted() {
    let mut pms = up(settings());
    pms.submit(0, MessageId(1), &Message::CheckIn(ext("1")))
        .unwrap();
    pms.handle_bytes(0, &[ACK, NAK]);
    pms.take_commands();
    pms.handle_bytes(1, &[ACK]);
    assert_eq!(
        pms.take_commands(),
        vec![ev(PmsEvent::Delivered(MessageId(1))), Command::ClearTimer]
    );
}

#[test]
fn enq_timeout_retries_then_gives_up() {
    let mut pms = up(settings());
    pms.submit(0, MessageId(3), &Message::CheckIn(ext("1")))
        .unwrap();
    assert_eq!(
        pms.take_commands(),
        vec![send(&[ENQ]), Command::SetTimer(3_000)]
    );
    pms.handle_timeout(2_999); // early: nothing
    assert_eq!(pms.take_commands(), vec![]);
    for n in 1..=3u64 {
        pms.handle_timeout(3_000 * n);
        assert_eq!(
            pms.take_commands(),
            vec![send(&[ENQ]), Command::SetTimer(3_000 * (n + 1))]
        );
    }
    pms.handle_timeout(12_000);
    assert_eq!(
        pms.take_commands(),
        vec![
            ev(PmsEvent::Failed(MessageId(3), SendFailure::EnqNotAnswered)),
            Command::ClearTimer
        ]
    );
}

#[test]
fn text_ack_timeout_resends_then_gives_up() {
    let s = Settings {
        max_resends: 1,
        ..settings()
    };
    let mut pms = up(s);
    pms.submit(0, MessageId(4), &Message::CheckIn(ext("9")))
        .unwrap();
    pms.handle_bytes(0, &[ACK]);
    pms.take_commands();
    pms.handle_timeout(3_000);
    assert_eq!(
        pms.take_commands(),
        vec![text("CHK1     9"), Command::SetTimer(6_000)]
    );
    pms.handle_timeout(6_000);
    assert_eq!(
        pms.take_commands(),
        vec![
            ev(PmsEvent::Failed(MessageId(4), SendFailure::TextNotAnswered)),
            Command::ClearTimer
        ]
    );
}

#[test]
fn collision_pms_keeps_the_line() {
    let mut pms = up(settings());
    pms.submit(0, MessageId(1), &Message::CheckIn(ext("1")))
        .unwrap();
    pms.take_commands();
    // The system's ENQ crosses ours: the PMS ignores it and waits for its ACK.
    pms.handle_bytes(1, &[ENQ]);
    assert_eq!(pms.take_commands(), vec![]);
    pms.handle_bytes(2, &[ACK]);
    assert_eq!(
        pms.take_commands(),
        vec![text("CHK1     1"), Command::SetTimer(3_002)]
    );
}

#[test]
fn maid_status_and_rti_from_system_are_delivered() {
    let mut pms = up(settings());
    pms.handle_bytes(5, &[ENQ]);
    assert_eq!(
        pms.take_commands(),
        vec![send(&[ACK]), Command::SetTimer(3_005)]
    );
    pms.handle_bytes(6, &encode_text(b"STS 3 1234 "));
    assert_eq!(
        pms.take_commands(),
        vec![
            ev(PmsEvent::Received(Message::MaidStatus {
                status: MaidStatus::CLEAN,
                extension: ext("1234")
            })),
            send(&[ACK]),
            Command::ClearTimer
        ]
    );
    let mut bytes = vec![ENQ];
    bytes.extend(encode_text(b"RTI"));
    pms.handle_bytes(7, &bytes);
    assert_eq!(
        pms.take_commands(),
        vec![
            send(&[ACK]),
            ev(PmsEvent::ResetWanted(ResetReason::RequestedBySystem)),
            send(&[ACK]),
        ]
    );
}

#[test]
fn bad_text_from_system_is_naked() {
    let mut pms = up(settings());
    pms.handle_bytes(0, &encode_text(b"CHK1 1234"));
    assert_eq!(
        pms.take_commands(),
        vec![
            ev(PmsEvent::Refused(
                "not sent by a system: CheckIn(Extension(\"1234\"))".into()
            )),
            send(&[NAK]),
            Command::SetTimer(3_000),
        ]
    );
}

fn snapshot() -> Vec<RoomOccupancy> {
    vec![
        RoomOccupancy {
            extension: ext("101"),
            occupied: true,
            name: Some(GuestName::lossy("Rogers", 20)),
        },
        RoomOccupancy {
            extension: ext("102"),
            occupied: false,
            name: None,
        },
    ]
}

/// Plays a perfect system: ACKs each ENQ and each text; returns the texts sent.
fn run_acking(pms: &mut PmsLink, now: Millis, limit: usize) -> Vec<String> {
    let mut texts = Vec::new();
    for _ in 0..limit {
        let cmds = pms.take_commands();
        let sent: Vec<Vec<u8>> = cmds
            .into_iter()
            .filter_map(|c| match c {
                Command::Send(b) => Some(b),
                _ => None,
            })
            .collect();
        if sent.is_empty() {
            break;
        }
        for bytes in sent {
            if bytes.len() > 1 {
                texts.push(String::from_utf8(bytes[1..bytes.len() - 1].to_vec()).unwrap());
            }
            pms.handle_bytes(now, &[ACK]);
        }
    }
    texts
}

#[test]
fn general_reset_sends_every_room_and_holds_app_messages() {
    let mut pms = up(settings());
    pms.start_general_reset(0, snapshot()).unwrap();
    assert_eq!(
        pms.take_commands(),
        vec![
            ev(PmsEvent::ResetStarted { rooms: 2 }),
            send(&[ENQ]),
            Command::SetTimer(3_000)
        ]
    );
    // A real-time message during the cycle waits until END is acknowledged.
    pms.submit(0, MessageId(9), &Message::CheckIn(ext("102")))
        .unwrap();
    pms.handle_bytes(1, &[ACK]);
    assert_eq!(
        pms.take_commands(),
        vec![text("GRS"), Command::SetTimer(3_001)]
    );
    pms.handle_bytes(1, &[ACK]);
    let texts = run_acking(&mut pms, 2, 100);
    assert_eq!(
        texts,
        vec![
            "CHK1   101",
            "NAM   101 Rogers",
            "CHK0   102",
            "END",
            "CHK1   102"
        ]
    );
    assert!(!pms.reset_running());
}

#[test]
fn general_reset_events_are_reported() {
    let mut pms = up(settings());
    pms.start_general_reset(0, vec![]).unwrap();
    let mut events = Vec::new();
    for _ in 0..5 {
        for c in pms.take_commands() {
            if let Command::Deliver(e) = c {
                events.push(e);
            }
        }
        pms.handle_bytes(1, &[ACK]);
    }
    assert_eq!(
        events,
        vec![
            PmsEvent::ResetStarted { rooms: 0 },
            PmsEvent::ResetCompleted { rooms: 0 }
        ]
    );
}

#[test]
fn busy_naks_after_end_are_retried_for_the_next_message() {
    let mut pms = up(settings());
    pms.start_general_reset(0, vec![]).unwrap();
    run_acking(&mut pms, 0, 4);
    pms.submit(10, MessageId(1), &Message::CheckIn(ext("7")))
        .unwrap();
    pms.handle_bytes(10, &[ACK]); // ENQ accepted
    pms.take_commands();
    // The system is committing: two busy NAKs, then it accepts into its buffer.
    pms.handle_bytes(11, &[NAK]);
    pms.handle_bytes(12, &[NAK]);
    pms.handle_bytes(13, &[ACK]);
    assert_eq!(
        pms.take_commands(),
        vec![
            text("CHK1     7"),
            Command::SetTimer(3_011),
            text("CHK1     7"),
            Command::SetTimer(3_012),
            ev(PmsEvent::Delivered(MessageId(1))),
            Command::ClearTimer
        ]
    );
}

#[test]
fn refused_cycle_message_is_retried_after_a_pause() {
    let s = Settings {
        max_resends: 0,
        max_enq_retries: 0,
        cycle_retry_delay_ms: 500,
        cycle_message_retries: 1,
        ..settings()
    };
    let mut pms = up(s);
    pms.start_general_reset(0, vec![]).unwrap();
    pms.take_commands();
    pms.handle_bytes(1, &[NAK]); // ENQ refused: retry in 500 ms
    assert_eq!(pms.take_commands(), vec![Command::SetTimer(501)]);
    pms.handle_timeout(501);
    assert_eq!(
        pms.take_commands(),
        vec![send(&[ENQ]), Command::SetTimer(3_501)]
    );
    pms.handle_bytes(502, &[NAK]); // retries exhausted
    assert_eq!(
        pms.take_commands(),
        vec![
            ev(PmsEvent::ResetFailed(SendFailure::EnqRefused)),
            Command::ClearTimer
        ]
    );
}

#[test]
fn drop_mid_cycle_leads_to_a_fresh_complete_cycle() {
    let mut pms = up(settings());
    pms.start_general_reset(0, snapshot()).unwrap();
    pms.submit(0, MessageId(5), &Message::CheckOut(ext("101")))
        .unwrap();
    pms.handle_bytes(1, &[ACK, ACK, ACK]); // GRS delivered, ENQ for CHK1 acked
    pms.take_commands();
    pms.link_down(2);
    assert_eq!(
        pms.take_commands(),
        vec![
            ev(PmsEvent::Failed(MessageId(5), SendFailure::LinkDown)),
            ev(PmsEvent::ResetInterrupted),
            ev(PmsEvent::LinkDown),
            Command::ClearTimer
        ]
    );
    assert_eq!(
        pms.start_general_reset(3, snapshot()),
        Err(ResetError::LinkDown)
    );
    pms.link_up(4);
    assert_eq!(
        pms.take_commands(),
        vec![
            ev(PmsEvent::LinkUp),
            ev(PmsEvent::ResetWanted(ResetReason::Requested))
        ]
    );
    pms.start_general_reset(5, snapshot()).unwrap();
    pms.take_commands();
    pms.handle_bytes(5, &[ACK]);
    let texts = run_acking(&mut pms, 6, 100);
    assert_eq!(
        texts,
        vec!["GRS", "CHK1   101", "NAM   101 Rogers", "CHK0   102", "END"]
    );
}

#[test]
fn drop_mid_cycle_asks_for_reset_on_return() {
    let mut pms = up(settings());
    pms.start_general_reset(0, snapshot()).unwrap();
    pms.link_down(1);
    pms.take_commands();
    pms.link_up(2);
    assert_eq!(
        pms.take_commands(),
        vec![
            ev(PmsEvent::LinkUp),
            ev(PmsEvent::ResetWanted(ResetReason::Interrupted))
        ]
    );
}

#[test]
fn cancel_sends_cnl_after_the_message_in_flight() {
    let mut pms = up(settings());
    pms.start_general_reset(0, snapshot()).unwrap();
    pms.handle_bytes(0, &[ACK]);
    pms.take_commands();
    assert!(pms.cancel_general_reset(1));
    assert_eq!(pms.take_commands(), vec![]);
    pms.handle_bytes(2, &[ACK]); // GRS acknowledged
    assert_eq!(
        pms.take_commands(),
        vec![send(&[ENQ]), Command::SetTimer(3_002)]
    );
    pms.handle_bytes(3, &[ACK]);
    let texts = run_acking(&mut pms, 3, 10);
    assert_eq!(texts, vec!["CNL"]);
}

#[test]
fn keepalive_is_sent_when_idle_and_failure_closes_the_link() {
    let s = Settings {
        keepalive_interval_ms: Some(1_000),
        max_enq_retries: 0,
        ..settings()
    };
    let mut pms = PmsLink::new(s).unwrap();
    pms.link_up(0);
    assert_eq!(
        pms.take_commands(),
        vec![ev(PmsEvent::LinkUp), Command::SetTimer(1_000)]
    );
    pms.handle_timeout(1_000);
    assert_eq!(
        pms.take_commands(),
        vec![send(&[ENQ]), Command::SetTimer(4_000)]
    );
    pms.handle_timeout(4_000);
    assert_eq!(
        pms.take_commands(),
        vec![
            ev(PmsEvent::KeepAliveFailed),
            Command::CloseLink,
            Command::ClearTimer
        ]
    );
}

#[test]
fn link_start_reset_is_asked_for_when_configured() {
    let mut pms = PmsLink::new(Settings {
        reset_on_link_start: true,
        ..settings()
    })
    .unwrap();
    pms.link_up(0);
    assert_eq!(
        pms.take_commands(),
        vec![
            ev(PmsEvent::LinkUp),
            ev(PmsEvent::ResetWanted(ResetReason::LinkStart))
        ]
    );
}

#[test]
fn submit_refuses_system_messages_and_link_down() {
    let mut pms = PmsLink::new(settings()).unwrap();
    assert_eq!(
        pms.submit(0, MessageId(1), &Message::AreYouThere),
        Err(SubmitError::LinkDown)
    );
    pms.link_up(0);
    assert_eq!(
        pms.submit(0, MessageId(1), &Message::GeneralReset),
        Err(SubmitError::WrongDirection)
    );
    assert!(matches!(
        pms.submit(0, MessageId(1), &Message::CheckIn(ext("1234567"))),
        Err(SubmitError::Print(_))
    ));
}
