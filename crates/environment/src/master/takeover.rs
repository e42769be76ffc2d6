//! Forced takeover, for when the master is gone (DESIGN §6): an explicit, audited command on the
//! new master T, which takes an epoch above any it has seen and fences the old master M at the
//! last change T had from it. When M returns, its env writes after that point become conflicts.

use super::{Epoch, MasterToken};
use crate::limits::MAX_NAME_CHARS;
use chrono::{DateTime, Utc};
use innsync_core::fencing::{Claim, FenceAt};
use innsync_core::ServerCode;
use serde::{Deserialize, Serialize};

/// Longest takeover reason kept in the audit log.
pub const MAX_REASON_CHARS: usize = 2_000;

/// The operator's request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TakeoverRequest {
    /// Why; required, because forcing leaves work for an operator later.
    pub reason: String,
    /// Who asked (user name), for the audit log.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// The point after which the old master's env writes are illegitimate: every change it wrote at
/// `epoch` (or earlier) with a seq above `last_seq` was never seen by the new master.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fence {
    /// The old master.
    pub server: ServerCode,
    /// Its epoch.
    pub epoch: Epoch,
    /// The last of its changes the new master had applied.
    pub last_seq: u64,
}

impl Fence {
    /// The takeover's claim, as the one fencing rule ([`innsync_core::fencing`]) takes it: the
    /// simulation and the store judge env writes by the same function.
    pub fn claim(&self, token: &MasterToken) -> Claim {
        Claim {
            epoch: token.epoch.0,
            server: token.server.clone(),
            takeover: true,
            fence: Some(FenceAt {
                server: self.server.clone(),
                epoch: self.epoch.0,
                seq: self.last_seq,
            }),
        }
    }
}

/// The audit record of a takeover, written with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakeoverAudit {
    /// The operator.
    pub actor: String,
    /// Their reason.
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The master before.
    pub previous: MasterToken,
    /// The master after.
    pub new: MasterToken,
    /// Where the old master was cut off.
    pub fence: Fence,
}

/// What a takeover writes: the new token, the fence (see [`Fence::claim`]) and
/// the audit record, all in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Takeover {
    /// This server, at its new epoch.
    pub token: MasterToken,
    /// The old master's cut-off.
    pub fence: Fence,
    /// For the audit log.
    pub audit: TakeoverAudit,
}

/// Why a takeover is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TakeoverRefusal {
    /// No reason given.
    #[error("a forced takeover needs a reason for the audit log")]
    ReasonRequired,
    /// A reason longer than the audit log keeps.
    #[error("the reason is {0} characters long; at most {MAX_REASON_CHARS} are kept")]
    ReasonTooLong(usize),
    /// No actor.
    #[error("a forced takeover needs the name of who asked (1 to {MAX_NAME_CHARS} characters)")]
    ActorRequired,
    /// Already master: nothing to take.
    #[error("this server is already the master at epoch {0}")]
    AlreadyMaster(Epoch),
    /// This server may not be master.
    #[error("{0} is not a web or reservation server, so it cannot be master")]
    NotEligible(ServerCode),
    /// No epoch left (never in practice).
    #[error("no epoch is left above {0}")]
    EpochsExhausted(Epoch),
}

