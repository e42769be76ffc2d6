//! The store as a cluster node's state machine: the same committed batches applied on two
//! stores give identical stores; an entry applied again after a restart (same mark) is skipped
//! exactly; a refused command refuses identically everywhere; a snapshot installed from one
//! store makes the other identical, counters included.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

use innsync_core::{Command, ServerCode};
use innsync_store::{Batch, Clock, Job, StoreError, WriteOutcome, Writer, WriterSettings};
use std::sync::Arc;

fn wb() -> ServerCode {
    ServerCode::parse("WB").unwrap()
}

fn clock() -> Clock {
    // Never read by a replica: the batch carries its time.
    Arc::new(|| panic!("a replica must take the time from the batch"))
}

fn property(code: &str) -> Job {
    Job::Command {
        cmd: Box::new(Command::CreateProperty {
            code: code.into(),
            name: format!("Property {code}"),
            timezone: "UTC".into(),
            currency: None,
        }),
        actor: "admin".into(),
        idempotency_key: None,
    }
}

fn batch(jobs: Vec<Job>) -> Batch {
    Batch {
        now: "2026-12-01T10:00:00Z".parse().unwrap(),
        jobs,
    }
}

/// A batch as it travels in the log (JSON), parsed again.
fn travelled(b: &Batch) -> Batch {
    serde_json::from_str(&serde_json::to_string(b).unwrap()).unwrap()
}

#[tokio::test]
async fn replicas_applying_the_same_entries_are_identical_and_skip_what_they_applied() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (_wa, ra, a, _qa) =
        Writer::open_replicated(da.path(), wb(), clock(), WriterSettings::default()).unwrap();
    let (_wb, rb, b, _qb) =
        Writer::open_replicated(db.path(), wb(), clock(), WriterSettings::default()).unwrap();
    let entries = [
        batch(vec![property("KRL"), property("LOD")]),
        // The second KRL is refused (already exists) on both, the others applied.
        batch(vec![property("KRL"), property("SEA"), Job::Freeze(true)]),
    ];
    for (i, e) in entries.iter().enumerate() {
        let mark = format!("{{\"entry\":{i}}}");
        let x = a.apply(travelled(e), mark.clone()).await.unwrap();
        let y = b.apply(travelled(e), mark).await.unwrap();
        assert_eq!(x.len(), e.jobs.len());
        for (x, y) in x.iter().zip(&y) {
            match (x, y) {
                (Ok(x), Ok(y)) => assert_eq!(x, y),
                (Err(StoreError::Refused(x)), Err(StoreError::Refused(y))) => {
                    assert_eq!(x.code(), y.code())
                }
                other => panic!("the replicas answered differently: {other:?}"),
            }
        }
    }
    assert!(matches!(
        a.apply(travelled(&entries[1]), "{\"entry\":9}".into())
            .await
            .unwrap()[0],
        Err(StoreError::Refused(_))
    ));
    assert_eq!(ra.digest().unwrap(), rb.digest().unwrap());
    assert_eq!(
        a.applied_mark().await.unwrap().as_deref(),
        Some("{\"entry\":9}")
    );
    // The last entry again, as after a crash before openraft learned it was applied: skipped.
    let before = rb.digest().unwrap();
    let again = b
        .apply(
            travelled(&batch(vec![property("NEW")])),
            "{\"entry\":1}".into(),
        )
        .await
        .unwrap();
    assert!(
        matches!(again[0], Err(StoreError::Unavailable(_))),
        "{again:?}"
    );
    assert_eq!(rb.digest().unwrap(), before);
    // A snapshot of A installed on a fresh store C: identical, and C goes on with A's counters.
    let snap = tempfile::tempdir().unwrap();
    let file = snap.path().join("snap.db");
    {
        let src = rusqlite::Connection::open(da.path().join("innsync.db")).unwrap();
        src.backup(rusqlite::MAIN_DB, &file, None).unwrap();
    }
    let dc = tempfile::tempdir().unwrap();
    let (_wc, rc, c, _qc) =
        Writer::open_replicated(dc.path(), wb(), clock(), WriterSettings::default()).unwrap();
    c.install(file).await.unwrap();
    assert_eq!(rc.digest().unwrap(), ra.digest().unwrap());
    assert_eq!(
        c.applied_mark().await.unwrap(),
        a.applied_mark().await.unwrap()
    );
    // The freeze travelled in the snapshot: both refuse env writes alike…
    let next = batch(vec![property("ZZZ")]);
    let x = a
        .apply(travelled(&next), "{\"entry\":10}".into())
        .await
        .unwrap();
    let y = c
        .apply(travelled(&next), "{\"entry\":10}".into())
        .await
        .unwrap();
    for r in [&x[0], &y[0]] {
        match r {
            Err(StoreError::Refused(e)) => assert_eq!(e.code().as_str(), "handover_in_progress"),
            other => panic!("{other:?}"),
        }
    }
    // …and after the thaw both write the same record with the same id.
    let next = batch(vec![Job::Freeze(false), property("ZZZ")]);
    let x = a
        .apply(travelled(&next), "{\"entry\":11}".into())
        .await
        .unwrap();
    let y = c
        .apply(travelled(&next), "{\"entry\":11}".into())
        .await
        .unwrap();
    match (&x[1], &y[1]) {
        (Ok(WriteOutcome::Done(x)), Ok(WriteOutcome::Done(y))) => assert_eq!(x, y),
        other => panic!("{other:?}"),
    }
    assert_eq!(rc.digest().unwrap(), ra.digest().unwrap());
}

