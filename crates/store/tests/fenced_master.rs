//! A master whose own writes at its epoch are fenced adds no env write there: each would be
//! quarantined on every server, so an agent told "created" would later learn it was undone.
//! The writer answers such a request as a server that is not the master, and its own-owned
//! writes (those it owns whatever the token says) still go through.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test that cannot go on fails, loudly"
)]

use chrono::{DateTime, Utc};
use innsync_core::{Command, ServerCode};
use innsync_store::{Clock, ReadPool, WriteOutcome, Writer, WriterSettings};
use std::path::Path;
use std::sync::Arc;

fn code(s: &str) -> ServerCode {
    ServerCode::parse(s).expect("code")
}

fn open(dir: &Path) -> (Writer, ReadPool) {
    let now: DateTime<Utc> = "2026-12-01T08:00:00Z".parse().expect("time");
    let clock: Clock = Arc::new(move || now);
    Writer::open(
        dir,
        code("RS"),
        clock,
        WriterSettings {
            initial_master: Some(code("RS")),
            holders: vec![code("RS"), code("WB")],
            ..WriterSettings::default()
        },
    )
    .expect("open")
}

fn property(code: &str) -> Command {
    Command::CreateProperty {
        code: code.into(),
        name: format!("Lodge {code}"),
        timezone: "UTC".into(),
        currency: None,
    }
}

#[tokio::test]
async fn a_master_fenced_at_its_own_epoch_refuses_env_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (w, r) = open(dir.path());
        let out = w
            .submit(property("P1"), "ann", None)
            .await
            .expect("decided");
        assert!(matches!(out, WriteOutcome::Done(_)), "{out:?}");
        assert_eq!(r.master().expect("master"), (code("RS"), 1));
    }
    // A fence on RS's own changes at epoch 1, after its change 1, as a forced takeover it has
    // not seen the token of would leave (the store keeps fences in their own table).
    {
        let conn =
            rusqlite::Connection::open(dir.path().join(innsync_store::DB_FILE)).expect("sqlite");
        conn.execute(
            "INSERT INTO fences (server, epoch, seq) VALUES ('RS', 1, 1)",
            [],
        )
        .expect("fence");
    }
    let (w, r) = open(dir.path());
    match w.submit(property("P2"), "ann", None).await {
        Err(innsync_store::StoreError::Refused(e)) => {
            assert_eq!(e.code().as_str(), "not_master", "{e}");
        }
        other => panic!("a fenced master wrote an env record: {other:?}"),
    }
    assert!(r.property("P2").expect("read").is_none(), "nothing written");
    assert!(r.property("P1").expect("read").is_some());
}
