//! The thin driver of a master handover (DESIGN.md §6) around `innsync-environment`'s sans-I/O
//! `HandoverEngine`: it performs the engine's commands (freeze env writes, write the grant,
//! thaw) and reports what it sees (frozen at this cursor, the target's cursor from its pulls,
//! the target unreachable, time passing). The engine decides; this only carries out.

use crate::problem::Problem;
use crate::state::AppState;
use innsync_core::{Command, ServerCode};
use innsync_environment::cursor::CursorMap;
use innsync_environment::master::{
    Epoch, HandoverCommand, HandoverEngine, HandoverEvent, HandoverRefusal, HandoverSettings,
    HandoverState, MasterToken,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// How often the driver looks at the target's progress.
pub const PROGRESS_POLL: Duration = Duration::from_millis(10);

/// How often a running handover asks the target's waiting pulls to answer again (the first
/// ask can cross a pull already on its way).
pub const NUDGE_EVERY: Duration = Duration::from_millis(500);

/// The outcome of a handover that completed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Granted {
    /// The new master.
    pub master: String,
    /// Its epoch.
    pub epoch: u64,
    /// How long the freeze lasted, in milliseconds.
    pub frozen_ms: u128,
}

fn cursor_map(m: &BTreeMap<String, u64>) -> CursorMap {
    let mut c = CursorMap::new();
    for (o, s) in m {
        if let Ok(code) = ServerCode::parse(o) {
            let _ = c.set(code, *s);
        }
    }
    c
}

fn refusal(r: HandoverRefusal) -> Problem {
    match r {
        HandoverRefusal::NotMaster { master, .. } => {
            Problem::from(innsync_core::DomainError::NotMaster {
                master: Some(master),
            })
        }
        HandoverRefusal::InProgress { .. } => Problem::new(
            axum::http::StatusCode::CONFLICT,
            "handover_in_progress",
            r.to_string(),
        ),
        other => Problem::invalid(other.to_string()),
    }
}

/// Hands the master token to `to`, or explains why not. Only one handover runs at a time.
#[allow(
    clippy::too_many_lines,
    reason = "the handover driver's loop (events in, commands out): one place to read the protocol"
)]
pub async fn run(
    state: &AppState,
    to: ServerCode,
    reason: &str,
    actor: &str,
) -> Result<Granted, Problem> {
    let Some(ctx) = state.env.clone() else {
        return Err(Problem::invalid(
            "this server is not part of an environment",
        ));
    };
    let _one_at_a_time = ctx.handover_lock.try_lock().map_err(|_| {
        Problem::new(
            axum::http::StatusCode::CONFLICT,
            "handover_in_progress",
            "a handover is already running",
        )
    })?;
    let (master, epoch) = state.read(|r| r.master()).await?;
    let settings = HandoverSettings {
        timeout: chrono::TimeDelta::from_std(state.settings.handover_timeout)
            .unwrap_or(chrono::TimeDelta::seconds(30)),
    };
    let mut engine = HandoverEngine::for_environment(
        &ctx.env,
        ctx.me.code.clone(),
        MasterToken {
            server: master,
            epoch: Epoch(epoch),
        },
        settings,
    );
    let mut commands = engine
        .handle(HandoverEvent::Requested {
            to: to.clone(),
            now: (state.clock)(),
        })
        .map_err(refusal)?;
    let started = std::time::Instant::now();
    let mut frozen_at: Option<std::time::Instant> = None;
    let mut last_nudge: Option<std::time::Instant> = None;
    let mut required: Option<CursorMap> = None;
    let mut alerts = Vec::new();
    loop {
        let mut events = Vec::new();
        for c in commands.drain(..) {
            match c {
                HandoverCommand::FreezeEnvWrites => {
                    crate::write::freeze(state, true).await?;
                    ctx.set_handing_over(true);
                    frozen_at = Some(std::time::Instant::now());
                    let local = state.read(|r| r.cursors()).await?;
                    let local = cursor_map(&local);
                    required = Some(local.clone());
                    events.push(HandoverEvent::Frozen {
                        local_cursor: local,
                    });
                }
                // Transfer is pull-based: the target pulls; its next pull shows its cursor.
                HandoverCommand::PushChangesTo(_) => {}
                HandoverCommand::WriteGrant { to, epoch } => {
                    let cmd = Command::GrantMaster {
                        to: to.clone(),
                        epoch: epoch.0,
                        reason: reason.to_string(),
                    };
                    match crate::write::submit(state, cmd, actor, None).await {
                        Ok(_) => events.push(HandoverEvent::GrantDurable { to, epoch }),
                        Err(e) => events.push(HandoverEvent::GrantFailed {
                            detail: e.to_string(),
                        }),
                    }
                }
                HandoverCommand::UnfreezeEnvWrites => {
                    crate::write::freeze(state, false).await?;
                    ctx.set_handing_over(false);
                }
                HandoverCommand::Alert(a) => {
                    tracing::warn!(alert = %a, "handover alert");
                    alerts.push(a.to_string());
                }
                HandoverCommand::SetTimer(_) => {}
            }
        }
        match engine.state().clone() {
            HandoverState::Granted { to, epoch } => {
                let frozen_ms = frozen_at.map_or(0, |f| f.elapsed().as_millis());
                tracing::info!(%to, epoch = epoch.0, frozen_ms, total_ms = started.elapsed().as_millis(), "master handed over");
                return Ok(Granted {
                    master: to.to_string(),
                    epoch: epoch.0,
                    frozen_ms,
                });
            }
            HandoverState::Aborted { reason, .. } => {
                ctx.set_handing_over(false);
                let _ = crate::write::freeze(state, false).await;
                return Err(Problem::unavailable(format!(
                    "handover to {to} aborted, {} stays master: {reason}",
                    ctx.me.code
                )));
            }
            HandoverState::Idle => return Err(Problem::unavailable(alerts.join("; "))),
            _ => {}
        }
        if events.is_empty() {
            // Wait for the target's progress, its silence, or time.
            tokio::time::sleep(PROGRESS_POLL).await;
            // On a cluster, what every node saw: the target may pull from any of them.
            // Ask the target's waiting pulls (here and on every node) to answer, so its next
            // pull shows its cursor now: at the freeze, then at most every `NUDGE_EVERY`.
            let nudge =
                frozen_at.is_some() && last_nudge.is_none_or(|t| t.elapsed() >= NUDGE_EVERY);
            if nudge {
                last_nudge = Some(std::time::Instant::now());
            }
            let peer = crate::cluster_http::peer_seen(state, &ctx, &to, nudge).await;
            let theirs = cursor_map(&peer.cursor);
            // Silence counts from the later of its last pull and the start of this handover,
            // so a target that has not pulled yet gets the whole grace period.
            let silent = peer.last_pull.map_or(started, |t| t.max(started)).elapsed();
            if required.as_ref().is_some_and(|r| theirs.covers(r)) {
                events.push(HandoverEvent::TargetCaughtUp {
                    target_cursor: theirs,
                });
            } else if silent > state.settings.handover_silence {
                events.push(HandoverEvent::TargetUnreachable {
                    detail: format!("{to} has not pulled for {silent:?}"),
                });
            } else {
                events.push(HandoverEvent::Tick {
                    now: (state.clock)(),
                });
            }
        }
        for e in events {
            match engine.handle(e) {
                Ok(mut c) => commands.append(&mut c),
                Err(r) => return Err(refusal(r)),
            }
        }
    }
}
