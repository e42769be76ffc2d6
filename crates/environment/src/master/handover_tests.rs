//! Engine tests in the style of openraft's: each feeds an event sequence to a fresh engine and
//! asserts the exact commands emitted and the state reached.

use super::*;
use crate::cursor::CursorMap;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use innsync_core::ServerCode;
use HandoverCommand as C;
use HandoverEvent as E;

fn code(s: &str) -> ServerCode {
    ServerCode::parse(s).unwrap()
}
fn at(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 2, 8, 0, 0).unwrap() + TimeDelta::seconds(secs)
}
fn wb_master(epoch: u64) -> MasterToken {
    MasterToken {
        server: code("WB"),
        epoch: Epoch(epoch),
    }
}
/// WB's engine, master at epoch 3, in an environment of WB, RS, RA (eligible) and PA (not).
fn engine() -> HandoverEngine {
    engine_of("WB", wb_master(3))
}
fn engine_of(me: &str, token: MasterToken) -> HandoverEngine {
    let eligible = ["WB", "RS", "RA"].into_iter().map(code).collect();
    HandoverEngine::new(
        code(me),
        token,
        eligible,
        HandoverSettings {
            timeout: TimeDelta::seconds(60),
        },
    )
}
fn cursors(wb: u64, pa: u64) -> CursorMap {
    CursorMap::from([(code("WB"), wb), (code("PA"), pa)])
}
fn requested(to: &str, secs: i64) -> HandoverEvent {
    E::Requested {
        to: code(to),
        now: at(secs),
    }
}
/// Runs the steps up to a handover in progress to RS with WB holding WB:10, PA:4.
fn handing_over() -> HandoverEngine {
    let mut e = engine();
    e.handle(requested("RS", 0)).unwrap();
    e.handle(E::Frozen {
        local_cursor: cursors(10, 4),
    })
    .unwrap();
    e
}

#[test]
fn happy_path() {
    let mut e = engine();
    assert_eq!(
        e.handle(requested("RS", 0)),
        Ok(vec![C::FreezeEnvWrites, C::SetTimer(at(60))])
    );
    assert!(e.is_frozen());
    assert_eq!(
        e.handle(E::Frozen {
            local_cursor: cursors(10, 4)
        }),
        Ok(vec![C::PushChangesTo(code("RS"))])
    );
    assert_eq!(
        e.handle(E::TransferProgress {
            target_cursor: cursors(6, 4)
        }),
        Ok(vec![])
    );
    assert_eq!(e.handle(E::Tick { now: at(30) }), Ok(vec![]));
    assert_eq!(
        e.handle(E::TargetCaughtUp {
            target_cursor: cursors(10, 4)
        }),
        Ok(vec![C::WriteGrant {
            to: code("RS"),
            epoch: Epoch(4)
        }])
    );
    // Past the point of no return: the deadline no longer aborts.
    assert_eq!(e.handle(E::Tick { now: at(61) }), Ok(vec![]));
    assert_eq!(
        e.handle(E::GrantDurable {
            to: code("RS"),
            epoch: Epoch(4)
        }),
        Ok(vec![C::UnfreezeEnvWrites])
    );
    assert_eq!(
        e.state(),
        &HandoverState::Granted {
            to: code("RS"),
            epoch: Epoch(4)
        }
    );
    assert_eq!(
        e.token(),
        &MasterToken {
            server: code("RS"),
            epoch: Epoch(4)
        }
    );
    assert!(!e.is_frozen());
}

#[test]
fn progress_that_covers_the_freeze_point_grants_without_waiting() {
    let mut e = handing_over();
    let target_cursor = CursorMap::from([(code("WB"), 12), (code("PA"), 4), (code("RS"), 9)]);
    assert_eq!(
        e.handle(E::TransferProgress { target_cursor }),
        Ok(vec![C::WriteGrant {
            to: code("RS"),
            epoch: Epoch(4)
        }])
    );
}

#[test]
fn caught_up_claim_that_falls_short_pushes_again() {
    let mut e = handing_over();
    assert_eq!(
        e.handle(E::TargetCaughtUp {
            target_cursor: cursors(10, 3)
        }),
        Ok(vec![C::PushChangesTo(code("RS"))])
    );
}

