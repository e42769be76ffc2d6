//! The master timetable: at `HH:MM` in a zone, a named server should become master. Given the
//! entries, the current master, now and the last slot handled, [`Timetable::due`] says which
//! handover (if any) is due — each slot fires at most once, DST gaps and overlaps included.
//!
//! A slot's instant on a local date is `at` in `tz` that day; when DST skips `at` (spring
//! forward) the slot falls at the first minute after the gap, and when `at` happens twice
//! (fall back) it falls on the first. The driver stores the handled slot's instant as `last_run`.

use super::signals::{AbortReason, Alert};
use crate::config::TimetableEntry;
use chrono::{DateTime, Days, LocalResult, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use innsync_core::ServerCode;

/// Default for [`TimetableSettings::max_lateness`]: a handover more than an hour late is
/// reported rather than started, since the offices have likely arranged otherwise.
pub const DEFAULT_MAX_LATENESS_SECS: i64 = 3600;
/// Longest DST gap searched for the first minute after it (real gaps are 30 or 60 minutes).
const MAX_GAP_MINUTES: i64 = 180;

/// The timetable's tunables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimetableSettings {
    /// How late a slot may still start its handover; later ones raise an alert instead.
    pub max_lateness: TimeDelta,
}

impl Default for TimetableSettings {
    fn default() -> Self {
        Self {
            max_lateness: TimeDelta::seconds(DEFAULT_MAX_LATENESS_SECS),
        }
    }
}

/// One occurrence of a timetable entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Its instant; store it as `last_run` once handled.
    pub due: DateTime<Utc>,
    /// Who should be master from then on.
    pub master: ServerCode,
    /// Index of the entry in the file.
    pub entry: usize,
}

/// What the timetable asks for now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimetableDecision {
    /// Nothing due; wake up at `next` (if there is a timetable).
    Idle {
        /// The next slot's instant.
        next: Option<DateTime<Utc>>,
    },
    /// A slot is due but its server is already master: mark it handled.
    AlreadyInPlace(Slot),
    /// Hand over to `slot.master` now; mark the slot handled whatever the outcome, and report a
    /// failure with [`Timetable::failed`] (one attempt per slot: the master stays where it is).
    Handover(Slot),
    /// A slot passed more than `max_lateness` ago unhandled: mark it handled and raise the alert.
    Missed(Slot, Alert),
}

/// The environment's timetable.
#[derive(Clone, Debug)]
pub struct Timetable {
    entries: Vec<TimetableEntry>,
    settings: TimetableSettings,
}

impl Timetable {
    /// A timetable of validated entries (see [`crate::Environment::timetable`]).
    pub fn new(entries: Vec<TimetableEntry>, settings: TimetableSettings) -> Self {
        Self { entries, settings }
    }

    /// Which handover is due at `now`, given the master now and the last slot handled
    /// (`None` on a server that never handled one: only slots within `max_lateness` count).
    pub fn due(
        &self,
        current_master: &ServerCode,
        now: DateTime<Utc>,
        last_run: Option<DateTime<Utc>>,
    ) -> TimetableDecision {
        let idle = || TimetableDecision::Idle {
            next: self.next_after(now).map(|s| s.due),
        };
        let Some(slot) = self.latest_at_or_before(now) else {
            return idle();
        };
        let late = now - slot.due > self.settings.max_lateness;
        match last_run {
            Some(last) if slot.due <= last => return idle(),
            None if late => return idle(),
            _ => {}
        }
        if &slot.master == current_master {
            TimetableDecision::AlreadyInPlace(slot)
        } else if late {
            let alert = Alert::TimetableMissed {
                due: slot.due,
                master: slot.master.clone(),
            };
            TimetableDecision::Missed(slot, alert)
        } else {
            TimetableDecision::Handover(slot)
        }
    }

    /// The alert for a timetable handover that was started and failed.
    pub fn failed(slot: &Slot, reason: AbortReason) -> Alert {
        Alert::TimetableFailed {
            due: slot.due,
            master: slot.master.clone(),
            reason,
        }
    }

