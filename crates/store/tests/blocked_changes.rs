//! Chaos finding 8 (seed 13042 of the long run): a replicated check-in met, on one server
//! only, a stay that another origin's later change took out of the room. It was quarantined
//! there and applied everywhere else, and nothing ever tried it again: that server differed for
//! good. A blocked change is now kept whole and retried after every replicated batch; once the
//! blocker has gone it is applied, and every server ends the same.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use chrono::{DateTime, Utc};
use innsync_core::{Command, RecordId, ServerCode};
use innsync_store::{Change, Clock, ReadPool, WriteOutcome, Writer, WriterSettings};
use std::sync::Arc;

type Node = (Writer, ReadPool);

fn code(s: &str) -> ServerCode {
    ServerCode::parse(s).expect("code")
}

fn open(dir: &std::path::Path, me: &str, all: &[ServerCode]) -> Node {
    let now: DateTime<Utc> = "2026-12-01T08:00:00Z".parse().expect("time");
    let clock: Clock = Arc::new(move || now);
    Writer::open(
        dir,
        code(me),
        clock,
        WriterSettings {
            initial_master: Some(all[0].clone()),
            holders: all.to_vec(),
            ..WriterSettings::default()
        },
    )
    .expect("open")
}

async fn run(n: &Node, cmd: Command) -> WriteOutcome {
    n.0.submit(cmd, "desk", None).await.expect("decided")
}

async fn book_and_check_in(n: &Node, guest: &str, room: &str) -> RecordId {
    common::book_and_check_in(&n.0, guest, room).await
}

/// Everything `from` has that `to` lacks, keeping only the changes `keep` accepts.
fn missing(to: &Node, from: &ReadPool, keep: impl Fn(&Change) -> bool) -> Vec<Change> {
    from.changes_after(&to.1.cursors().expect("cursors"), 10_000)
        .expect("changes")
        .into_iter()
        .filter(keep)
        .collect()
}

#[tokio::test]
async fn a_check_in_blocked_by_a_stay_that_moved_on_is_applied_once_it_has() {
    let all = [code("WB"), code("RS"), code("PA")];
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let wb = open(dirs[0].path(), "WB", &all);
    let rs = open(dirs[1].path(), "RS", &all);
    let pa = open(dirs[2].path(), "PA", &all);
    for cmd in [
        common::property("KRL", "Kraal", None),
        common::room_type("KRL", "A", "A", 2),
    ] {
        run(&wb, cmd).await;
    }
    for room in ["101", "102"] {
        run(&wb, common::room("KRL", room, "A")).await;
    }
    // X in room 101; the lodge's server hears of it.
    let x = book_and_check_in(&wb, "Xavier", "101").await;
    pa.0.replicate(missing(&pa, &wb.1, |_| true))
        .await
        .expect("pa");
    // X moves to 102; WB hands the master to RS, which puts Y in 101.
    run(
        &wb,
        Command::MoveRoom {
            id: x,
            room: "102".into(),
            if_match: None,
        },
    )
    .await;
    run(
        &wb,
        Command::GrantMaster {
            to: code("RS"),
            epoch: 2,
            reason: "handover".into(),
        },
    )
    .await;
    rs.0.replicate(missing(&rs, &wb.1, |_| true))
        .await
        .expect("rs");
    book_and_check_in(&rs, "Yolanda", "101").await;
    // The lodge hears RS's own changes before WB's move: Y's check-in finds X in 101.
    let first =
        pa.0.replicate(missing(&pa, &rs.1, |c| c.origin == code("RS")))
            .await
            .expect("pa");
    assert_eq!(first.conflicts, 1, "blocked by X: {first:?}");
    // Then the move: the blocked check-in is tried again and applied.
    pa.0.replicate(missing(&pa, &rs.1, |_| true))
        .await
        .expect("pa");
    wb.0.replicate(missing(&wb, &rs.1, |_| true))
        .await
        .expect("wb");
    let digest = wb.1.digest().expect("digest");
    assert_eq!(rs.1.digest().expect("digest"), digest);
    assert_eq!(
        pa.1.digest().expect("digest"),
        digest,
        "the lodge ends as everyone else"
    );
    pa.1.check_invariants().expect("invariants");
    let c = pa.1.conflicts(10, &Default::default()).expect("conflicts");
    assert_eq!(c.len(), 1);
    assert_eq!(c[0]["status"], "applied", "{c:?}");
}
