//! The server's own job that runs the environment's standing allotment rules: each rule is one
//! `RunAllotmentRule` command, decided by the core where this server writes for the rule's
//! giver (the property's owner tops the holder up; the holder releases its unsold units), so
//! every server may run every rule and only the right one writes.

use crate::state::AppState;
use innsync_core::{Command, Outcome};
use tokio::sync::watch;

/// Runs every rule every `allotment_rule_interval` until stopped.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let rules = match &state.env {
        Some(env) if !env.env.allotment_rules.is_empty() => env.env.allotment_rules.clone(),
        _ => return,
    };
    let mut tick = tokio::time::interval(state.settings.allotment_rule_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        for rule in &rules {
            let cmd = Command::RunAllotmentRule { rule: rule.clone() };
            match crate::write::submit(&state, cmd, "system", None).await {
                Ok(out) => {
                    if let Outcome::Granted { ids } = out.outcome() {
                        if !ids.is_empty() {
                            state.metrics.allotment_rule_grants.inc_by(ids.len() as u64);
                            tracing::info!(rule = %rule.name, grants = ids.len(), "allotment rule moved units");
                        }
                    }
                }
                // Frozen for a handover, or a busy writer: the next round tries again.
                Err(e) => {
                    tracing::warn!(rule = %rule.name, error = %e, "allotment rule did not run")
                }
            }
        }
    }
}
