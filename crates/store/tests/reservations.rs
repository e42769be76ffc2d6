//! Reservations of several lines on a real SQLite file: the lines decided in one command are
//! found again by the reservation's reference (through the change log's index), a line added
//! later joins them, a cancelled line stays listed, a refused reservation writes nothing, and
//! the derived counters stay equal to the records.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use innsync_core::{
    BookingStatus, Command, GuestInput, InitialStatus, Outcome, Record, RecordId, ReservationLine,
};
use innsync_store::{Clock, ReadPool, Writer};

fn clock() -> Clock {
    common::fixed_clock("2026-11-23T08:00:00Z")
}

use common::d;

async fn open(dir: &std::path::Path) -> (Writer, ReadPool) {
    let (w, reads) = common::open_alone(dir, clock());
    let mut cmds = vec![common::property("KRL", "Kraal", None)];
    for (ty, rooms) in [("A", ["101", "102"]), ("B", ["201", "202"])] {
        cmds.push(common::room_type("KRL", ty, ty, 2));
        cmds.push(common::rate(
            "KRL",
            ty,
            d("2026-11-01"),
            d("2027-12-01"),
            15_000,
        ));
        for r in rooms {
            cmds.push(common::room("KRL", r, ty));
        }
    }
    for c in cmds {
        w.submit(c, "admin", None).await.unwrap();
    }
    (w, reads)
}

fn line(room_type: &str, units: u32) -> ReservationLine {
    ReservationLine {
        room_type: room_type.into(),
        arrival: None,
        departure: None,
        units,
        pricing: None,
    }
}

fn reservation(lines: Vec<ReservationLine>) -> Command {
    Command::CreateReservation {
        property: "KRL".into(),
        arrival: Some(d("2026-12-01")),
        departure: Some(d("2026-12-04")),
        lines,
        guest: GuestInput::New {
            name: "Family Dube".into(),
            email: None,
            phone: None,
        },
        status: InitialStatus::Confirmed,
        hold_until: None,
        notes: None,
        agent: None,
    }
}

#[tokio::test]
async fn lines_are_written_together_and_found_by_the_reservation() {
    let dir = tempfile::tempdir().unwrap();
    let (w, reads) = open(dir.path()).await;
    let o = w
        .submit(reservation(vec![line("A", 1), line("B", 2)]), "ann", None)
        .await
        .unwrap();
    let Outcome::Written {
        record: Record::Booking(first),
        related,
    } = o.outcome()
    else {
        panic!("{o:?}")
    };
    assert_eq!(related.len(), 2, "the new guest and the second line");
    let reference = first.meta.id.to_string();
    let lines = reads.reservation_lines(&reference).unwrap();
    assert_eq!(
        lines
            .iter()
            .map(|b| (b.room_type.as_str(), b.units))
            .collect::<Vec<_>>(),
        [("A", 1), ("B", 2)]
    );
    // A line added later joins; a cancelled line stays listed.
    let o = w
        .submit(
            Command::AddReservationLine {
                reservation: RecordId::parse(&reference).unwrap(),
                line: line("A", 1),
            },
            "ann",
            None,
        )
        .await
        .unwrap();
    let added = match o.outcome() {
        Outcome::Written { record, .. } => record.meta().id.clone(),
        other => panic!("{other:?}"),
    };
    w.submit(
        Command::CancelBooking {
            id: added.clone(),
            reason: None,
            if_match: None,
        },
        "ann",
        None,
    )
    .await
    .unwrap();
    let lines = reads.reservation_lines(&reference).unwrap();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2].meta.id, added);
    assert_eq!(lines[2].status, BookingStatus::Cancelled);
    // All or nothing: B has no room left on those nights, so A's line is not written either.
    let before = reads.audit(None, 10_000).unwrap().len();
    let r = w
        .submit(reservation(vec![line("A", 1), line("B", 1)]), "ann", None)
        .await;
    assert!(r.is_err(), "{r:?}");
    assert_eq!(reads.audit(None, 10_000).unwrap().len(), before);
    assert_eq!(reads.check_invariants(), Ok(()));
    // The look-up goes through the change log's index on the reservation.
    let plan: String = reads
        .with(|c| {
            let mut st = c.prepare(
                "EXPLAIN QUERY PLAN SELECT c.record_id FROM changes c
                 WHERE c.reservation = 'WB-000001'",
            )?;
            let rows: Vec<String> = st
                .query_map([], |r| r.get::<_, String>(3))?
                .collect::<Result<_, _>>()?;
            Ok(rows.join("\n"))
        })
        .unwrap();
    assert!(plan.contains("changes_by_reservation"), "{plan}");
}

/// The reservation number of a written reservation's first line.
fn number_of(o: &innsync_store::WriteOutcome) -> u64 {
    match o.outcome() {
        Outcome::Written {
            record: Record::Booking(b),
            ..
        } => b.reservation_number.expect("a numbered reservation").get(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn reservation_numbers_run_on_without_gaps_across_refusals_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = {
        let (w, _reads) = open(dir.path()).await;
        let a = number_of(
            &w.submit(reservation(vec![line("A", 1)]), "ann", None)
                .await
                .unwrap(),
        );
        // Refused (B has two rooms): the number it drew is handed out again.
        let refused = w.submit(reservation(vec![line("B", 3)]), "ann", None).await;
        assert!(refused.is_err(), "{refused:?}");
        let b = number_of(
            &w.submit(reservation(vec![line("B", 1)]), "ann", None)
                .await
                .unwrap(),
        );
        assert_eq!(b, a + 1);
        a
    };
    // The writer kept the counter in memory; what it saved with its batches is what a restart
    // reads back.
    let (w, _reads) = common::open_alone(dir.path(), clock());
    let c = number_of(
        &w.submit(reservation(vec![line("A", 1)]), "ann", None)
            .await
            .unwrap(),
    );
    assert_eq!(c, first + 2);
}