#[tokio::test]
async fn entries_applied_together_give_the_store_they_give_one_by_one() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (_wa, ra, a, _qa) =
        Writer::open_replicated(da.path(), wb(), clock(), WriterSettings::default()).unwrap();
    let (_wb, rb, b, _qb) =
        Writer::open_replicated(db.path(), wb(), clock(), WriterSettings::default()).unwrap();
    let entries = [
        batch(vec![property("KRL"), property("LOD")]),
        // A refusal (KRL exists), a freeze, then a write the freeze refuses.
        batch(vec![property("KRL"), property("SEA"), Job::Freeze(true)]),
        batch(vec![property("FRZ")]),
        batch(vec![]),
        batch(vec![Job::Freeze(false), property("AFT")]),
    ];
    let mark = |i: usize| format!("{{\"entry\":{i}}}");
    // A: one entry per call; B: every entry in one call.
    let mut one_by_one = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        one_by_one.push(a.apply(travelled(e), mark(i)).await.unwrap());
    }
    let together = b
        .apply_entries(
            entries
                .iter()
                .enumerate()
                .map(|(i, e)| (travelled(e), mark(i)))
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(together.len(), entries.len());
    for (x, y) in one_by_one.iter().flatten().zip(together.iter().flatten()) {
        match (x, y) {
            (Ok(x), Ok(y)) => assert_eq!(x, y),
            (Err(StoreError::Refused(x)), Err(StoreError::Refused(y))) => {
                assert_eq!(x.code(), y.code())
            }
            other => panic!("grouped and one by one answered differently: {other:?}"),
        }
    }
    assert!(matches!(together[2][0], Err(StoreError::Refused(_))));
    assert_eq!(ra.digest().unwrap(), rb.digest().unwrap());
    assert_eq!(
        b.applied_mark().await.unwrap(),
        a.applied_mark().await.unwrap()
    );
    // The last entries handed over again (a crash before openraft learned they were
    // applied): the one already applied is skipped, the new one applied, on both alike.
    let next = [batch(vec![property("AFT")]), batch(vec![property("NXT")])];
    let again = b
        .apply_entries(vec![
            (travelled(&next[0]), mark(4)),
            (travelled(&next[1]), mark(5)),
        ])
        .await
        .unwrap();
    assert!(
        matches!(again[0][0], Err(StoreError::Unavailable(_))),
        "{again:?}"
    );
    assert!(again[1][0].is_ok(), "{again:?}");
    a.apply(travelled(&next[1]), mark(5)).await.unwrap();
    assert_eq!(ra.digest().unwrap(), rb.digest().unwrap());
}
