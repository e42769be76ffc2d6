//! Two servers claiming one epoch — a forced takeover racing a handover (chaos findings 3 and
//! 5) — end with one master for that epoch on every server, whatever order the claims arrive
//! in: a takeover ranks before a grant, the other claimant's env writes of that epoch are
//! fenced into conflicts, and everyone converges.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use innsync_core::{Command, ServerCode};
use innsync_store::{ReadPool, Writer};

fn open(dir: &std::path::Path, me: &ServerCode, all: &[ServerCode]) -> (Writer, ReadPool) {
    common::open(dir, me, all, &[])
}

async fn pull(to: &(Writer, ReadPool), from: &ReadPool) {
    common::pull((&to.0, &to.1), from).await
}

fn property(code: &str) -> Command {
    common::property(code, code, None)
}

async fn scenario(order: &[usize]) {
    let codes: Vec<ServerCode> = ["WA", "WB", "WC"]
        .iter()
        .map(|c| ServerCode::parse(c).unwrap())
        .collect();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let n: Vec<(Writer, ReadPool)> = codes
        .iter()
        .zip(&dirs)
        .map(|(c, d)| open(d.path(), c, &codes))
        .collect();
    n[0].0.submit(property("P0"), "t", None).await.unwrap();
    for i in [1, 2] {
        pull(&n[i], &n[0].1).await;
    }
    let seen_of_wa = n[2].1.cursors().unwrap()["WA"];
    // WA hands over to WB at epoch 2; cut off, WC is forced to take over — at epoch 2 too.
    pull(&n[1], &n[0].1).await;
    n[0].0
        .submit(
            Command::GrantMaster {
                to: codes[1].clone(),
                epoch: 2,
                reason: "handover".into(),
            },
            "t",
            None,
        )
        .await
        .unwrap();
    pull(&n[1], &n[0].1).await;
    n[2].0
        .submit(
            Command::TakeOver {
                reason: "WA unreachable".into(),
                old_master_seq: seen_of_wa,
            },
            "ops",
            None,
        )
        .await
        .unwrap();
    // Both act as master of epoch 2.
    n[1].0.submit(property("PB"), "t", None).await.unwrap();
    n[2].0.submit(property("PC"), "t", None).await.unwrap();
    // Heal, in the order given.
    for _ in 0..3 {
        for &to in order {
            for from in 0..3 {
                if from != to {
                    pull(&n[to], &n[from].1).await;
                }
            }
        }
    }
    let digest = n[0].1.digest().unwrap();
    for (i, (_, r)) in n.iter().enumerate() {
        r.check_invariants().unwrap();
        assert_eq!(
            r.digest().unwrap(),
            digest,
            "server {i} differs (order {order:?})"
        );
        let (master, epoch) = r.master().unwrap();
        assert_eq!(
            (master.as_str(), epoch),
            ("WC", 2),
            "the takeover's claim ranks first"
        );
        assert!(r.property("PC").unwrap().is_some());
        assert!(
            r.property("PB").unwrap().is_none(),
            "the losing claimant's env write is not applied on server {i}"
        );
        let conflicts = r.conflicts(10, &Default::default()).unwrap();
        assert!(
            conflicts
                .iter()
                .any(|c| c["record_id"].as_str().is_some() && c["theirs"]["code"] == "PB"),
            "kept for an operator: {conflicts:?}"
        );
    }
}

#[tokio::test]
async fn one_master_per_epoch_whatever_the_order_of_the_claims() {
    scenario(&[0, 1, 2]).await;
    scenario(&[2, 1, 0]).await;
    scenario(&[1, 0, 2]).await;
}
