//! Engine tests for `FiasPmsLink`: exact commands for link start, buffering, `LR` filtering,
//! resync, keep-alive, postings, and every refusal path (after each, the exact commands of the
//! next check-in and of a `DR` resync show that nothing stays stuck).

use super::*;
use crate::frame::encode_text;
use crate::room::Extension;

fn stamp() -> Stamp {
    Stamp {
        year: 27,
        month: 3,
        day: 1,
        hour: 14,
        minute: 0,
        second: 0,
    }
}

fn frame(text: &str) -> Command<FiasEvent> {
    Command::Send(encode_text(text.as_bytes()))
}

fn ev(e: FiasEvent) -> Command<FiasEvent> {
    Command::Deliver(e)
}

fn bytes(texts: &[&str]) -> Vec<u8> {
    texts
        .iter()
        .flat_map(|t| encode_text(t.as_bytes()))
        .collect()
}

fn room(s: &str) -> Extension {
    Extension::new(s).unwrap()
}

fn guest() -> FiasGuest {
    FiasGuest {
        room: room("103"),
        reservation: Some(4711),
        name: Some("Rogers".into()),
        share: None,
    }
}

fn alive() -> FiasPmsLink {
    let mut link = FiasPmsLink::new(Settings::default()).unwrap();
    link.link_up(0, stamp());
    assert_eq!(link.take_commands(), vec![frame("LS|DA270301|TI140000|")]);
    link.handle_bytes(1, &bytes(&["LD|V#1.0|IFPB|", "LA|"]));
    assert_eq!(
        link.take_commands(),
        vec![frame("LA|DA270301|TI140000|"), ev(FiasEvent::LinkAlive)]
    );
    link
}

#[test]
fn link_start_then_records_flow() {
    let mut link = alive();
    assert_eq!(link.peer(), Some(&("1.0".to_owned(), "PB".to_owned())));
    link.submit(2, MessageId(1), &FiasMessage::CheckIn(guest()))
        .unwrap();
    assert_eq!(
        link.take_commands(),
        vec![
            frame("GI|RN103|G#4711|GNRogers|"),
            ev(FiasEvent::Delivered(MessageId(1)))
        ]
    );
}

#[test]
fn records_before_link_alive_are_buffered_and_data_ignored() {
    let mut link = FiasPmsLink::new(Settings::default()).unwrap();
    link.link_up(0, stamp());
    link.take_commands();
    link.submit(1, MessageId(9), &FiasMessage::CheckOut(guest()))
        .unwrap();
    assert_eq!(link.take_commands(), vec![]);
    assert_eq!(link.buffered(), 1);
    link.handle_bytes(2, &bytes(&["RE|RN103|RS3|", "DR|"]));
    assert_eq!(link.take_commands(), vec![], "data before LA is ignored");
    link.handle_bytes(3, &bytes(&["LA|"]));
    assert_eq!(
        link.take_commands(),
        vec![
            frame("LA|DA270301|TI140000|"),
            ev(FiasEvent::LinkAlive),
            frame("GO|RN103|G#4711|GNRogers|"),
            ev(FiasEvent::Delivered(MessageId(9))),
        ]
    );
}

#[test]
fn buffer_is_bounded() {
    let mut link = FiasPmsLink::new(Settings {
        fias_buffer_capacity: 1,
        ..Settings::default()
    })
    .unwrap();
    link.submit(0, MessageId(1), &FiasMessage::CheckIn(guest()))
        .unwrap();
    assert_eq!(
        link.submit(0, MessageId(2), &FiasMessage::CheckIn(guest())),
        Err(FiasSubmitError::BufferFull(1))
    );
}

