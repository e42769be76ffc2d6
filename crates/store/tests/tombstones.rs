//! A deleted record stays deleted: versions older than its deletion that arrive later — from
//! another origin, along another path — are kept in the log but never bring it back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use chrono::Days;
use innsync_core::record::RecordKind;
use innsync_core::{Authority, Command, GuestInput, InitialStatus, Outcome, Record, ServerCode};
use innsync_store::{Change, ReadPool, Writer};

fn open(dir: &std::path::Path, me: &ServerCode, all: &[ServerCode]) -> (Writer, ReadPool) {
    common::open(dir, me, all, &[("KRL", &all[1])])
}

fn only(changes: Vec<Change>, origin: &str) -> Vec<Change> {
    changes
        .into_iter()
        .filter(|c| c.origin.as_str() == origin)
        .collect()
}

#[tokio::test]
async fn an_older_version_arriving_after_the_deletion_stays_out() {
    let codes: Vec<ServerCode> = ["WB", "PA", "RS"]
        .iter()
        .map(|c| ServerCode::parse(c).unwrap())
        .collect();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let nodes: Vec<(Writer, ReadPool)> = codes
        .iter()
        .zip(&dirs)
        .map(|(c, d)| open(d.path(), c, &codes))
        .collect();
    let (wb, pa, rs) = (&nodes[0], &nodes[1], &nodes[2]);
    let today: chrono::NaiveDate = "2026-12-01".parse().unwrap();
    for cmd in [
        common::property("KRL", "Kraal", None),
        common::room_type("KRL", "DLX", "Deluxe", 2),
        common::room("KRL", "1", "DLX"),
        common::grant(
            "KRL",
            "DLX",
            today,
            today + Days::new(10),
            1,
            Authority::Env,
        ),
    ] {
        pa.0.submit(cmd, "t", None).await.unwrap();
    }
    let all_of_pa = pa.1.changes_after(&Default::default(), 100).unwrap();
    wb.0.replicate(all_of_pa.clone()).await.unwrap();
    rs.0.replicate(all_of_pa).await.unwrap();
    // WB books and hands the booking to PA; PA cancels and deletes it.
    let out =
        wb.0.submit(
            Command::CreateBooking {
                property: "KRL".into(),
                room_type: "DLX".into(),
                arrival: today + Days::new(2),
                departure: today + Days::new(3),
                units: 1,
                guest: GuestInput::New {
                    name: "Ann".into(),
                    email: None,
                    phone: None,
                },
                status: InitialStatus::Confirmed,
                hold_until: None,
                notes: None,
                pricing: None,
            },
            "t",
            None,
        )
        .await
        .unwrap();
    let Outcome::Written {
        record: Record::Booking(b),
        ..
    } = out.outcome()
    else {
        panic!()
    };
    let id = b.meta.id.clone();
    wb.0.submit(
        Command::TransferOwnership {
            kind: RecordKind::Booking,
            key: id.to_string(),
            to: Authority::Server(codes[1].clone()),
            reason: "rule".into(),
        },
        "t",
        None,
    )
    .await
    .unwrap();
    let from_wb = only(
        wb.1.changes_after(&pa.1.cursors().unwrap(), 100).unwrap(),
        "WB",
    );
    pa.0.replicate(from_wb).await.unwrap();
    for cmd in [
        Command::CancelBooking {
            id: id.clone(),
            reason: None,
            if_match: None,
        },
        Command::DeleteRecord {
            kind: RecordKind::Booking,
            key: id.to_string(),
            reason: "tidy".into(),
        },
    ] {
        pa.0.submit(cmd, "t", None).await.unwrap();
    }
    // RS hears PA first (the cancel and the deletion), WB's older versions only afterwards.
    let from_pa = only(
        pa.1.changes_after(&rs.1.cursors().unwrap(), 100).unwrap(),
        "PA",
    );
    rs.0.replicate(from_pa).await.unwrap();
    assert!(rs.1.booking(id.as_str()).unwrap().is_none());
    let from_wb = only(
        wb.1.changes_after(&rs.1.cursors().unwrap(), 100).unwrap(),
        "WB",
    );
    let report = rs.0.replicate(from_wb).await.unwrap();
    assert!(report.stale >= 2, "{report:?}");
    assert!(
        rs.1.booking(id.as_str()).unwrap().is_none(),
        "the deleted booking came back"
    );
    // Everyone converges on the deletion, whole.
    let rest = pa.1.changes_after(&wb.1.cursors().unwrap(), 100).unwrap();
    wb.0.replicate(rest).await.unwrap();
    for (w, r) in &nodes {
        let _ = w;
        r.check_invariants().unwrap();
        assert!(r.booking(id.as_str()).unwrap().is_none());
    }
    assert_eq!(wb.1.digest().unwrap(), rs.1.digest().unwrap());
    assert_eq!(pa.1.digest().unwrap(), rs.1.digest().unwrap());
}
