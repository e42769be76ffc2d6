//! Property tests: both sans-I/O engines take arbitrary bytes, timeouts and application calls
//! without panicking (debug assertions on), keep their limits, and two engines wired together
//! always complete a General Reset that leaves the system's database equal to the snapshot.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

use innsync_pms::{
    Command, Extension, GuestName, Message, MessageId, PmsLink, RoomOccupancy, RoomPlan, Settings,
    SystemSide,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    Bytes(Vec<u8>),
    Timeout(u64),
    Up,
    Down,
    Submit(u8),
    Reset(u8),
    Cancel,
    Raise(u8),
}

fn step() -> impl Strategy<Value = Step> {
    let noise = proptest::collection::vec(any::<u8>(), 0..32);
    let texts = prop_oneof![
        Just(b"GRS".to_vec()),
        Just(b"END".to_vec()),
        Just(b"CNL".to_vec()),
        Just(b"CHK1   101".to_vec()),
        Just(b"CHK3   101".to_vec()),
        Just(b"NAM   102 Ann".to_vec()),
        Just(b"STS 2 101  ".to_vec()),
        Just(b"RTI".to_vec()),
        Just(b"AYT".to_vec()),
        Just(b"CHG 1 M 1250 101  ".to_vec()),
        Just(b"CHG 1 M 0 101  ".to_vec()),
    ]
    .prop_map(|t| {
        let mut b = vec![0x05, 0x02];
        b.extend(t);
        b.push(0x03);
        b
    });
    prop_oneof![
        3 => noise.prop_map(Step::Bytes),
        3 => texts.prop_map(Step::Bytes),
        2 => proptest::sample::select(vec![0x05u8, 0x06, 0x15]).prop_map(|b| Step::Bytes(vec![b])),
        2 => (0u64..20_000).prop_map(Step::Timeout),
        1 => Just(Step::Up),
        1 => Just(Step::Down),
        1 => any::<u8>().prop_map(Step::Submit),
        1 => any::<u8>().prop_map(Step::Reset),
        1 => Just(Step::Cancel),
        1 => any::<u8>().prop_map(Step::Raise),
    ]
}

fn small_settings() -> Settings {
    Settings {
        busy_buffer_capacity: 2,
        outbound_queue_capacity: 3,
        hotel_log_capacity: 8,
        commit_duration_ms: 50,
        grs_inactivity_timeout_ms: 5_000,
        keepalive_interval_ms: Some(4_000),
        ..Settings::default()
    }
}

fn rooms(n: u8) -> Vec<RoomOccupancy> {
    (0..u32::from(n % 8))
        .map(|i| RoomOccupancy {
            extension: Extension::new(&(101 + i).to_string()).unwrap(),
            occupied: i % 2 == 0,
            name: (i % 4 == 0).then(|| GuestName::lossy("Guest", 20)),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn pms_link_survives_anything(steps in proptest::collection::vec(step(), 0..60)) {
        let mut pms = PmsLink::new(small_settings()).unwrap();
        let mut now = 0u64;
        for (i, s) in steps.into_iter().enumerate() {
            now += 7;
            match s {
                Step::Bytes(b) => pms.handle_bytes(now, &b),
                Step::Timeout(dt) => { now += dt; pms.handle_timeout(now) }
                Step::Up => pms.link_up(now),
                Step::Down => pms.link_down(now),
                Step::Submit(n) => {
                    let e = Extension::new(&(100 + u32::from(n % 10)).to_string()).unwrap();
                    let _ = pms.submit(now, MessageId(i as u64), &Message::CheckIn(e));
                }
                Step::Reset(n) => { let _ = pms.start_general_reset(now, rooms(n)); }
                Step::Cancel => { pms.cancel_general_reset(now); }
                // The application's decision on a charge record, whether one waits or not.
                Step::Raise(n) => { pms.answer_charge(now, "1", n % 2 == 0); }
            }
            pms.take_commands();
        }
    }

    #[test]
    fn system_side_survives_anything(steps in proptest::collection::vec(step(), 0..60), any_plan in any::<bool>()) {
        let plan = if any_plan { RoomPlan::Any } else { RoomPlan::numbered(101, 4, 2).unwrap() };
        let mut system = SystemSide::new(small_settings(), 2, plan).unwrap();
        let mut now = 0u64;
        for s in steps {
            now += 7;
            match s {
                Step::Bytes(b) => system.handle_bytes(now, &b),
                Step::Timeout(dt) => { now += dt; system.handle_timeout(now) }
                Step::Up => system.link_up(now),
                Step::Down => system.link_down(now),
                Step::Raise(n) => {
                    let e = Extension::new(&(100 + u32::from(n % 6)).to_string()).unwrap();
                    let _ = system.raise(now, Message::MessageWaiting { on: n % 2 == 0, extension: e });
                }
                _ => {}
            }
            system.take_commands();
            prop_assert!(system.outbound_len() <= 3);
            prop_assert!(system.hotel_log().entries().count() <= 8);
        }
    }

    #[test]
    fn wired_engines_complete_a_reset(n in 0u8..40, garbage in proptest::collection::vec(0x20u8..0x7f, 0..8)) {
        let settings = Settings { reset_on_link_start: false, keepalive_interval_ms: None, commit_duration_ms: 0, ..Settings::default() };
        let snapshot: Vec<RoomOccupancy> = (0..u32::from(n))
            .map(|i| RoomOccupancy {
                extension: Extension::new(&(1000 + i).to_string()).unwrap(),
                occupied: i % 3 != 0,
                name: (i % 3 == 1).then(|| GuestName::lossy(&format!("G{i}"), 20)),
            })
            .collect();
        let mut pms = PmsLink::new(settings.clone()).unwrap();
        let mut system = SystemSide::new(settings, 3, RoomPlan::Any).unwrap();
        pms.link_up(0);
        system.link_up(0);
        pms.start_general_reset(0, snapshot.clone()).unwrap();
        for _ in 0..10_000 {
            if !pms.reset_running() { break; }
            let mut to_system = garbage.clone(); // noise outside frames is ignored
            for c in pms.take_commands() {
                if let Command::Send(b) = c { to_system.extend(b) }
            }
            system.handle_bytes(0, &to_system);
            let mut to_pms = Vec::new();
            for c in system.take_commands() {
                if let Command::Send(b) = c { to_pms.extend(b) }
            }
            pms.handle_bytes(0, &to_pms);
        }
        prop_assert!(!pms.reset_running());
        for room in &snapshot {
            let record = system.room(&room.extension).unwrap();
            prop_assert_eq!(record.occupied, room.occupied);
            prop_assert_eq!(&record.name, &room.name);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fias_link_survives_anything(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..20), alive_first in any::<bool>()) {
        let settings = Settings { fias_buffer_capacity: 4, fias_max_link_records: 2, ..Settings::default() };
        let mut link = innsync_pms::FiasPmsLink::new(settings).unwrap();
        let stamp = innsync_pms::fias::Stamp::from_unix(0);
        link.link_up(0, stamp);
        if alive_first {
            link.handle_bytes(0, b"\x02LR|RIGI|FLRN|\x03\x02LA|\x03");
        }
        for (i, chunk) in chunks.iter().enumerate() {
            link.handle_bytes(i as u64, chunk);
            let guest = innsync_pms::FiasGuest { room: Extension::new("101").unwrap(), reservation: None, name: Some("A".into()), share: None };
            let _ = link.submit(i as u64, MessageId(i as u64), &innsync_pms::FiasMessage::CheckIn(guest));
            link.take_commands();
            prop_assert!(link.buffered() <= 4);
        }
    }
}
