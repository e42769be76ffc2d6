//! The writer end to end on a real SQLite file: durable answers, idempotency, restarts, and
//! equivalence with the in-memory model under random commands.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use innsync_core::ids::CounterIds;
use innsync_core::model::MemState;
use innsync_core::{decide, Command, Ctx, GuestInput, InitialStatus, Outcome, Record, ServerCode};
use innsync_store::{Change, Clock, StoreError, WriteOutcome, Writer, WriterSettings};
use proptest::prelude::*;
use std::sync::{Arc, Mutex};

fn clock_at(t: &str) -> (Clock, Arc<Mutex<DateTime<Utc>>>) {
    let now = Arc::new(Mutex::new(t.parse::<DateTime<Utc>>().unwrap()));
    let n = now.clone();
    (Arc::new(move || *n.lock().unwrap()), now)
}

fn wb() -> ServerCode {
    ServerCode::parse("WB").unwrap()
}

fn setup() -> Vec<Command> {
    let mut v = vec![
        common::property("KRL", "Kraal", None),
        common::room_type("KRL", "A", "A", 2),
        common::rate("KRL", "A", d("2026-11-01"), d("2027-12-01"), 15_000),
    ];
    for n in ["101", "102", "103"] {
        v.push(common::room("KRL", n, "A"));
    }
    v
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn book(arrival: &str, departure: &str, units: u32) -> Command {
    Command::CreateBooking {
        property: "KRL".into(),
        room_type: "A".into(),
        arrival: d(arrival),
        departure: d(departure),
        units,
        guest: GuestInput::New {
            name: "Ann Smith".into(),
            email: Some("ann@example.com".into()),
            phone: None,
        },
        status: InitialStatus::Confirmed,
        hold_until: None,
        notes: None,
        pricing: None,
    }
}

fn booking_of(o: &WriteOutcome) -> innsync_core::Booking {
    match o.outcome() {
        Outcome::Written {
            record: Record::Booking(b),
            ..
        } => b.clone(),
        other => panic!("not a booking: {other:?}"),
    }
}

#[tokio::test]
async fn bookings_are_durable_priced_and_never_oversold() {
    let dir = tempfile::tempdir().unwrap();
    let (clock, _) = clock_at("2026-11-23T08:00:00Z");
    let (w, reads) =
        Writer::open(dir.path(), wb(), clock.clone(), WriterSettings::default()).unwrap();
    for c in setup() {
        w.submit(c, "admin", None).await.unwrap();
    }
    // Race 10 single-unit bookings for 3 rooms: the writer batches them; exactly 3 succeed.
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let w = w.clone();
            tokio::spawn(async move {
                w.submit(book("2026-12-01", "2026-12-03", 1), "ann", None)
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(o) => {
                ok += 1;
                let b = booking_of(&o);
                assert_eq!(b.price.unwrap().amount, 2 * 15_000);
                assert!(b.meta.id.as_str().starts_with("WB-"));
            }
            Err(StoreError::Refused(e)) => assert_eq!(e.code().as_str(), "no_availability"),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(ok, 3);
    reads.check_invariants().unwrap();
    let digest = reads.digest().unwrap();
    let last_id = reads
        .bookings(&innsync_store::BookingFilter {
            limit: 100,
            ..Default::default()
        })
        .unwrap()
        .len();
    assert_eq!(last_id, 3);
    drop(w);
    drop(reads);
    // Reopen: the same state, and new ids continue after the old ones.
    let (w, reads) = Writer::open(dir.path(), wb(), clock, WriterSettings::default()).unwrap();
    assert_eq!(reads.digest().unwrap(), digest);
    let g = w
        .submit(
            Command::CreateGuest {
                name: "Bo".into(),
                email: None,
                phone: None,
            },
            "ann",
            None,
        )
        .await
        .unwrap();
    let Outcome::Written { record, .. } = g.outcome() else {
        panic!()
    };
    let n: u64 = record.meta().id.as_str()[3..].parse().unwrap();
    assert!(n > 9, "ids continue after a restart: {n}");
}

#[tokio::test]
async fn another_servers_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (clock, _) = clock_at("2026-11-23T08:00:00Z");
    drop(Writer::open(dir.path(), wb(), clock.clone(), WriterSettings::default()).unwrap());
    let err = Writer::open(
        dir.path(),
        ServerCode::parse("RS").unwrap(),
        clock,
        WriterSettings::default(),
    )
    .err()
    .unwrap();
    assert!(
        err.to_string().contains("holds the data of server WB"),
        "{err}"
    );
}

#[tokio::test]
async fn an_idempotency_key_books_once_and_replays_the_first_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (clock, _) = clock_at("2026-11-23T08:00:00Z");
    let (w, reads) = Writer::open(dir.path(), wb(), clock, WriterSettings::default()).unwrap();
    for c in setup() {
        w.submit(c, "admin", None).await.unwrap();
    }
    let first = w
        .submit(
            book("2026-12-01", "2026-12-02", 1),
            "ann",
            Some("k1".into()),
        )
        .await
        .unwrap();
    let again = w
        .submit(
            book("2026-12-01", "2026-12-02", 1),
            "ann",
            Some("k1".into()),
        )
        .await
        .unwrap();
    assert!(matches!(first, WriteOutcome::Done(_)));
    assert!(matches!(again, WriteOutcome::Replayed(_)));
    assert_eq!(booking_of(&first).meta.id, booking_of(&again).meta.id);
    let other = w
        .submit(
            book("2026-12-01", "2026-12-03", 1),
            "ann",
            Some("k1".into()),
        )
        .await
        .unwrap_err();
    assert!(other.to_string().contains("different request"), "{other}");
    let all = reads
        .bookings(&innsync_store::BookingFilter {
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(all.len(), 1);
}

#[tokio::test]
async fn lapsed_holds_are_released_by_expire_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (clock, now) = clock_at("2026-11-23T08:00:00Z");
    let (w, reads) = Writer::open(dir.path(), wb(), clock, WriterSettings::default()).unwrap();
    for c in setup() {
        w.submit(c, "admin", None).await.unwrap();
    }
    let hold = "2026-11-23T09:00:00Z".parse().unwrap();
    let o = w
        .submit(
            Command::CreateBooking {
                property: "KRL".into(),
                room_type: "A".into(),
                arrival: d("2026-12-01"),
                departure: d("2026-12-02"),
                units: 3,
                guest: GuestInput::New {
                    name: "Hold".into(),
                    email: None,
                    phone: None,
                },
                status: InitialStatus::Provisional,
                hold_until: Some(hold),
                notes: None,
                pricing: None,
            },
            "ann",
            None,
        )
        .await
        .unwrap();
    let id = booking_of(&o).meta.id;
    assert!(w
        .submit(book("2026-12-01", "2026-12-02", 1), "ann", None)
        .await
        .is_err());
    let nothing = w
        .submit(Command::ExpireHolds, "system", None)
        .await
        .unwrap();
    assert_eq!(nothing.outcome(), &Outcome::Expired { ids: vec![] });
    *now.lock().unwrap() += Duration::hours(2);
    let done = w
        .submit(Command::ExpireHolds, "system", None)
        .await
        .unwrap();
    assert_eq!(
        done.outcome(),
        &Outcome::Expired {
            ids: vec![id.clone()]
        }
    );
    assert_eq!(
        reads.booking(id.as_str()).unwrap().unwrap().status,
        innsync_core::BookingStatus::Cancelled
    );
    w.submit(book("2026-12-01", "2026-12-02", 3), "ann", None)
        .await
        .unwrap();
    let audit = reads.audit(Some(id.as_str()), 10).unwrap();
    assert_eq!(
        audit.iter().map(|a| a.action.as_str()).collect::<Vec<_>>(),
        ["booking.create", "booking.expire"]
    );
    reads.check_invariants().unwrap();
}

fn random_command(
    seed: (u8, u8, u8, u8),
    n_bookings: usize,
    ids: &[innsync_core::RecordId],
) -> Command {
    let (a, b, c, e) = seed;
    let day = |k: u8| d("2026-11-23") + chrono::Days::new(u64::from(k % 15));
    let room = ["101", "102", "103"][(c % 3) as usize].to_string();
    if n_bookings == 0 || a % 3 == 0 {
        let arr = day(b);
        return Command::CreateBooking {
            property: "KRL".into(),
            room_type: "A".into(),
            arrival: arr,
            departure: arr + chrono::Days::new(u64::from(1 + e % 4)),
            units: u32::from(1 + c % 2),
            guest: GuestInput::New {
                name: "G".into(),
                email: None,
                phone: None,
            },
            status: InitialStatus::Confirmed,
            hold_until: None,
            notes: None,
            pricing: None,
        };
    }
    let id = ids[(b as usize) % ids.len()].clone();
    match a % 7 {
        1 => Command::CancelBooking {
            id,
            reason: Some("r".into()),
            if_match: None,
        },
        2 => Command::CheckIn {
            id,
            room: Some(room),
            if_match: None,
        },
        3 => Command::CheckOut { id, if_match: None },
        4 => Command::AssignRoom {
            id,
            room,
            if_match: None,
        },
        5 => Command::MoveRoom {
            id,
            room,
            if_match: None,
        },
        _ => Command::SetOutOfOrder {
            property: "KRL".into(),
            number: room,
            from: day(b),
            to: day(b) + chrono::Days::new(2),
            reason: "x".into(),
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    /// The store decides and applies exactly as the in-memory model does.
    #[test]
    fn the_store_matches_the_model(seeds in prop::collection::vec(any::<(u8, u8, u8, u8)>(), 1..60)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let (clock, _) = clock_at("2026-11-23T08:00:00Z");
            let now = clock();
            let (w, reads) = Writer::open(dir.path(), wb(), clock, WriterSettings::default()).unwrap();
            let server = wb();
            let mut model = MemState::default();
            let mut ids = CounterIds { server: server.clone(), last: 0, last_reservation: 0 };
            let mut bookings = vec![];
            let mut cmds = setup();
            cmds.extend(std::iter::repeat_n(Command::ExpireHolds, 0));
            let mut i = 0;
            loop {
                let cmd = if i < cmds.len() { cmds[i].clone() } else if i - cmds.len() < seeds.len() {
                    random_command(seeds[i - cmds.len()], bookings.len(), &bookings)
                } else { break };
                i += 1;
                let ctx = Ctx { now, server: &server, master: Some(&server), actor: "t", property_owners: &[], epoch: 1, frozen: false, holders: &[], archives: &[] };
                let expected = decide(&cmd, &model, &mut ids, &ctx);
                let got = w.submit(cmd, "t", None).await;
                match (expected, got) {
                    (Ok(dec), Ok(out)) => {
                        assert_eq!(&dec.outcome, out.outcome());
                        model.apply(&dec);
                        if let Outcome::Written { record: Record::Booking(b), .. } = &dec.outcome {
                            if !bookings.contains(&b.meta.id) { bookings.push(b.meta.id.clone()); }
                        }
                    }
                    (Err(a), Err(StoreError::Refused(b))) => {
                        assert_eq!(a.to_string(), b.to_string());
                        // A refused command may have taken ids in the model; the store reuses them.
                        ids.last = reads.with(|c| Ok(c.query_row("SELECT value FROM meta WHERE key='last_id'", [], |r| r.get::<_, String>(0)).unwrap_or_default())).unwrap().parse().unwrap_or(0);
                        ids.last_reservation = reads.with(|c| Ok(c.query_row("SELECT value FROM meta WHERE key='last_reservation'", [], |r| r.get::<_, String>(0)).unwrap_or_default())).unwrap().parse().unwrap_or(0);
                    }
                    (a, b) => panic!("model {a:?} store {b:?}"),
                }
            }
            let stored: Vec<Record> = reads.with(|c| {
                let mut st = c.prepare("SELECT body FROM record_bodies ORDER BY kind, key").unwrap();
                let v = st.query_map([], |r| r.get::<_, String>(0)).unwrap().map(|b| serde_json::from_str(&b.unwrap()).unwrap()).collect();
                Ok(v)
            }).unwrap();
            let mut modeled: Vec<Record> = model.records().cloned().collect();
            modeled.sort_by_key(|r| (r.kind().as_str(), r.key()));
            assert_eq!(stored, modeled);
            reads.check_invariants().unwrap();
        });
    }
}

/// Two stores: everything WB wrote, delivered to RS duplicated, reordered and in pieces,
/// lands once and in order, and both end with the same digest.
#[tokio::test]
async fn replicated_changes_apply_once_in_order_whatever_the_delivery() {
    let (clock, _) = clock_at("2026-11-23T08:00:00Z");
    let (dw, dr) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (web, wb_reads) =
        Writer::open(dw.path(), wb(), clock.clone(), WriterSettings::default()).unwrap();
    let rs_settings = WriterSettings {
        initial_master: Some(wb()),
        ..WriterSettings::default()
    };
    let rs_code = ServerCode::parse("RS").unwrap();
    let (rs, rs_reads) = Writer::open(dr.path(), rs_code.clone(), clock, rs_settings).unwrap();
    for c in setup() {
        web.submit(c, "admin", None).await.unwrap();
    }
    let mut ids = vec![];
    for i in 0..6 {
        let o = web
            .submit(
                book("2026-12-01", &format!("2026-12-0{}", 2 + i % 3), 1),
                "ann",
                None,
            )
            .await;
        if let Ok(o) = o {
            ids.push(booking_of(&o).meta.id);
        }
    }
    web.submit(
        Command::CancelBooking {
            id: ids[0].clone(),
            reason: None,
            if_match: None,
        },
        "ann",
        None,
    )
    .await
    .unwrap();
    let all = wb_reads.changes_after(&Default::default(), 10_000).unwrap();
    assert!(all.len() > 10);
    // A slave cannot write env records: RS refuses a property, naming WB.
    let refused = rs
        .submit(setup()[0].clone(), "admin", None)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("the master is WB"),
        "{refused}"
    );
    // Deliver out of order first: everything beyond the gap is held, nothing applied.
    let late = rs.replicate(all[5..].to_vec()).await.unwrap();
    assert_eq!((late.applied, late.held), (0, all.len() as u64 - 5));
    // Then in pieces, with duplicates.
    let a = rs.replicate(all[..7].to_vec()).await.unwrap();
    assert_eq!(a.applied, 7);
    let b = rs.replicate(all[3..].to_vec()).await.unwrap();
    assert_eq!((b.applied, b.duplicates), (all.len() as u64 - 7, 4));
    let again = rs.replicate(all.clone()).await.unwrap();
    assert_eq!(again.applied, 0);
    assert_eq!(rs_reads.digest().unwrap(), wb_reads.digest().unwrap());
    rs_reads.check_invariants().unwrap();
    assert_eq!(
        rs_reads.cursors().unwrap().get("WB").copied(),
        Some(all.len() as u64)
    );
    // RS re-serves WB's changes to a third server.
    let chain = rs_reads.changes_after(&Default::default(), 10_000).unwrap();
    assert_eq!(chain, all);
    // Its own changes are never taken back from a peer.
    let own = rs
        .replicate(vec![Change {
            origin: rs_code,
            ..all[0].clone()
        }])
        .await
        .unwrap();
    assert_eq!((own.applied, own.duplicates), (0, 1));
    // One date horizon (issue 16): a change carrying a night this store could not keep — a
    // corrupted or hostile peer's — is quarantined, never applied, and replication goes on.
    let mut far = all[all.len() - 1].clone();
    far.seq = all.len() as u64 + 1;
    match &mut far.record {
        innsync_core::Record::Booking(b) => {
            b.departure = NaiveDate::from_ymd_opt(10000, 1, 2).unwrap();
            b.meta.version += 1;
        }
        other => panic!("the last change is the cancelled booking, not {other:?}"),
    }
    let r = rs.replicate(vec![far]).await.unwrap();
    assert_eq!((r.applied, r.conflicts), (0, 1));
    rs_reads.check_invariants().unwrap();
    assert_eq!(rs_reads.digest().unwrap(), wb_reads.digest().unwrap());
    let c = rs_reads.conflicts(1, &Default::default()).unwrap();
    assert!(
        c[0]["reason"]
            .as_str()
            .unwrap()
            .contains("outside the dates innsync keeps"),
        "{c:?}"
    );
}

/// After a grant, this server writes nothing env-owned: not even a command in the same group
/// commit as the grant, and not after a restart.
#[tokio::test]
async fn a_grant_moves_the_master_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (clock, _) = clock_at("2026-11-23T08:00:00Z");
    let (w, reads) =
        Writer::open(dir.path(), wb(), clock.clone(), WriterSettings::default()).unwrap();
    let rs = ServerCode::parse("RS").unwrap();
    w.submit(setup()[0].clone(), "admin", None).await.unwrap();
    // A grant must name the next epoch.
    let bad = Command::GrantMaster {
        to: rs.clone(),
        epoch: 5,
        reason: "x".into(),
    };
    assert!(w
        .submit(bad, "admin", None)
        .await
        .unwrap_err()
        .to_string()
        .contains("epoch 2"));
    let grant = Command::GrantMaster {
        to: rs.clone(),
        epoch: 2,
        reason: "shift".into(),
    };
    let late = common::room_type("KRL", "B", "B", 2);
    // Hold the writer so the grant and the late write form one group commit.
    let pause = w.pause().await.unwrap();
    let (w1, w2) = (w.clone(), w.clone());
    let g = tokio::spawn(async move { w1.submit(grant, "admin", None).await });
    tokio::task::yield_now().await;
    let l = tokio::spawn(async move { w2.submit(late, "admin", None).await });
    until_queued(&w, 2).await;
    drop(pause);
    let (g, l) = (g.await.unwrap(), l.await.unwrap());
    g.unwrap();
    let err = l.unwrap_err();
    assert!(err.to_string().contains("the master is RS"), "{err}");
    assert_eq!(reads.master().unwrap(), (rs.clone(), 2));
    drop(w);
    let (w, _) = Writer::open(dir.path(), wb(), clock, WriterSettings::default()).unwrap();
    let late = common::room_type("KRL", "C", "C", 2);
    assert!(w
        .submit(late, "admin", None)
        .await
        .unwrap_err()
        .to_string()
        .contains("the master is RS"));
}

