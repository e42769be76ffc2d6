//! The master timetable: the current master starts the handover that the environment file's
//! `[[timetable]]` asks for at each local time. The decision (which slot is due, once, with DST
//! handled) is `innsync-environment`'s `Timetable`; this loop only asks it and acts. A handover
//! that cannot happen leaves the master where it is and raises an alert (a log line and a
//! metric), as DESIGN.md §6 says.

use crate::state::AppState;
use innsync_environment::master::{Timetable, TimetableDecision, TimetableSettings};
use tokio::sync::watch;

/// Runs until `stop` turns true.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let Some(ctx) = state.env.clone() else { return };
    if ctx.env.timetable.is_empty() {
        return;
    }
    let table = Timetable::new(ctx.env.timetable.clone(), TimetableSettings::default());
    let mut last_run = None;
    let mut tick = tokio::time::interval(state.settings.timetable_check);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let Ok((master, _)) = state.read(|r| r.master()).await else {
            continue;
        };
        if master != ctx.me.code {
            // Only the current master starts a timetable handover.
            continue;
        }
        let now = (state.clock)();
        match table.due(&master, now, last_run) {
            TimetableDecision::Idle { .. } => {}
            TimetableDecision::AlreadyInPlace(slot) => last_run = Some(slot.due),
            TimetableDecision::Missed(slot, alert) => {
                last_run = Some(slot.due);
                state.metrics.timetable_alerts.inc();
                tracing::error!(alert = %alert, "timetable");
            }
            TimetableDecision::Handover(slot) => {
                last_run = Some(slot.due);
                let reason = format!("timetable: {} is master from {}", slot.master, slot.due);
                match super::handover::run(&state, slot.master.clone(), &reason, "timetable").await
                {
                    Ok(g) => {
                        tracing::info!(master = %g.master, epoch = g.epoch, "timetable handover done")
                    }
                    Err(p) => {
                        state.metrics.timetable_alerts.inc();
                        tracing::error!(to = %slot.master, due = %slot.due, detail = %p.detail,
                            "timetable handover failed; the master stays where it is");
                    }
                }
            }
        }
    }
}