#[test]
fn link_records_select_record_types_and_fields() {
    let mut link = FiasPmsLink::new(Settings::default()).unwrap();
    link.link_up(0, stamp());
    link.handle_bytes(1, &bytes(&["LR|RIGI|FLRNGN|", "LR|RIGO|FLRN|", "LA|"]));
    link.take_commands();
    link.submit(2, MessageId(1), &FiasMessage::CheckIn(guest()))
        .unwrap();
    link.submit(
        2,
        MessageId(2),
        &FiasMessage::MessageLight {
            room: room("103"),
            on: true,
        },
    )
    .unwrap();
    assert_eq!(
        link.take_commands(),
        vec![
            frame("GI|RN103|GNRogers|"),
            ev(FiasEvent::Delivered(MessageId(1))),
            ev(FiasEvent::NotWanted(MessageId(2))),
        ]
    );
}

#[test]
fn resync_answers_dr_with_every_room() {
    let mut link = alive();
    link.handle_bytes(2, &bytes(&["DR|DA270301|TI140500|"]));
    assert_eq!(link.take_commands(), vec![ev(FiasEvent::ResyncWanted)]);
    let rooms = [
        ResyncRoom::Occupied(guest()),
        ResyncRoom::Vacant(room("104")),
    ];
    link.start_resync(3, &rooms).unwrap();
    assert_eq!(
        link.take_commands(),
        vec![
            frame("DS|DA270301|TI140000|"),
            frame("GI|RN103|G#4711|GNRogers|SF|"),
            frame("GO|RN104|SF|"),
            frame("DE|DA270301|TI140000|"),
            ev(FiasEvent::ResyncSent {
                rooms: 2,
                skipped: vec![]
            }),
        ]
    );
}

#[test]
fn keepalive_ls_is_answered_and_le_ends_the_link() {
    let mut link = alive();
    link.handle_bytes(5, &bytes(&["LS|DA270301|TI141000|"]));
    assert_eq!(link.take_commands(), vec![frame("LA|DA270301|TI140000|")]);
    link.handle_bytes(6, &bytes(&["LE|"]));
    assert_eq!(
        link.take_commands(),
        vec![ev(FiasEvent::LinkEnded), Command::CloseLink]
    );
    assert!(!link.is_alive());
    assert_eq!(link.start_resync(7, &[]), Err(ResyncError::NotAlive));
}

#[test]
fn room_status_and_unknown_records_are_delivered_bad_ones_reported() {
    let mut link = alive();
    link.handle_bytes(
        2,
        &bytes(&["RE|RS4|RN103|ZZx|", "RE|RN103|RS9|", "XX|", "GI|RN"]),
    );
    assert_eq!(
        link.take_commands(),
        vec![
            ev(FiasEvent::RoomStatus {
                room: room("103"),
                status: 4
            }),
            ev(FiasEvent::Refused("RE without a valid RN/RS".into())),
            ev(FiasEvent::Received(Record::new(Id::new(b"XX")))),
            ev(FiasEvent::Refused(
                "last field is not terminated by '|'".into()
            )),
        ]
    );
}

#[test]
fn room_move_carries_the_old_room() {
    let mut link = alive();
    link.submit(
        1,
        MessageId(3),
        &FiasMessage::Change {
            guest: guest(),
            old_room: Some(room("101")),
        },
    )
    .unwrap();
    assert_eq!(
        link.take_commands()[0],
        frame("GC|RN103|G#4711|GNRogers|RO101|")
    );
}

fn named(name: &str) -> FiasGuest {
    FiasGuest {
        name: Some(name.into()),
        ..guest()
    }
}

/// After any refusal the link must still send the next check-in and answer a resync.
fn assert_still_flowing(link: &mut FiasPmsLink, next_id: u64) {
    link.submit(9, MessageId(next_id), &FiasMessage::CheckIn(guest()))
        .unwrap();
    assert_eq!(
        link.take_commands(),
        vec![
            frame("GI|RN103|G#4711|GNRogers|"),
            ev(FiasEvent::Delivered(MessageId(next_id)))
        ]
    );
    link.handle_bytes(10, &bytes(&["DR|"]));
    assert_eq!(link.take_commands(), vec![ev(FiasEvent::ResyncWanted)]);
    link.start_resync(11, &[ResyncRoom::Vacant(room("104"))])
        .unwrap();
    assert_eq!(
        link.take_commands(),
        vec![
            frame("DS|DA270301|TI140000|"),
            frame("GO|RN104|SF|"),
            frame("DE|DA270301|TI140000|"),
            ev(FiasEvent::ResyncSent {
                rooms: 1,
                skipped: vec![]
            }),
        ]
    );
}