async fn until_queued(w: &Writer, n: usize) {
    while w.queued() < n {
        tokio::task::yield_now().await;
    }
}

/// A replicated change that would put a second guest in a room on a night is quarantined as a
/// conflict with both versions; replication goes on past it and nothing else is lost.
#[tokio::test]
async fn a_change_that_breaks_an_invariant_here_is_quarantined_not_stalled() {
    let (clock, _) = clock_at("2026-11-23T08:00:00Z");
    let (dw, dr) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (web, wb_reads) =
        Writer::open(dw.path(), wb(), clock.clone(), WriterSettings::default()).unwrap();
    let rs_settings = WriterSettings {
        initial_master: Some(wb()),
        ..WriterSettings::default()
    };
    let (rs, rs_reads) = Writer::open(
        dr.path(),
        ServerCode::parse("RS").unwrap(),
        clock,
        rs_settings,
    )
    .unwrap();
    for c in setup() {
        web.submit(c, "admin", None).await.unwrap();
    }
    let b = booking_of(
        &web.submit(book("2026-12-01", "2026-12-03", 1), "ann", None)
            .await
            .unwrap(),
    );
    web.submit(
        Command::AssignRoom {
            id: b.meta.id.clone(),
            room: "101".into(),
            if_match: None,
        },
        "ann",
        None,
    )
    .await
    .unwrap();
    let mut all = wb_reads.changes_after(&Default::default(), 10_000).unwrap();
    // A change from PA that puts another booking in room 101 on the same nights.
    let pa = ServerCode::parse("PA").unwrap();
    let mut clash = all.last().unwrap().clone();
    let Record::Booking(mut other) = clash.record.clone() else {
        panic!()
    };
    other.meta.id = innsync_core::RecordId::new(&pa, 1);
    other.meta.owner = innsync_core::Authority::Server(pa.clone());
    other.meta.version = 1;
    clash.record = Record::Booking(other);
    clash.origin = pa.clone();
    clash.seq = 1;
    clash.authority = innsync_core::Authority::Server(pa.clone());
    // And one from PA whose authority does not match its record.
    let mut forged = clash.clone();
    forged.seq = 2;
    forged.authority = innsync_core::Authority::Env;
    all.push(clash);
    all.push(forged);
    let r = rs.replicate(all.clone()).await.unwrap();
    assert_eq!(r.conflicts, 2, "{r:?}");
    assert_eq!(r.applied, all.len() as u64 - 2);
    assert_eq!(
        rs_reads.cursors().unwrap().get("PA").copied(),
        Some(2),
        "replication goes on"
    );
    assert_eq!(rs_reads.open_conflicts().unwrap(), 2);
    let c = rs_reads.conflicts(10, &Default::default()).unwrap();
    assert!(
        c.iter()
            .any(|c| c["reason"].as_str().unwrap().contains("UNIQUE")),
        "{c:?}"
    );
    assert_eq!(rs_reads.digest().unwrap(), wb_reads.digest().unwrap());
    rs_reads.check_invariants().unwrap();
}