    /// The latest slot at or before `t`; on equal instants the earlier entry in the file.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<Slot> {
        let mut best: Option<Slot> = None;
        for (i, e) in self.entries.iter().enumerate() {
            let today = t.with_timezone(&e.tz).date_naive();
            for back in 0..=2 {
                let Some(date) = today.checked_sub_days(Days::new(back)) else {
                    continue;
                };
                let Some(due) = slot_instant(e, date) else {
                    continue;
                };
                if due <= t && best.as_ref().is_none_or(|b| due > b.due) {
                    best = Some(Slot {
                        due,
                        master: e.master.clone(),
                        entry: i,
                    });
                }
            }
        }
        best
    }

    /// The first slot strictly after `t`; on equal instants the earlier entry in the file.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<Slot> {
        let mut best: Option<Slot> = None;
        for (i, e) in self.entries.iter().enumerate() {
            let today = t.with_timezone(&e.tz).date_naive();
            for ahead in 0..=2 {
                let Some(date) = today.checked_add_days(Days::new(ahead)) else {
                    continue;
                };
                let Some(due) = slot_instant(e, date) else {
                    continue;
                };
                if due > t && best.as_ref().is_none_or(|b| due < b.due) {
                    best = Some(Slot {
                        due,
                        master: e.master.clone(),
                        entry: i,
                    });
                }
            }
        }
        best
    }
}

/// The instant of `entry` on local `date`: the first of two in a DST overlap, the first minute
/// after the gap when DST skips it.
fn slot_instant(entry: &TimetableEntry, date: NaiveDate) -> Option<DateTime<Utc>> {
    let local = date.and_time(entry.at);
    match resolve(entry.tz, local) {
        Some(t) => Some(t),
        None => (1..=MAX_GAP_MINUTES).find_map(|m| {
            local
                .checked_add_signed(TimeDelta::minutes(m))
                .and_then(|l| resolve(entry.tz, l))
        }),
    }
}

