//! The handover state machine, run by the current master M for a target T (DESIGN §6):
//!
//! ```text
//! Idle ──Requested──▶ Freezing ──Frozen──▶ HandingOver ──caught up──▶ Granting ──GrantDurable──▶ Granted
//!                        │                     │
//!                        └──timeout, unreachable, superseded──▶ Aborted (M stays master, unfrozen)
//! ```
//!
//! Once `WriteGrant` is emitted the handover can no longer abort: the grant may already be
//! durable, and unfreezing then would make two masters. The driver performs each
//! [`HandoverCommand`] and feeds back what happened as a [`HandoverEvent`].

use super::signals::{AbortReason, Alert, HandoverCommand, HandoverEvent, HandoverRefusal};
use super::{Epoch, MasterToken};
use crate::cursor::CursorMap;
use crate::Environment;
use chrono::{DateTime, TimeDelta, Utc};
use innsync_core::ServerCode;
use std::collections::BTreeSet;

/// Default for [`HandoverSettings::timeout`]: long enough to move a day's changes over a slow
/// office link, short enough that env writes are not refused for long.
pub const DEFAULT_HANDOVER_TIMEOUT_SECS: i64 = 120;

/// The handover's tunables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandoverSettings {
    /// How long M may stay frozen waiting for T to catch up before it aborts and stays master.
    pub timeout: TimeDelta,
}

impl Default for HandoverSettings {
    fn default() -> Self {
        Self {
            timeout: TimeDelta::seconds(DEFAULT_HANDOVER_TIMEOUT_SECS),
        }
    }
}

/// Where the handover stands; `handing_over` in the API covers `Freezing`, `HandingOver` and
/// `Granting`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandoverState {
    /// No handover under way.
    Idle,
    /// Env writes are being frozen; waiting for the writer to confirm and report its cursors.
    Freezing {
        /// T.
        target: ServerCode,
        /// When it aborts.
        deadline: DateTime<Utc>,
    },
    /// Pushing changes until T holds everything M held when it froze.
    HandingOver {
        /// T.
        target: ServerCode,
        /// When it aborts.
        deadline: DateTime<Utc>,
        /// M's cursors at the freeze: what T must cover.
        required: CursorMap,
    },
    /// The grant is being written; past the point of no return.
    Granting {
        /// T.
        target: ServerCode,
        /// T's epoch.
        epoch: Epoch,
    },
    /// Done: T is master at `epoch`, M is a slave.
    Granted {
        /// T.
        to: ServerCode,
        /// T's epoch.
        epoch: Epoch,
    },
    /// Given up; M is still master and writes env records again.
    Aborted {
        /// T.
        target: ServerCode,
        /// Why.
        reason: AbortReason,
    },
}

/// The handover engine of one server.
#[derive(Clone, Debug)]
pub struct HandoverEngine {
    me: ServerCode,
    token: MasterToken,
    eligible: BTreeSet<ServerCode>,
    settings: HandoverSettings,
    state: HandoverState,
}

impl HandoverEngine {
    /// An idle engine for server `me`, knowing `token` and which servers may be master.
    pub fn new(
        me: ServerCode,
        token: MasterToken,
        eligible: BTreeSet<ServerCode>,
        settings: HandoverSettings,
    ) -> Self {
        Self {
            me,
            token,
            eligible,
            settings,
            state: HandoverState::Idle,
        }
    }

    /// An idle engine whose eligible targets are the environment's web and reservation servers.
    pub fn for_environment(
        env: &Environment,
        me: ServerCode,
        token: MasterToken,
        settings: HandoverSettings,
    ) -> Self {
        let eligible = env
            .servers
            .iter()
            .filter(|s| s.role.may_be_master())
            .map(|s| s.code.clone())
            .collect();
        Self::new(me, token, eligible, settings)
    }

    /// Where the handover stands.
    pub fn state(&self) -> &HandoverState {
        &self.state
    }

    /// The master token as this engine knows it.
    pub fn token(&self) -> &MasterToken {
        &self.token
    }

    /// Whether env writes are frozen now (`handover_in_progress`).
    pub fn is_frozen(&self) -> bool {
        matches!(
            self.state,
            HandoverState::Freezing { .. }
                | HandoverState::HandingOver { .. }
                | HandoverState::Granting { .. }
        )
    }