#[test]
fn accented_names_are_transliterated_not_refused() {
    let mut link = alive();
    link.submit(2, MessageId(1), &FiasMessage::CheckIn(named("Zoë Müller")))
        .unwrap();
    assert_eq!(
        link.take_commands(),
        vec![
            frame("GI|RN103|G#4711|GNZoe Mueller|"),
            ev(FiasEvent::Delivered(MessageId(1)))
        ]
    );
    link.submit(2, MessageId(2), &FiasMessage::CheckIn(named("Ann|Bo")))
        .unwrap();
    assert_eq!(link.take_commands()[0], frame("GI|RN103|G#4711|GNAnn/Bo|"));
    assert_still_flowing(&mut link, 3);
}

#[test]
fn code_page_links_carry_8_bit_names() {
    let mut link = FiasPmsLink::new(Settings {
        encoding: crate::encoding::TextEncoding::Cp850,
        ..Settings::default()
    })
    .unwrap();
    link.link_up(0, stamp());
    link.handle_bytes(1, &bytes(&["LA|"]));
    link.take_commands();
    link.submit(2, MessageId(1), &FiasMessage::CheckIn(named("Zoë Иван")))
        .unwrap();
    assert_eq!(
        link.take_commands()[0],
        Command::Send(encode_text(b"GI|RN103|G#4711|GNZo\x89 Ivan|"))
    );
}

#[test]
fn a_record_too_long_is_skipped_and_the_link_goes_on() {
    let mut link = FiasPmsLink::new(Settings {
        fias_max_record_len: 40,
        ..Settings::default()
    })
    .unwrap();
    link.link_up(0, stamp());
    link.handle_bytes(1, &bytes(&["LA|"]));
    link.take_commands();
    let long = FiasMessage::CheckIn(named("Maximilian Alexander von Habsburg-Lothringen"));
    link.submit(2, MessageId(1), &long).unwrap();
    assert_eq!(
        link.take_commands(),
        vec![ev(FiasEvent::Skipped {
            id: MessageId(1),
            what: "GI room 103, reservation 4711, Maximilian Alexander von Habsburg-Lothringen"
                .into(),
            reason: SkipReason::TooLong { len: 63, max: 40 },
        })]
    );
    assert_still_flowing(&mut link, 2);
}

#[test]
fn a_reservation_over_ten_digits_is_skipped_and_the_link_goes_on() {
    let mut link = alive();
    let bad = FiasGuest {
        reservation: Some(MAX_RESERVATION + 1),
        ..guest()
    };
    link.submit(2, MessageId(1), &FiasMessage::CheckOut(bad))
        .unwrap();
    assert_eq!(
        link.take_commands(),
        vec![ev(FiasEvent::Skipped {
            id: MessageId(1),
            what: "GO room 103, reservation 10000000000, Rogers".into(),
            reason: SkipReason::Reservation(MAX_RESERVATION + 1),
        })]
    );
    assert_still_flowing(&mut link, 2);
}

#[test]
fn a_skipped_record_while_down_is_reported_at_once_and_not_buffered() {
    let mut link = FiasPmsLink::new(Settings {
        fias_max_record_len: 32,
        ..Settings::default()
    })
    .unwrap();
    link.submit(
        0,
        MessageId(1),
        &FiasMessage::CheckIn(named("A very long name indeed")),
    )
    .unwrap();
    assert!(matches!(
        link.take_commands().as_slice(),
        [Command::Deliver(FiasEvent::Skipped { .. })]
    ));
    assert_eq!(link.buffered(), 0);
    link.link_up(1, stamp());
    link.handle_bytes(2, &bytes(&["LA|"]));
    link.take_commands();
    assert_still_flowing(&mut link, 2);
}