fn resolve(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;

    fn code(s: &str) -> ServerCode {
        ServerCode::parse(s).unwrap()
    }
    fn entry(at: &str, tz: Tz, master: &str) -> TimetableEntry {
        TimetableEntry {
            at: NaiveTime::parse_from_str(at, "%H:%M").unwrap(),
            tz,
            master: code(master),
        }
    }
    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    fn office_hours() -> Timetable {
        Timetable::new(
            vec![
                entry("08:00", chrono_tz::Africa::Johannesburg, "RS"),
                entry("17:00", chrono_tz::Africa::Johannesburg, "WB"),
            ],
            TimetableSettings::default(),
        )
    }

    #[test]
    fn a_due_slot_fires_once() {
        let t = office_hours();
        let yesterday_evening = utc("2026-06-01T15:00:00Z");
        // 08:00 in Johannesburg is 06:00 UTC.
        let before = t.due(
            &code("WB"),
            utc("2026-06-02T05:59:00Z"),
            Some(yesterday_evening),
        );
        assert_eq!(
            before,
            TimetableDecision::Idle {
                next: Some(utc("2026-06-02T06:00:00Z"))
            }
        );
        let d = t.due(
            &code("WB"),
            utc("2026-06-02T06:00:30Z"),
            Some(yesterday_evening),
        );
        let slot = Slot {
            due: utc("2026-06-02T06:00:00Z"),
            master: code("RS"),
            entry: 0,
        };
        assert_eq!(d, TimetableDecision::Handover(slot.clone()));
        // Handled (whatever the outcome): not again.
        let again = t.due(&code("WB"), utc("2026-06-02T06:05:00Z"), Some(slot.due));
        assert_eq!(
            again,
            TimetableDecision::Idle {
                next: Some(utc("2026-06-02T15:00:00Z"))
            }
        );
        assert_eq!(
            Timetable::failed(&slot, AbortReason::TargetUnreachable("refused".into())).to_string(),
            "timetable handover to RS due at 2026-06-02 06:00:00 UTC failed: the target could not be reached: refused"
        );
    }

    #[test]
    fn already_in_place_late_and_first_start() {
        let t = office_hours();
        let last = Some(utc("2026-06-01T15:00:00Z"));
        assert!(matches!(
            t.due(&code("RS"), utc("2026-06-02T06:01:00Z"), last),
            TimetableDecision::AlreadyInPlace(Slot { entry: 0, .. })
        ));
        // The master was down from 05:00 to 09:00 UTC: too late, reported, not performed.
        match t.due(&code("WB"), utc("2026-06-02T09:00:00Z"), last) {
            TimetableDecision::Missed(slot, Alert::TimetableMissed { master, .. }) => {
                assert_eq!(master, code("RS"));
                assert_eq!(slot.due, utc("2026-06-02T06:00:00Z"));
            }
            other => panic!("{other:?}"),
        }
        // Several slots missed: only the one in effect now counts.
        let d = t.due(&code("RS"), utc("2026-06-03T15:10:00Z"), last);
        assert!(
            matches!(d, TimetableDecision::Handover(Slot { entry: 1, .. })),
            "{d:?}"
        );
        // A fresh server does not replay old slots, but takes a recent one.
        assert!(matches!(
            t.due(&code("WB"), utc("2026-06-02T09:00:00Z"), None),
            TimetableDecision::Idle { .. }
        ));
        assert!(matches!(
            t.due(&code("WB"), utc("2026-06-02T06:10:00Z"), None),
            TimetableDecision::Handover(_)
        ));
        // No timetable: never anything.
        let empty = Timetable::new(vec![], TimetableSettings::default());
        assert_eq!(
            empty.due(&code("WB"), utc("2026-06-02T06:10:00Z"), None),
            TimetableDecision::Idle { next: None }
        );
    }

    #[test]
    fn dst_gaps_and_overlaps_fire_exactly_once() {
        let london = chrono_tz::Europe::London;
        let t = Timetable::new(
            vec![entry("01:30", london, "RS"), entry("09:00", london, "WB")],
            TimetableSettings::default(),
        );
        // Spring forward 2026-03-29: 01:00 GMT → 02:00 BST, so 01:30 does not exist; the slot
        // falls at 02:00 BST = 01:00 UTC.
        let d = t.due(
            &code("WB"),
            utc("2026-03-29T01:00:00Z"),
            Some(utc("2026-03-28T09:00:00Z")),
        );
        assert_eq!(
            d,
            TimetableDecision::Handover(Slot {
                due: utc("2026-03-29T01:00:00Z"),
                master: code("RS"),
                entry: 0
            })
        );
        // 09:00 BST is 08:00 UTC after the change.
        assert_eq!(
            t.next_after(utc("2026-03-29T01:00:00Z")).unwrap().due,
            utc("2026-03-29T08:00:00Z")
        );
        // Fall back 2026-10-25: 01:30 happens at 00:30 UTC (BST) and 01:30 UTC (GMT); once.
        let last = Some(utc("2026-10-24T08:00:00Z"));
        let first = t.due(&code("WB"), utc("2026-10-25T00:30:00Z"), last);
        assert_eq!(
            first,
            TimetableDecision::Handover(Slot {
                due: utc("2026-10-25T00:30:00Z"),
                master: code("RS"),
                entry: 0
            })
        );
        let second = t.due(
            &code("WB"),
            utc("2026-10-25T01:30:00Z"),
            Some(utc("2026-10-25T00:30:00Z")),
        );
        assert_eq!(
            second,
            TimetableDecision::Idle {
                next: Some(utc("2026-10-25T09:00:00Z"))
            }
        );
    }

    #[test]
    fn zones_are_read_per_entry() {
        let t = Timetable::new(
            vec![entry("08:00", chrono_tz::America::New_York, "RS")],
            TimetableSettings::default(),
        );
        assert_eq!(
            t.next_after(utc("2026-01-15T00:00:00Z")).unwrap().due,
            utc("2026-01-15T13:00:00Z")
        );
        assert_eq!(
            t.next_after(utc("2026-07-15T00:00:00Z")).unwrap().due,
            utc("2026-07-15T12:00:00Z")
        );
    }
}
