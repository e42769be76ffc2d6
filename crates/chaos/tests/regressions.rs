//! Regression tests, at the level of one store, for what the chaos harness found where a
//! deterministic reproduction needs the writer's batches (docs/testing.md, finding 4).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

use chrono::{DateTime, Utc};
use innsync_core::{Command, ServerCode};
use innsync_store::{Writer, WriterSettings};
use std::sync::Arc;
use std::time::Duration;

fn code(s: &str) -> ServerCode {
    ServerCode::parse(s).unwrap()
}

fn clock() -> innsync_store::Clock {
    let t: DateTime<Utc> = "2026-12-01T08:00:00Z".parse().unwrap();
    Arc::new(move || t)
}

/// Finding 4. RS's writer takes, in one group commit, a replicated batch carrying a new master
/// token (WB granted RA epoch 2) and then a forced takeover. The takeover is decided with the
/// epoch from before the batch (1), so it writes the token at version 2 — the version just
/// replicated — and the writer's "a decided write is always newer" assertion kills the writer
/// thread: the server answers 503 to every write and stops replicating until restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_in_one_batch_with_a_replicated_token_keeps_the_writer_alive() {
    let (dw, dr) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (wb, wb_reads) =
        Writer::open(dw.path(), code("WB"), clock(), WriterSettings::default()).unwrap();
    wb.submit(
        Command::GrantMaster {
            to: code("RA"),
            epoch: 2,
            reason: "handover".into(),
        },
        "admin",
        None,
    )
    .await
    .unwrap();
    let changes = wb_reads.changes_after(&Default::default(), 1_000).unwrap();
    let settings = WriterSettings {
        initial_master: Some(code("WB")),
        ..WriterSettings::default()
    };
    let (rs, _) = Writer::open(dr.path(), code("RS"), clock(), settings).unwrap();
    // Both requests wait behind a pause, so they are taken into one group commit, in order.
    let hold = rs.pause().await.unwrap();
    let replicate = tokio::spawn({
        let rs = rs.clone();
        async move { rs.replicate(changes).await }
    });
    while rs.queued() < 1 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let takeover = tokio::spawn({
        let rs = rs.clone();
        async move {
            rs.submit(
                Command::TakeOver {
                    reason: "the master is gone".into(),
                    old_master_seq: 0,
                },
                "admin",
                None,
            )
            .await
        }
    });
    while rs.queued() < 2 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    drop(hold);
    let replicated = replicate.await.unwrap();
    assert!(replicated.is_ok(), "{replicated:?}");
    let took = takeover.await.unwrap();
    // Decided against epoch 2 it takes epoch 3; it must not be answered "unavailable".
    if let Err(e) = &took {
        assert!(
            !matches!(e, innsync_store::StoreError::Unavailable(_)),
            "the writer died: {e}"
        );
    }
    // And the writer still writes.
    let after = rs
        .submit(
            Command::TakeOver {
                reason: "again".into(),
                old_master_seq: 0,
            },
            "admin",
            None,
        )
        .await;
    assert!(
        !matches!(after, Err(innsync_store::StoreError::Unavailable(_))),
        "the writer is gone: {after:?}"
    );
}

/// Finding 4, its other face (chaos seeds 2004, 2005): WB's writer takes, in one group commit,
/// a replicated forced takeover by RS (epoch 2, fencing WB after its change 0) and then an env
/// write. The write is decided as if WB were still master at epoch 1, after the fence it just
/// learned: it is applied on WB, while every other server quarantines it at the door — the
/// servers never converge, and a write WB acknowledged counts nowhere else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_env_write_in_one_batch_with_a_replicated_takeover_is_refused() {
    let (dw, dr) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (wb, wb_reads) =
        Writer::open(dw.path(), code("WB"), clock(), WriterSettings::default()).unwrap();
    let settings = WriterSettings {
        initial_master: Some(code("WB")),
        ..WriterSettings::default()
    };
    let (rs, rs_reads) = Writer::open(dr.path(), code("RS"), clock(), settings).unwrap();
    rs.submit(
        Command::TakeOver {
            reason: "WB is gone".into(),
            old_master_seq: 0,
        },
        "admin",
        None,
    )
    .await
    .unwrap();
    let takeover = rs_reads.changes_after(&Default::default(), 1_000).unwrap();
    let hold = wb.pause().await.unwrap();
    let replicate = tokio::spawn({
        let wb = wb.clone();
        async move { wb.replicate(takeover).await }
    });
    while wb.queued() < 1 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let write = tokio::spawn({
        let wb = wb.clone();
        async move {
            wb.submit(
                Command::CreateProperty {
                    code: "NEW".into(),
                    name: "After the fence".into(),
                    timezone: "UTC".into(),
                    currency: None,
                },
                "admin",
                None,
            )
            .await
        }
    });
    while wb.queued() < 2 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    drop(hold);
    replicate.await.unwrap().unwrap();
    let _ = write.await.unwrap();
    assert_eq!(wb_reads.master().unwrap(), (code("RS"), 2));
    assert!(
        wb_reads.property("NEW").unwrap().is_none(),
        "WB applied an env write after learning that RS took over"
    );
}