#[test]
fn timeout_aborts_and_leaves_the_master_unfrozen() {
    let mut e = handing_over();
    assert_eq!(e.handle(E::Tick { now: at(59) }), Ok(vec![]));
    let reason = AbortReason::TimedOut(60);
    assert_eq!(
        e.handle(E::Tick { now: at(60) }),
        Ok(vec![
            C::UnfreezeEnvWrites,
            C::Alert(Alert::HandoverAborted {
                target: code("RS"),
                reason: reason.clone()
            })
        ])
    );
    assert_eq!(
        e.state(),
        &HandoverState::Aborted {
            target: code("RS"),
            reason
        }
    );
    assert_eq!(e.token(), &wb_master(3));
    assert!(!e.is_frozen());
    // Late news changes nothing.
    assert_eq!(
        e.handle(E::TargetCaughtUp {
            target_cursor: cursors(10, 4)
        }),
        Ok(vec![])
    );
    assert_eq!(e.handle(E::Tick { now: at(90) }), Ok(vec![]));
}

#[test]
fn timeout_while_freezing_aborts_too() {
    let mut e = engine();
    e.handle(requested("RS", 0)).unwrap();
    assert_eq!(
        e.handle(E::Tick { now: at(61) }),
        Ok(vec![
            C::UnfreezeEnvWrites,
            C::Alert(Alert::HandoverAborted {
                target: code("RS"),
                reason: AbortReason::TimedOut(60)
            })
        ])
    );
}

#[test]
fn target_unreachable_aborts_at_once() {
    let mut e = handing_over();
    let reason = AbortReason::TargetUnreachable("connection refused".into());
    assert_eq!(
        e.handle(E::TargetUnreachable {
            detail: "connection refused".into()
        }),
        Ok(vec![
            C::UnfreezeEnvWrites,
            C::Alert(Alert::HandoverAborted {
                target: code("RS"),
                reason
            })
        ])
    );
    // A new attempt may start afresh.
    assert_eq!(
        e.handle(requested("RS", 100)),
        Ok(vec![C::FreezeEnvWrites, C::SetTimer(at(160))])
    );
}

#[test]
fn duplicate_requests_are_absorbed_and_competing_ones_refused() {
    let mut e = handing_over();
    assert_eq!(e.handle(requested("RS", 5)), Ok(vec![]));
    assert_eq!(
        e.handle(requested("RA", 5)),
        Err(HandoverRefusal::InProgress { target: code("RS") })
    );
    e.handle(E::TargetCaughtUp {
        target_cursor: cursors(10, 4),
    })
    .unwrap();
    assert_eq!(e.handle(requested("RS", 6)), Ok(vec![]));
    // The deadline is unchanged by the duplicate.
    let mut e = engine();
    e.handle(requested("RS", 0)).unwrap();
    assert_eq!(e.handle(requested("RS", 50)), Ok(vec![]));
    assert_eq!(
        e.state(),
        &HandoverState::Freezing {
            target: code("RS"),
            deadline: at(60)
        }
    );
}

#[test]
fn handover_requested_on_a_non_master_is_refused_naming_the_master() {
    let mut e = engine_of("RS", wb_master(3));
    assert_eq!(
        e.handle(requested("RA", 0)),
        Err(HandoverRefusal::NotMaster {
            master: code("WB"),
            epoch: Epoch(3)
        })
    );
    assert_eq!(
        HandoverRefusal::NotMaster {
            master: code("WB"),
            epoch: Epoch(3)
        }
        .to_string(),
        "this server is not the master; the master is WB (epoch 3)"
    );
    // After granting, the old master is not master either.
    let mut e = handing_over();
    e.handle(E::TargetCaughtUp {
        target_cursor: cursors(10, 4),
    })
    .unwrap();
    e.handle(E::GrantDurable {
        to: code("RS"),
        epoch: Epoch(4),
    })
    .unwrap();
    assert_eq!(
        e.handle(requested("RA", 0)),
        Err(HandoverRefusal::NotMaster {
            master: code("RS"),
            epoch: Epoch(4)
        })
    );
}

#[test]
fn bad_targets_are_refused() {
    let mut e = engine();
    assert_eq!(
        e.handle(requested("WB", 0)),
        Err(HandoverRefusal::TargetIsSelf)
    );
    assert_eq!(
        e.handle(requested("PA", 0)),
        Err(HandoverRefusal::NotEligible(code("PA")))
    );
    assert_eq!(e.state(), &HandoverState::Idle);
}

