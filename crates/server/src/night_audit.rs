//! The server's own job that runs the night audit of every property at its local audit time
//! (`night_audit_time`, checked every `night_audit_check`): once the time has passed at the
//! property, the business date before today is closed for the bookings this server writes.
//! A missed day is caught up one date at a time. Each audit is one command, so it runs whole
//! or not at all; a failure is logged as an error and retried at the next check.

use crate::state::AppState;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use innsync_core::dates::{local_date, parse_tz};
use innsync_core::{Command, Record};
use tokio::sync::watch;

/// Most business dates one check closes per property (a server that was off for long).
pub const MAX_CATCH_UP_DAYS: usize = 7;

/// The last business date due for closing at a property whose local date and time are
/// `today` and `time`: yesterday once the audit time has passed, else the day before.
pub fn due_date(today: NaiveDate, time: NaiveTime, audit_time: NaiveTime) -> Option<NaiveDate> {
    let yesterday = today.pred_opt()?;
    if time >= audit_time {
        Some(yesterday)
    } else {
        yesterday.pred_opt()
    }
}

/// Runs until stopped.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(state.settings.night_audit_check);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick of an interval is immediate: let a server that just started (or was just
    // restored) settle for one period before its first audit, so a restore lands exactly where
    // it was asked to and only then does the day's work.
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        let now = (state.clock)();
        if let Err(e) = settle_deposits(&state).await {
            tracing::error!(error = %e, "deposit sweep failed; will retry");
        }
        if let Err(e) = check(&state, now).await {
            tracing::error!(error = %e, "night audit check failed; will retry");
        }
    }
}

/// The deposit sweep: the provisional bookings this server holds go to the core, which
/// confirms those whose plan's deposit is paid (when `confirm_on_deposit`) and releases those
/// whose deposit is overdue, for the bookings this server owns. Idempotent; one page a check.
async fn settle_deposits(state: &AppState) -> Result<(), String> {
    let filter = innsync_store::BookingFilter {
        status: Some(innsync_core::BookingStatus::Provisional),
        limit: innsync_core::decide::MAX_DEPOSIT_SWEEP,
        ..Default::default()
    };
    let bookings: Vec<_> = state
        .read(move |r| r.bookings(&filter))
        .await
        .map_err(|p| format!("{p:?}"))?
        .into_iter()
        .filter(|b| b.pricing.as_ref().is_some_and(|p| p.rate_plan.is_some()))
        .map(|b| b.meta.id)
        .collect();
    if bookings.is_empty() {
        return Ok(());
    }
    let cmd = Command::SettleDeposits {
        bookings,
        confirm_when_paid: state.settings.confirm_on_deposit,
    };
    let out = crate::write::submit(state, cmd, "system", None)
        .await
        .map_err(|e| e.to_string())?;
    if let innsync_core::Outcome::Expired { ids } = out.outcome() {
        if !ids.is_empty() {
            tracing::info!(bookings = ?ids, "deposit sweep confirmed or released bookings");
        }
    }
    Ok(())
}

async fn check(state: &AppState, now: DateTime<Utc>) -> Result<(), String> {
    let props = state
        .read(|r| r.properties())
        .await
        .map_err(|p| format!("{p:?}"))?;
    let me = state.writer.server().clone();
    for p in props {
        let Ok(tz) = parse_tz(&p.timezone) else {
            continue;
        };
        let local = now.with_timezone(&tz);
        let Some(due) = due_date(
            local_date(now, tz),
            local.time(),
            state.settings.night_audit_time,
        ) else {
            continue;
        };
        for _ in 0..MAX_CATCH_UP_DAYS {
            let key = format!("{}/{me}", p.code);
            let open = match state
                .read(move |r| r.record("business_day", &key))
                .await
                .map_err(|p| format!("{p:?}"))?
            {
                Some(Record::BusinessDay(d)) => d.date,
                _ => due,
            };
            if open > due {
                break;
            }
            let cmd = Command::RunNightAudit {
                property: p.code.clone(),
                business_date: Some(open),
                mark_no_shows: state.settings.night_audit_no_shows,
            };
            match crate::write::submit(state, cmd, "system", None).await {
                Ok(out) => {
                    let summary = crate::api::audit_summary(out.outcome());
                    tracing::info!(property = %p.code, date = %open, %summary, "night audit ran");
                }
                Err(e) => {
                    tracing::error!(property = %p.code, date = %open, error = %e, "night audit failed; nothing was written; will retry");
                    break;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_date_is_due_once_the_audit_time_has_passed() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").unwrap();
        assert_eq!(
            due_date(d("2027-01-05"), t("03:10"), t("03:00")),
            Some(d("2027-01-04"))
        );
        assert_eq!(
            due_date(d("2027-01-05"), t("02:59"), t("03:00")),
            Some(d("2027-01-03"))
        );
    }
}
