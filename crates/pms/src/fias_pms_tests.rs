//! Engine tests for `FiasPmsLink`: exact commands for link start, buffering, `LR` filtering,
//! resync and keep-alive.

use super::*;

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
        reservation: Some("4711".into()),
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
            frame("DS|"),
            frame("GI|RN103|G#4711|GNRogers|SF|"),
            frame("GO|RN104|SF|"),
            frame("DE|"),
            ev(FiasEvent::ResyncSent { rooms: 2 }),
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
