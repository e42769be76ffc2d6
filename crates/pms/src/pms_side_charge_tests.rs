//! Engine tests for charge records (`CHG`) on the PMS side: the text is answered only when the
//! application has decided — `ACK` posted, `NAK` refused —, a decision that does not come in
//! time is `NAK`ed as busy, bytes that arrive meanwhile wait, and the outbox waits too. Each
//! test asserts the exact commands emitted.

use super::*;
use crate::frame::{encode_text, ACK, ENQ, NAK};
use crate::room::{Extension, MaidStatus};

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

fn ev(e: PmsEvent) -> Command<PmsEvent> {
    Command::Deliver(e)
}

fn record(seq: &str) -> ChargeRecord {
    ChargeRecord {
        sequence: seq.into(),
        kind: 'M',
        amount: 1250,
        extension: ext("101"),
    }
}

/// The system's text of the record, left-justified as the system sends.
fn chg(seq: &str) -> Vec<u8> {
    encode_text(format!("CHG {seq} M 1250 101  ").as_bytes())
}

/// A link up, with the system's `ENQ` at 10 answered and its `CHG seq` received at 20.
fn charge_waiting(seq: &str) -> PmsLink {
    let mut pms = PmsLink::new(settings()).unwrap();
    pms.link_up(0);
    pms.take_commands();
    pms.handle_bytes(10, &[ENQ]);
    assert_eq!(
        pms.take_commands(),
        vec![send(&[ACK]), Command::SetTimer(3_010)]
    );
    pms.handle_bytes(20, &chg(seq));
    // Nothing is answered yet; the decision is due by 20 + 2,000.
    assert_eq!(
        pms.take_commands(),
        vec![ev(PmsEvent::Charge(record(seq))), Command::SetTimer(2_020)]
    );
    pms
}

#[test]
fn a_posted_charge_is_acked_once_decided() {
    let mut pms = charge_waiting("000042");
    assert!(!pms.answer_charge(25, "000043", true), "another record");
    assert_eq!(pms.take_commands(), vec![]);
    assert!(pms.answer_charge(30, "000042", true));
    assert_eq!(pms.take_commands(), vec![send(&[ACK]), Command::ClearTimer]);
    assert!(!pms.answer_charge(31, "000042", true), "answered once");
    assert_eq!(pms.take_commands(), vec![]);
}

#[test]
fn a_refused_charge_is_naked_and_its_resend_decided_again() {
    let mut pms = charge_waiting("7");
    assert!(pms.answer_charge(30, "7", false));
    // NAK: the system may resend the text without a new ENQ.
    assert_eq!(
        pms.take_commands(),
        vec![send(&[NAK]), Command::SetTimer(3_030)]
    );
    pms.handle_bytes(40, &chg("7"));
    assert_eq!(
        pms.take_commands(),
        vec![ev(PmsEvent::Charge(record("7"))), Command::SetTimer(2_040)]
    );
    assert!(pms.answer_charge(50, "7", false));
    assert_eq!(
        pms.take_commands(),
        vec![send(&[NAK]), Command::SetTimer(3_050)]
    );
}

#[test]
fn a_decision_too_late_is_naked_busy_and_the_late_answer_ignored() {
    let mut pms = charge_waiting("7");
    pms.handle_timeout(2_019);
    assert_eq!(pms.take_commands(), vec![]);
    pms.handle_timeout(2_020);
    assert_eq!(
        pms.take_commands(),
        vec![
            send(&[NAK]),
            ev(PmsEvent::ChargeNotAnswered("7".into())),
            Command::SetTimer(5_020)
        ]
    );
    assert!(!pms.answer_charge(2_100, "7", true));
    assert_eq!(pms.take_commands(), vec![]);
}

#[test]
fn the_outbox_waits_for_the_answer() {
    let mut pms = charge_waiting("9");
    pms.submit(25, MessageId(1), &Message::CheckIn(ext("102")))
        .unwrap();
    assert_eq!(
        pms.take_commands(),
        vec![],
        "no ENQ while an answer is owed"
    );
    assert!(pms.answer_charge(30, "9", true));
    assert_eq!(
        pms.take_commands(),
        vec![send(&[ACK]), send(&[ENQ]), Command::SetTimer(3_030)]
    );
}

#[test]
fn bytes_arriving_before_the_answer_are_read_after_it() {
    let mut pms = PmsLink::new(settings()).unwrap();
    pms.link_up(0);
    pms.take_commands();
    pms.handle_bytes(10, &[ENQ]);
    pms.take_commands();
    let mut bytes = chg("5");
    bytes.push(ENQ);
    bytes.extend(encode_text(b"STS 3 101  "));
    pms.handle_bytes(20, &bytes);
    assert_eq!(
        pms.take_commands(),
        vec![ev(PmsEvent::Charge(record("5"))), Command::SetTimer(2_020)]
    );
    assert!(pms.answer_charge(30, "5", true));
    assert_eq!(
        pms.take_commands(),
        vec![
            send(&[ACK]),
            send(&[ACK]),
            ev(PmsEvent::Received(Message::MaidStatus {
                status: MaidStatus::CLEAN,
                extension: ext("101")
            })),
            send(&[ACK]),
            Command::ClearTimer
        ]
    );
}

#[test]
fn a_malformed_charge_is_naked_at_once_and_a_drop_forgets_a_waiting_one() {
    let mut pms = PmsLink::new(settings()).unwrap();
    pms.link_up(0);
    pms.take_commands();
    pms.handle_bytes(10, &[ENQ]);
    pms.take_commands();
    pms.handle_bytes(20, &encode_text(b"CHG 5 M 0 101  "));
    assert_eq!(
        pms.take_commands(),
        vec![
            ev(PmsEvent::Refused("charge record: bad amount".into())),
            send(&[NAK]),
            Command::SetTimer(3_020)
        ]
    );
    let mut pms = charge_waiting("8");
    pms.link_down(30);
    assert_eq!(
        pms.take_commands(),
        vec![ev(PmsEvent::LinkDown), Command::ClearTimer]
    );
    assert!(!pms.answer_charge(31, "8", true));
    assert_eq!(pms.take_commands(), vec![]);
}