#[test]
fn a_full_buffer_refuses_and_drains_once_the_link_is_alive() {
    let mut link = FiasPmsLink::new(Settings {
        fias_buffer_capacity: 1,
        ..Settings::default()
    })
    .unwrap();
    link.submit(0, MessageId(1), &FiasMessage::CheckIn(guest()))
        .unwrap();
    assert_eq!(
        link.submit(0, MessageId(2), &FiasMessage::CheckIn(guest())),
        Err(FiasSubmitError::BufferFull(1))
    );
    assert_eq!(link.take_commands(), vec![]);
    link.link_up(1, stamp());
    link.handle_bytes(2, &bytes(&["LA|"]));
    assert_eq!(
        link.take_commands(),
        vec![
            frame("LS|DA270301|TI140000|"),
            frame("LA|DA270301|TI140000|"),
            ev(FiasEvent::LinkAlive),
            frame("GI|RN103|G#4711|GNRogers|"),
            ev(FiasEvent::Delivered(MessageId(1))),
        ]
    );
    assert_still_flowing(&mut link, 2);
}

#[test]
fn a_resync_skips_the_room_it_cannot_send_and_sends_the_rest() {
    let mut link = FiasPmsLink::new(Settings {
        fias_max_record_len: 40,
        ..Settings::default()
    })
    .unwrap();
    link.link_up(0, stamp());
    link.handle_bytes(1, &bytes(&["LA|"]));
    link.take_commands();
    let rooms = [
        ResyncRoom::Occupied(named("Maximilian Alexander von Habsburg")),
        ResyncRoom::Vacant(room("104")),
    ];
    link.start_resync(2, &rooms).unwrap();
    assert_eq!(
        link.take_commands(),
        vec![
            frame("DS|DA270301|TI140000|"),
            frame("GO|RN104|SF|"),
            frame("DE|DA270301|TI140000|"),
            ev(FiasEvent::ResyncSent {
                rooms: 1,
                skipped: vec![
                    "GI room 103, reservation 4711, Maximilian Alexander von Habsburg: \
                     the record is 55 bytes, more than the 40 the link accepts"
                        .into()
                ]
            }),
        ]
    );
    assert_still_flowing(&mut link, 1);
}

#[test]
fn a_refused_resync_leaves_nothing_behind() {
    let mut link = FiasPmsLink::new(Settings {
        max_rooms: 1,
        ..Settings::default()
    })
    .unwrap();
    assert_eq!(link.start_resync(0, &[]), Err(ResyncError::NotAlive));
    assert_eq!(link.take_commands(), vec![]);
    link.link_up(1, stamp());
    link.handle_bytes(2, &bytes(&["LA|"]));
    link.take_commands();
    let two = [
        ResyncRoom::Vacant(room("101")),
        ResyncRoom::Vacant(room("102")),
    ];
    assert_eq!(
        link.start_resync(3, &two),
        Err(ResyncError::TooManyRooms { count: 2, max: 1 })
    );
    assert_eq!(link.take_commands(), vec![]);
    assert_still_flowing(&mut link, 1);
}

#[test]
fn bad_records_from_the_other_side_are_reported_and_the_link_goes_on() {
    let mut link = alive();
    link.handle_bytes(2, &[0x02, b'G', b'I', b'|', 0x01, b'|', 0x03]);
    link.handle_bytes(2, &bytes(&["G"]));
    assert_eq!(
        link.take_commands(),
        vec![
            ev(FiasEvent::Refused("record contains a control byte".into())),
            ev(FiasEvent::Refused("bad record id".into())),
        ]
    );
    assert_still_flowing(&mut link, 1);
}

