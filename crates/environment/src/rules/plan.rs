//! The rules' decision for one record event: which operations to queue, for whom, in which pool
//! and from when. Pure: the server passes the event, the record's JSON and its clock.

use super::{Mode, Operation, Target, Trigger, UpdatePolicy};
use crate::config::{Environment, ServerRole};
use chrono::{DateTime, Duration, DurationRound, Utc};
use innsync_core::{RecordKind, ServerCode};

/// What happened to a record that a rule may react to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// It was created here (`on = create` and `on = change` rules).
    Created,
    /// It was updated here (`on = update` and `on = change` rules).
    Updated,
    /// The periodic check came by (`on = schedule` rules).
    Scheduled,
}

impl Event {
    fn fits(self, on: Trigger) -> bool {
        matches!(
            (self, on),
            (Self::Created, Trigger::Create | Trigger::Change)
                | (Self::Updated, Trigger::Update | Trigger::Change)
                | (Self::Scheduled, Trigger::Schedule)
        )
    }
}

/// Where one operation goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resolved {
    /// A server of this environment.
    Server(ServerCode),
    /// A partner environment, by name.
    Partner(String),
}

/// One operation a rule asks for: where, how, in which pool, and not before when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedOp {
    /// The rule's name.
    pub rule: String,
    /// What to do.
    pub operation: Operation,
    /// Where.
    pub target: Resolved,
    /// How.
    pub mode: Mode,
    /// The queue pool.
    pub pool: String,
    /// For gathered updates (`hourly`, `daily`), the earliest time to send; `None`: at once.
    pub not_before: Option<DateTime<Utc>>,
}

/// Every matching rule's operations for one record event on server `me`, in rule order.
///
/// A rule matches when its kind is `kind`, its trigger fits `event`, and its condition (if any)
/// is true for `record` on `now`'s date in UTC. Targets are resolved: a group or `all` to its
/// servers other than `me` (file order), `owner` to the property's owner server
/// ([`Environment::property_owner`] of the record's `property`, or of its `code` for a property
/// record), skipped when that is `me` or there is none; a server target that is `me` is skipped.
/// An archive server never gives a record away, so on an archive no data_and_ownership, return
/// or delete operation is planned (the cycle check at start relies on it).
///
/// `not_before` is set for `operation = update` with `updates = hourly` (the next full hour
/// after `now`) or `daily` (the next midnight UTC after `now`), and is `None` otherwise.
///
/// Ownership is not checked here: before running a data_and_ownership, return or delete
/// operation the server asks the core whether it may write the record.
pub fn plan(
    env: &Environment,
    me: &ServerCode,
    kind: RecordKind,
    event: Event,
    record: &serde_json::Value,
    now: DateTime<Utc>,
) -> Vec<PlannedOp> {
    let today = now.date_naive();
    let on_archive = env
        .server(me)
        .is_some_and(|s| s.role == ServerRole::Archive);
    let mut out = Vec::new();
    for rule in &env.rules {
        if rule.kind != kind || !event.fits(rule.on) {
            continue;
        }
        let gives_away = rule.mode == Mode::DataAndOwnership
            || matches!(rule.operation, Operation::Return | Operation::Delete);
        if on_archive && gives_away {
            continue;
        }
        if rule
            .condition
            .as_ref()
            .is_some_and(|c| !c.matches(record, today))
        {
            continue;
        }
        let not_before = match (rule.operation, rule.updates) {
            (Operation::Update, UpdatePolicy::Hourly) => next_hour(now),
            (Operation::Update, UpdatePolicy::Daily) => next_midnight(now),
            _ => None,
        };
        for target in resolve(env, me, kind, &rule.target, record) {
            out.push(PlannedOp {
                rule: rule.name.clone(),
                operation: rule.operation,
                target,
                mode: rule.mode,
                pool: rule.pool.clone(),
                not_before,
            });
        }
    }
    out
}

fn resolve(
    env: &Environment,
    me: &ServerCode,
    kind: RecordKind,
    target: &Target,
    record: &serde_json::Value,
) -> Vec<Resolved> {
    match target {
        Target::Server(code) if code != me => vec![Resolved::Server(code.clone())],
        Target::Server(_) => Vec::new(),
        Target::Group(g) => env
            .group(g)
            .filter(|s| &s.code != me)
            .map(|s| Resolved::Server(s.code.clone()))
            .collect(),
        Target::All => env
            .peers(me)
            .map(|s| Resolved::Server(s.code.clone()))
            .collect(),
        Target::Owner => {
            let key = if kind == RecordKind::Property {
                "code"
            } else {
                "property"
            };
            record
                .get(key)
                .and_then(|p| p.as_str())
                .and_then(|p| env.property_owner(p))
                .filter(|owner| *owner != me)
                .map(|owner| vec![Resolved::Server(owner.clone())])
                .unwrap_or_default()
        }
        Target::Partner(p) => vec![Resolved::Partner(p.clone())],
    }
}

/// The first full hour strictly after `now`.
fn next_hour(now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    now.duration_trunc(Duration::hours(1))
        .ok()
        .and_then(|h| h.checked_add_signed(Duration::hours(1)))
}

/// The first midnight UTC strictly after `now`.
fn next_midnight(now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    now.date_naive()
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}
