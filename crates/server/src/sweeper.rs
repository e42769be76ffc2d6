//! The server's own job that releases provisional bookings whose hold has lapsed.

use crate::state::AppState;
use innsync_core::{Command, Outcome};
use tokio::sync::watch;

/// Submits `ExpireHolds` every `hold_sweep_interval` until stopped; each run releases at most
/// one batch, and the next run continues.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(state.settings.hold_sweep_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match crate::write::submit(&state, Command::ExpireHolds, "system", None).await {
            Ok(out) => {
                if let Outcome::Expired { ids } = out.outcome() {
                    if !ids.is_empty() {
                        state.metrics.holds_expired.inc_by(ids.len() as u64);
                        tracing::info!(count = ids.len(), "released lapsed provisional holds");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "hold sweep failed; will retry"),
        }
    }
}