    /// Handles one event; returns the commands to perform in order. Only `Requested` can be
    /// refused; every other event is absorbed (stale or unexpected ones change nothing).
    pub fn handle(
        &mut self,
        event: HandoverEvent,
    ) -> Result<Vec<HandoverCommand>, HandoverRefusal> {
        use HandoverCommand as C;
        use HandoverEvent as E;
        use HandoverState as S;
        let cmds = match (event, &self.state) {
            (E::Requested { to, now }, _) => return self.request(to, now),

            (E::Frozen { local_cursor }, S::Freezing { target, deadline }) => {
                let target = target.clone();
                self.state = S::HandingOver {
                    target: target.clone(),
                    deadline: *deadline,
                    required: local_cursor,
                };
                vec![C::PushChangesTo(target)]
            }

            (E::TransferProgress { target_cursor }, S::HandingOver { required, .. }) => {
                if target_cursor.covers(required) {
                    self.grant()
                } else {
                    vec![]
                }
            }

            (
                E::TargetCaughtUp { target_cursor },
                S::HandingOver {
                    target, required, ..
                },
            ) => {
                if target_cursor.covers(required) {
                    self.grant()
                } else {
                    // T thinks it is done but lacks something M holds: push again.
                    vec![C::PushChangesTo(target.clone())]
                }
            }

            (E::Tick { now }, S::Freezing { deadline, .. } | S::HandingOver { deadline, .. })
                if now >= *deadline =>
            {
                self.abort(AbortReason::TimedOut(self.settings.timeout.num_seconds()))
            }

            (E::TargetUnreachable { detail }, S::Freezing { .. } | S::HandingOver { .. }) => {
                // Fail fast: every env write in the environment waits while M is frozen.
                self.abort(AbortReason::TargetUnreachable(detail))
            }

            (
                E::GrantDurable { to, epoch },
                S::Granting {
                    target,
                    epoch: pending,
                },
            ) if &to == target && epoch == *pending => {
                if epoch > self.token.epoch {
                    self.token = MasterToken {
                        server: to.clone(),
                        epoch,
                    };
                }
                self.state = S::Granted { to, epoch };
                vec![C::UnfreezeEnvWrites]
            }

            (E::GrantFailed { detail }, S::Granting { .. }) => {
                self.abort(AbortReason::GrantFailed(detail))
            }

            (E::MasterLearned { token }, _) => self.learn(token),

            // Stale or out-of-place events (a late timer, a grant of an older epoch, progress
            // after an abort) change nothing.
            _ => vec![],
        };
        Ok(cmds)
    }

    fn request(
        &mut self,
        to: ServerCode,
        now: DateTime<Utc>,
    ) -> Result<Vec<HandoverCommand>, HandoverRefusal> {
        use HandoverState as S;
        match &self.state {
            S::Freezing { target, .. }
            | S::HandingOver { target, .. }
            | S::Granting { target, .. } => {
                return if *target == to {
                    Ok(vec![]) // the same request again (a retry): already under way
                } else {
                    Err(HandoverRefusal::InProgress {
                        target: target.clone(),
                    })
                };
            }
            S::Idle | S::Granted { .. } | S::Aborted { .. } => {}
        }
        if self.token.server != self.me {
            return Err(HandoverRefusal::NotMaster {
                master: self.token.server.clone(),
                epoch: self.token.epoch,
            });
        }
        if to == self.me {
            return Err(HandoverRefusal::TargetIsSelf);
        }
        if !self.eligible.contains(&to) {
            return Err(HandoverRefusal::NotEligible(to));
        }
        if self.token.epoch.next().is_none() {
            return Err(HandoverRefusal::EpochsExhausted(self.token.epoch));
        }
        let deadline = now + self.settings.timeout;
        self.state = S::Freezing {
            target: to,
            deadline,
        };
        Ok(vec![
            HandoverCommand::FreezeEnvWrites,
            HandoverCommand::SetTimer(deadline),
        ])
    }

    fn grant(&mut self) -> Vec<HandoverCommand> {
        let HandoverState::HandingOver { target, .. } = &self.state else {
            return vec![];
        };
        let Some(epoch) = self.token.epoch.next() else {
            // Checked when requested; kept as an abort rather than a panic.
            return self.abort(AbortReason::GrantFailed("no epoch left".to_string()));
        };
        let to = target.clone();
        self.state = HandoverState::Granting {
            target: to.clone(),
            epoch,
        };
        vec![HandoverCommand::WriteGrant { to, epoch }]
    }

    fn abort(&mut self, reason: AbortReason) -> Vec<HandoverCommand> {
        let target = match &self.state {
            HandoverState::Freezing { target, .. }
            | HandoverState::HandingOver { target, .. }
            | HandoverState::Granting { target, .. } => target.clone(),
            _ => return vec![],
        };
        self.state = HandoverState::Aborted {
            target: target.clone(),
            reason: reason.clone(),
        };
        vec![
            HandoverCommand::UnfreezeEnvWrites,
            HandoverCommand::Alert(Alert::HandoverAborted { target, reason }),
        ]
    }

    fn learn(&mut self, token: MasterToken) -> Vec<HandoverCommand> {
        if token.epoch <= self.token.epoch {
            return vec![]; // stale: grants arrive late and along several chains
        }
        let was_master = self.token.server == self.me;
        self.token = token.clone();
        match self.state {
            HandoverState::Freezing { .. } | HandoverState::HandingOver { .. } => {
                self.abort(AbortReason::Superseded(token))
            }
            // The grant is in flight; it completes as written and is then superseded itself.
            HandoverState::Granting { .. } => vec![],
            _ if was_master && token.server != self.me => {
                vec![HandoverCommand::Alert(Alert::Superseded { by: token })]
            }
            _ => vec![],
        }
    }
}