#[test]
fn stale_grants_and_tokens_are_ignored() {
    let mut e = handing_over();
    e.handle(E::TargetCaughtUp {
        target_cursor: cursors(10, 4),
    })
    .unwrap();
    // A grant of an older epoch (or to another server) is not ours.
    assert_eq!(
        e.handle(E::GrantDurable {
            to: code("RS"),
            epoch: Epoch(3)
        }),
        Ok(vec![])
    );
    assert_eq!(
        e.handle(E::GrantDurable {
            to: code("RA"),
            epoch: Epoch(4)
        }),
        Ok(vec![])
    );
    assert_eq!(
        e.state(),
        &HandoverState::Granting {
            target: code("RS"),
            epoch: Epoch(4)
        }
    );
    // A token of a lower or equal epoch learned by replication is old news.
    let mut e = engine();
    assert_eq!(
        e.handle(E::MasterLearned {
            token: MasterToken {
                server: code("RA"),
                epoch: Epoch(2)
            }
        }),
        Ok(vec![])
    );
    assert_eq!(
        e.handle(E::MasterLearned {
            token: MasterToken {
                server: code("RA"),
                epoch: Epoch(3)
            }
        }),
        Ok(vec![])
    );
    assert_eq!(e.token(), &wb_master(3));
}

#[test]
fn a_takeover_elsewhere_aborts_the_handover_and_demotes_the_master() {
    let mut e = handing_over();
    let ra = MasterToken {
        server: code("RA"),
        epoch: Epoch(5),
    };
    assert_eq!(
        e.handle(E::MasterLearned { token: ra.clone() }),
        Ok(vec![
            C::UnfreezeEnvWrites,
            C::Alert(Alert::HandoverAborted {
                target: code("RS"),
                reason: AbortReason::Superseded(ra.clone())
            })
        ])
    );
    assert_eq!(
        e.handle(requested("RS", 0)),
        Err(HandoverRefusal::NotMaster {
            master: code("RA"),
            epoch: Epoch(5)
        })
    );

    let mut idle = engine();
    assert_eq!(
        idle.handle(E::MasterLearned { token: ra.clone() }),
        Ok(vec![C::Alert(Alert::Superseded { by: ra })])
    );
}

#[test]
fn a_failed_grant_write_aborts() {
    let mut e = handing_over();
    e.handle(E::TargetCaughtUp {
        target_cursor: cursors(10, 4),
    })
    .unwrap();
    assert_eq!(
        e.handle(E::GrantFailed {
            detail: "disk full".into()
        }),
        Ok(vec![
            C::UnfreezeEnvWrites,
            C::Alert(Alert::HandoverAborted {
                target: code("RS"),
                reason: AbortReason::GrantFailed("disk full".into())
            })
        ])
    );
    assert_eq!(e.token(), &wb_master(3));
}

#[test]
fn forced_takeover_epoch_is_above_every_epoch_seen() {
    // RS knows WB at epoch 3 but has seen a stamp at epoch 5 (a grant it has not applied yet).
    let t = force_takeover(
        &code("RS"),
        true,
        &wb_master(3),
        Epoch(5),
        42,
        TakeoverRequest {
            reason: "WB unreachable since Friday".into(),
            actor: "admin".into(),
            at: at(0),
        },
    )
    .unwrap();
    assert_eq!(
        t.token,
        MasterToken {
            server: code("RS"),
            epoch: Epoch(6)
        }
    );
    // WB's engine learns it and stands down.
    let mut wb = engine();
    assert_eq!(
        wb.handle(E::MasterLearned {
            token: t.token.clone()
        }),
        Ok(vec![C::Alert(Alert::Superseded { by: t.token })])
    );
}

#[test]
fn a_server_that_gets_the_token_back_can_hand_over_again() {
    let mut e = handing_over();
    e.handle(E::TargetCaughtUp {
        target_cursor: cursors(10, 4),
    })
    .unwrap();
    e.handle(E::GrantDurable {
        to: code("RS"),
        epoch: Epoch(4),
    })
    .unwrap();
    // RS hands back to WB at epoch 5 (learned by replication), then WB hands to RA.
    assert_eq!(
        e.handle(E::MasterLearned {
            token: wb_master(5)
        }),
        Ok(vec![])
    );
    assert_eq!(
        e.handle(requested("RA", 200)),
        Ok(vec![C::FreezeEnvWrites, C::SetTimer(at(260))])
    );
    e.handle(E::Frozen {
        local_cursor: cursors(20, 4),
    })
    .unwrap();
    assert_eq!(
        e.handle(E::TransferProgress {
            target_cursor: cursors(20, 4)
        }),
        Ok(vec![C::WriteGrant {
            to: code("RA"),
            epoch: Epoch(6)
        }])
    );
}