/// Computes a forced takeover by `me`.
///
/// `current` is the master as `me` knows it; `highest_seen` the highest epoch `me` has seen
/// anywhere (token history, stamps of held or quarantined changes); `last_seq_from_master` the
/// cursor of `me` for the old master's origin. `eligible` says whether `me` may be master.
pub fn force_takeover(
    me: &ServerCode,
    eligible: bool,
    current: &MasterToken,
    highest_seen: Epoch,
    last_seq_from_master: u64,
    request: TakeoverRequest,
) -> Result<Takeover, TakeoverRefusal> {
    let reason = request.reason.trim();
    if reason.is_empty() {
        return Err(TakeoverRefusal::ReasonRequired);
    }
    let chars = reason.chars().count();
    if chars > MAX_REASON_CHARS {
        return Err(TakeoverRefusal::ReasonTooLong(chars));
    }
    let actor = request.actor.trim();
    if actor.is_empty() || actor.chars().count() > MAX_NAME_CHARS {
        return Err(TakeoverRefusal::ActorRequired);
    }
    if !eligible {
        return Err(TakeoverRefusal::NotEligible(me.clone()));
    }
    if &current.server == me {
        return Err(TakeoverRefusal::AlreadyMaster(current.epoch));
    }
    let above = highest_seen.max(current.epoch);
    let epoch = above
        .next()
        .ok_or(TakeoverRefusal::EpochsExhausted(above))?;
    let token = MasterToken {
        server: me.clone(),
        epoch,
    };
    let fence = Fence {
        server: current.server.clone(),
        epoch: current.epoch,
        last_seq: last_seq_from_master,
    };
    Ok(Takeover {
        audit: TakeoverAudit {
            actor: actor.to_string(),
            reason: reason.to_string(),
            at: request.at,
            previous: current.clone(),
            new: token.clone(),
            fence: fence.clone(),
        },
        token,
        fence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use innsync_core::fencing::Claims;

    fn code(s: &str) -> ServerCode {
        ServerCode::parse(s).unwrap()
    }
    fn request(reason: &str) -> TakeoverRequest {
        TakeoverRequest {
            reason: reason.to_string(),
            actor: "ops".to_string(),
            at: Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap(),
        }
    }
    fn wb_at(epoch: u64) -> MasterToken {
        MasterToken {
            server: code("WB"),
            epoch: Epoch(epoch),
        }
    }

    #[test]
    fn takeover_takes_an_epoch_above_any_seen_and_is_audited() {
        let t = force_takeover(
            &code("RS"),
            true,
            &wb_at(4),
            Epoch(6),
            120,
            request(" WB burned down "),
        )
        .unwrap();
        assert_eq!(
            t.token,
            MasterToken {
                server: code("RS"),
                epoch: Epoch(7)
            }
        );
        assert_eq!(
            t.fence,
            Fence {
                server: code("WB"),
                epoch: Epoch(4),
                last_seq: 120
            }
        );
        assert_eq!(t.audit.reason, "WB burned down");
        assert_eq!(t.audit.previous, wb_at(4));
        assert_eq!(t.audit.new, t.token);
        // Without a higher epoch seen elsewhere, it is simply the next one.
        let t = force_takeover(&code("RS"), true, &wb_at(4), Epoch(2), 0, request("x")).unwrap();
        assert_eq!(t.token.epoch, Epoch(5));
    }

    #[test]
    fn takeover_refusals() {
        let r = |me: &str, eligible, reason: &str| {
            force_takeover(&code(me), eligible, &wb_at(4), Epoch(4), 0, request(reason))
                .unwrap_err()
        };
        assert_eq!(r("RS", true, "  "), TakeoverRefusal::ReasonRequired);
        assert_eq!(r("WB", true, "x"), TakeoverRefusal::AlreadyMaster(Epoch(4)));
        assert_eq!(
            r("PA", false, "x"),
            TakeoverRefusal::NotEligible(code("PA"))
        );
        assert!(matches!(
            r("RS", true, &"x".repeat(MAX_REASON_CHARS + 1)),
            TakeoverRefusal::ReasonTooLong(_)
        ));
        let max = force_takeover(
            &code("RS"),
            true,
            &wb_at(u64::MAX),
            Epoch(0),
            0,
            request("x"),
        );
        assert_eq!(
            max.unwrap_err(),
            TakeoverRefusal::EpochsExhausted(Epoch(u64::MAX))
        );
    }

    #[test]
    fn the_returning_master_s_env_writes_after_the_fence_do_not_count() {
        let t = force_takeover(&code("RS"), true, &wb_at(4), Epoch(4), 100, request("x")).unwrap();
        let mut claims = Claims::new();
        claims.learn(Claim {
            epoch: 4,
            server: code("WB"),
            takeover: false,
            fence: None,
        });
        claims.learn(t.fence.claim(&t.token));
        let counts: Vec<bool> = [99, 100, 101, 103]
            .iter()
            .map(|s| claims.env_write_counts(&code("WB"), 4, *s))
            .collect();
        assert_eq!(counts, vec![true, true, false, false]);
        assert!(claims.may_write_env(&code("RS")));
        assert!(!claims.may_write_env(&code("WB")));
    }
}
