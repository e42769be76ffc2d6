//! A forced takeover fences the old master's later allotment grants like any env write: the new
//! master quarantines them when they arrive, and the old master, once it learns the fence, takes
//! its own grant back — units and all — so both servers end identical and whole.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use chrono::Days;
use innsync_core::dates::Nights;
use innsync_core::{Authority, Command, ServerCode};
use innsync_store::{ReadPool, Writer};

fn open(dir: &std::path::Path, me: &ServerCode, all: &[ServerCode]) -> (Writer, ReadPool) {
    common::open(dir, me, all, &[])
}

async fn pull(to: (&Writer, &ReadPool), from: &ReadPool) {
    common::pull(to, from).await
}

#[tokio::test]
async fn a_fenced_grant_is_quarantined_and_taken_back() {
    let codes: Vec<ServerCode> = ["WB", "RS"]
        .iter()
        .map(|c| ServerCode::parse(c).unwrap())
        .collect();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (wb, wb_reads) = open(d1.path(), &codes[0], &codes);
    let (rs, rs_reads) = open(d2.path(), &codes[1], &codes);
    let today: chrono::NaiveDate = "2026-12-01".parse().unwrap();
    for cmd in [
        common::property("RVC", "River Camp", None),
        common::room_type("RVC", "TNT", "Tent", 2),
        common::room("RVC", "1", "TNT"),
        common::room("RVC", "2", "TNT"),
    ] {
        wb.submit(cmd, "t", None).await.unwrap();
    }
    pull((&rs, &rs_reads), &wb_reads).await;
    let last_seen = rs_reads.cursors().unwrap()["WB"];
    // Cut off, the old master goes on: it grants RS a tent a night.
    let grant = Command::GrantAllotment {
        property: "RVC".into(),
        room_type: "TNT".into(),
        from: today,
        to: today + Days::new(3),
        units: 1,
        to_holder: Authority::Server(codes[1].clone()),
        from_holder: None,
        reason: Some("while cut off".into()),
    };
    wb.submit(grant, "t", None).await.unwrap();
    // RS takes over, fencing WB's env writes after the last one it had.
    rs.submit(
        Command::TakeOver {
            reason: "WB unreachable".into(),
            old_master_seq: last_seen,
        },
        "ops",
        None,
    )
    .await
    .unwrap();
    let nights = Nights {
        from: today,
        to: today + Days::new(3),
    };
    let rs_holds = |r: &ReadPool| {
        let h = r.holdings("RVC", nights).unwrap().unwrap();
        h.room_types[0].nights[0]
            .holders
            .iter()
            .find(|x| x.holder == Authority::Server(codes[1].clone()))
            .map_or(0, |x| x.held)
    };
    assert_eq!(
        rs_holds(&wb_reads),
        1,
        "the old master applied its own grant"
    );
    // The grant reaches RS: quarantined, not applied.
    pull((&rs, &rs_reads), &wb_reads).await;
    assert_eq!(rs_holds(&rs_reads), 0);
    let conflicts = rs_reads.conflicts(10, &Default::default()).unwrap();
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0]["kind"], "allotment_grant");
    // WB learns the fence and takes its grant back.
    pull((&wb, &wb_reads), &rs_reads).await;
    assert_eq!(
        rs_holds(&wb_reads),
        0,
        "the fenced grant is undone on the old master"
    );
    assert_eq!(
        wb_reads.conflicts(10, &Default::default()).unwrap().len(),
        1
    );
    for r in [&wb_reads, &rs_reads] {
        r.check_invariants().unwrap();
    }
    assert_eq!(wb_reads.digest().unwrap(), rs_reads.digest().unwrap());
}