#[test]
fn a_posting_is_handed_on_and_answered_as_the_application_decides() {
    let mut link = alive();
    link.handle_bytes(
        2,
        &bytes(&["PS|RN103|PTM|TA1250|P#77|DA270301|TI140100|G#4711|"]),
    );
    let cmds = link.take_commands();
    assert_eq!(
        cmds.len(),
        1,
        "nothing is answered before the posting is charged"
    );
    let Command::Deliver(FiasEvent::Posting(p)) = &cmds[0] else {
        panic!("{cmds:?}")
    };
    assert_eq!(
        (
            p.room.clone(),
            p.reservation,
            p.amount,
            p.sequence.as_deref()
        ),
        (Some(room("103")), Some(4711), Some(1250), Some("77"))
    );
    assert_eq!(
        p.to_string(),
        "PS room 103, reservation 4711, P# 77, amount 1250, type M"
    );
    link.answer_posting(p, POSTING_OK, "");
    assert_eq!(
        link.take_commands(),
        vec![frame("PA|ASOK|RN103|P#77|G#4711|DA270301|TI140000|")]
    );
    // No guest in the room: NG, with a clear text cleaned of separators.
    link.answer_posting(p, GUEST_NOT_FOUND, "no guest | in room 103");
    assert_eq!(
        link.take_commands(),
        vec![frame(
            "PA|ASNG|RN103|P#77|G#4711|CTno guest  in room 103|DA270301|TI140000|"
        )]
    );
    // Even a posting without anything usable is handed on and can be answered.
    link.handle_bytes(3, &bytes(&["PS|"]));
    let cmds = link.take_commands();
    let Command::Deliver(FiasEvent::Posting(p)) = &cmds[0] else {
        panic!("{cmds:?}")
    };
    link.answer_posting(p, POSTING_DENIED, POSTING_DENIED_TEXT);
    assert_eq!(
        link.take_commands()[0],
        frame(&format!(
            "PA|ASNP|CT{POSTING_DENIED_TEXT}|DA270301|TI140000|"
        ))
    );
    // A link that went down answers nothing: the other side resends.
    link.link_down(4);
    link.take_commands();
    link.answer_posting(p, POSTING_OK, "");
    assert!(link.take_commands().is_empty());
}

#[test]
fn le_then_a_new_connection_sends_what_was_queued_meanwhile() {
    let mut link = alive();
    link.handle_bytes(2, &bytes(&["LE|"]));
    assert_eq!(
        link.take_commands(),
        vec![ev(FiasEvent::LinkEnded), Command::CloseLink]
    );
    link.link_down(3);
    link.submit(4, MessageId(5), &FiasMessage::CheckOut(guest()))
        .unwrap();
    assert_eq!(link.take_commands(), vec![ev(FiasEvent::LinkDown)]);
    link.link_up(5, stamp());
    link.handle_bytes(6, &bytes(&["LD|V#1.0|IFPB|", "LA|"]));
    assert_eq!(
        link.take_commands(),
        vec![
            frame("LS|DA270301|TI140000|"),
            frame("LA|DA270301|TI140000|"),
            ev(FiasEvent::LinkAlive),
            frame("GO|RN103|G#4711|GNRogers|"),
            ev(FiasEvent::Delivered(MessageId(5))),
        ]
    );
}

#[test]
fn records_describe_themselves_in_words() {
    let gi = FiasMessage::CheckIn(FiasGuest {
        room: room("101"),
        reservation: Some(5_730_000_012),
        name: Some("Ada Lovelace".into()),
        share: None,
    });
    assert_eq!(
        gi.to_string(),
        "GI room 101, reservation 5730000012, Ada Lovelace"
    );
    let gc = FiasMessage::Change {
        guest: guest(),
        old_room: Some(room("101")),
    };
    assert_eq!(
        gc.to_string(),
        "GC room 103, reservation 4711, Rogers (moved from room 101)"
    );
}
