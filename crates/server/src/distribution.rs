//! Distribution rules at work on this server (DESIGN.md §5, after DSO): the rules of
//! environment.toml look at every change this server writes, and on a schedule at the records
//! it owns, and queue the operations they ask for — in the same transaction that records how far
//! they have looked, so no change is acted on twice or never. The queue's worker
//! (`replication/queue.rs`) carries them out. How this server serves a peer that receives only
//! its own properties (partial replication) is `replication/serving.rs`.

use crate::replication::queue::{CopyOp, DeleteCopyOp, DeleteOp, TransferOp};
use crate::state::AppState;
use innsync_core::{Authority, CopyKind, CopyRequest, OnDuplicate, Provenance, Record, ServerCode};
use innsync_environment::rules::{
    self, DuplicatePolicy, Event, Mode, Operation, PlannedOp, Resolved, Rule,
};
use innsync_store::{Change, LocalWrite, NewPending};
use tokio::sync::watch;

/// Most own changes one scan looks at before it records how far it got.
pub const SCAN_BATCH: usize = 500;
/// Most records of one kind a scheduled sweep looks at per rule and round.
pub const SWEEP_LIMIT: usize = 10_000;

/// Runs the rules until stopped: after every commit over this server's new changes, and every
/// `rule_sweep_interval` over the records it owns for `on = "schedule"` rules.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    if state.env.as_ref().is_none_or(|e| e.env.rules.is_empty()) {
        return;
    }
    let mut changes = state.writer.changes();
    let mut sweep = tokio::time::interval(state.settings.rule_sweep_interval);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let swept = tokio::select! {
            _ = changes.changed() => false,
            _ = sweep.tick() => true,
            _ = stop.changed() => return,
        };
        if let Err(e) = scan(&state).await {
            tracing::warn!(error = %e.detail, "distribution rules: scan failed; will retry");
        }
        if swept {
            if let Err(e) = sweep_scheduled(&state).await {
                tracing::warn!(error = %e.detail, "distribution rules: scheduled sweep failed");
            }
        }
    }
}

/// The authority this server writes under now.
async fn here(state: &AppState) -> Result<(Authority, ServerCode), crate::problem::Problem> {
    let me = state.writer.server().clone();
    let (master, _) = state.read(|r| r.master()).await?;
    let a = if master == me {
        Authority::Env
    } else {
        Authority::Server(me)
    };
    Ok((a, master))
}

/// Looks at this server's own changes since the rules last did, queueing what they ask for.
async fn scan(state: &AppState) -> Result<(), crate::problem::Problem> {
    let Some(ctx) = state.env.clone() else {
        return Ok(());
    };
    loop {
        let (cursor, batch) = state
            .read(|r| {
                let c = r.rules_cursor()?;
                Ok((c, r.own_changes_after(c, SCAN_BATCH)?))
            })
            .await?;
        let me = state.writer.server().clone();
        let own: Vec<&Change> = batch.iter().filter(|c| c.origin == me).collect();
        let Some(upto) = own.last().map(|c| c.seq) else {
            return Ok(());
        };
        debug_assert!(upto > cursor, "the rules never look back");
        let (authority, master) = here(state).await?;
        let now = (state.clock)();
        let mut ops = vec![];
        for c in own {
            let rec = &c.record;
            // Only what this server still writes: a record it has just given away is its new
            // owner's to act on.
            if rec.meta().owner != authority && rec.meta().owner != Authority::Server(me.clone()) {
                continue;
            }
            if let Record::Tombstone(t) = rec {
                ops.extend(copies_to_take_back(state, &ctx.env, t).await?);
                continue;
            }
            let event = if rec.meta().version == 1 {
                Event::Created
            } else {
                Event::Updated
            };
            let json = serde_json::to_value(rec)
                .map_err(|e| crate::problem::Problem::unavailable(e.to_string()))?;
            for p in rules::plan(&ctx.env, &me, rec.kind(), event, &json, now) {
                if let Some(op) = operation(&ctx.env, &me, &master, &p, rec, &json, now) {
                    ops.push(op);
                }
            }
            if event == Event::Updated {
                ops.extend(linked_updates(state, &ctx.env, &me, rec, &json, now).await?);
            }
        }
        crate::write::local(state, LocalWrite::RulesScanned { upto, ops }).await?;
    }
}

/// Later updates of linked copies: a `data_only` copy rule whose copy went out before sends the
/// record again as its `updates` policy says (coalesced; hourly and daily wait for their hour).
async fn linked_updates(
    state: &AppState,
    env: &innsync_environment::Environment,
    me: &ServerCode,
    rec: &Record,
    json: &serde_json::Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<NewPending>, crate::problem::Problem> {
    let mut out = vec![];
    for rule in env.rules.iter().filter(|r| {
        r.kind == rec.kind()
            && r.mode == Mode::DataOnly
            && r.operation == Operation::Transfer
            && matches!(
                r.updates,
                rules::UpdatePolicy::Immediately
                    | rules::UpdatePolicy::Hourly
                    | rules::UpdatePolicy::Daily
            )
    }) {
        let Some(target) = copy_target(&rule.target) else {
            continue;
        };
        let (name, id, t) = (rule.name.clone(), rec.meta().id.to_string(), target.clone());
        if !state
            .read(move |r| r.rule_op_exists(&name, &id, &t))
            .await?
        {
            continue;
        }
        let not_before = match rule.updates {
            rules::UpdatePolicy::Hourly => Some(next_boundary(now, 3_600)),
            rules::UpdatePolicy::Daily => Some(next_boundary(now, 86_400)),
            _ => None,
        };
        if let Some(mut op) = copy_op(env, me, rule, rec, json, now, target) {
            op.not_before = not_before.map(innsync_store::time_text);
            out.push(op);
        }
    }
    Ok(out)
}

fn next_boundary(now: chrono::DateTime<chrono::Utc>, every: i64) -> chrono::DateTime<chrono::Utc> {
    let t = now.timestamp();
    chrono::DateTime::from_timestamp(t - t.rem_euclid(every) + every, 0).unwrap_or(now)
}

/// A partner target of a rule, as a queue target.
fn copy_target(t: &rules::Target) -> Option<String> {
    match t {
        rules::Target::Partner(p) => Some(format!("partner:{p}")),
        rules::Target::Server(s) => Some(s.to_string()),
        _ => None,
    }
}

/// A deleted master copy takes its linked copies with it: every partner that was sent one by a
/// `data_only` rule is asked to delete it.
async fn copies_to_take_back(
    state: &AppState,
    env: &innsync_environment::Environment,
    t: &innsync_core::Tombstone,
) -> Result<Vec<NewPending>, crate::problem::Problem> {
    let mut out = vec![];
    for rule in env
        .rules
        .iter()
        .filter(|r| r.kind == t.deleted_kind && r.mode == Mode::DataOnly)
    {
        let rules::Target::Partner(p) = &rule.target else {
            continue;
        };
        let target = format!("partner:{p}");
        let (name, id, tg) = (rule.name.clone(), t.meta.id.to_string(), target.clone());
        if !state
            .read(move |r| r.rule_op_exists(&name, &id, &tg))
            .await?
        {
            continue;
        }
        let d = DeleteCopyOp {
            kind: rule.target_kind(),
            from_environment: Some(env.name.clone()),
            from_id: t.meta.id.clone(),
        };
        out.push(NewPending {
            target,
            op: "delete_copy".into(),
            command: serde_json::to_string(&d).unwrap_or_default(),
            actor: format!("rule:{}", rule.name),
            summary: format!(
                "delete the copy of {} {} at partner {p}",
                t.deleted_kind.as_str(),
                t.meta.id
            ),
            pool: rule.pool.clone(),
            record_id: Some(t.meta.id.to_string()),
            rule: Some(rule.name.clone()),
            not_before: None,
            coalesce: true,
        });
    }
    Ok(out)
}

fn on_duplicate(d: DuplicatePolicy) -> OnDuplicate {
    match d {
        DuplicatePolicy::Error => OnDuplicate::Error,
        DuplicatePolicy::NewId => OnDuplicate::NewId,
        DuplicatePolicy::Overwrite => OnDuplicate::Overwrite,
    }
}

/// A copy of `rec` as `rule` maps it, for `target` (a server here or `partner:NAME`).
fn copy_op(
    env: &innsync_environment::Environment,
    me: &ServerCode,
    rule: &Rule,
    rec: &Record,
    json: &serde_json::Value,
    now: chrono::DateTime<chrono::Utc>,
    target: String,
) -> Option<NewPending> {
    let fields = match &rule.mapping {
        Some(m) => match m.apply(json, now.date_naive()) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(rule = %rule.name, record = %rec.meta().id, error = %e, "mapping failed; record not copied");
                return None;
            }
        },
        None => {
            let mut f = json.as_object().cloned().unwrap_or_default();
            for k in ["kind", "id", "owner", "version", "provenance"] {
                f.remove(k);
            }
            f
        }
    };
    let partner = target.strip_prefix("partner:").map(str::to_string);
    let copy = CopyRequest {
        kind: rule.target_kind(),
        fields,
        provenance: Provenance {
            from_environment: partner.as_ref().map(|_| env.name.clone()),
            from_server: me.clone(),
            from_owner: rec.meta().owner.clone(),
            from_id: rec.meta().id.clone(),
            copy: if rule.mode == Mode::DataOnly {
                CopyKind::Linked
            } else {
                CopyKind::Independent
            },
            history: vec![format!(
                "{}: rule {} ({}{})",
                now.format("%Y-%m-%d %H:%M"),
                rule.name,
                rule.mode.as_str(),
                if rule.mapping.is_some() {
                    ", mapped"
                } else {
                    ""
                }
            )],
        },
        on_duplicate: on_duplicate(rule.duplicates),
        match_fields: rule.match_fields.clone(),
    };
    Some(NewPending {
        summary: format!(
            "copy {} {} to {target} ({})",
            rec.kind().as_str(),
            rec.meta().id,
            rule.mode.as_str()
        ),
        target,
        op: "copy".into(),
        command: serde_json::to_string(&CopyOp { copy }).ok()?,
        actor: format!("rule:{}", rule.name),
        pool: rule.pool.clone(),
        record_id: Some(rec.meta().id.to_string()),
        rule: Some(rule.name.clone()),
        not_before: None,
        coalesce: true,
    })
}

/// The queue operation for one planned rule operation on `rec`, or none when it does not apply.
fn operation(
    env: &innsync_environment::Environment,
    me: &ServerCode,
    master: &ServerCode,
    p: &PlannedOp,
    rec: &Record,
    json: &serde_json::Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<NewPending> {
    let rule = env.rule(&p.rule)?;
    let id = rec.meta().id.to_string();
    let base = |target: String, op: &str, command: String, summary: String| NewPending {
        target,
        op: op.to_string(),
        command,
        actor: format!("rule:{}", rule.name),
        summary,
        pool: p.pool.clone(),
        record_id: Some(id.clone()),
        rule: Some(rule.name.clone()),
        not_before: p.not_before.map(innsync_store::time_text),
        coalesce: true,
    };
    let transfer = |to: Authority, server: &ServerCode| {
        let t = TransferOp {
            kind: rec.kind(),
            key: rec.key(),
            to: to.clone(),
            reason: format!("rule {}", rule.name),
        };
        let summary = format!("give {} {} to {to}", rec.kind().as_str(), id);
        serde_json::to_string(&t)
            .ok()
            .map(|c| base(server.to_string(), "transfer", c, summary))
    };
    match (p.operation, p.mode, &p.target) {
        (Operation::Transfer, Mode::DataAndOwnership, Resolved::Server(s)) => {
            let to = if s == master {
                Authority::Env
            } else {
                Authority::Server(s.clone())
            };
            transfer(to, s)
        }
        (Operation::Return, _, _) => {
            let from = rec.meta().provenance.as_ref()?.from_owner.clone();
            let server = match &from {
                Authority::Env => master.clone(),
                Authority::Server(s) => s.clone(),
            };
            (server != *me).then(|| transfer(from, &server)).flatten()
        }
        (Operation::Delete, _, Resolved::Partner(name)) => {
            let d = DeleteCopyOp {
                kind: rule.target_kind(),
                from_environment: Some(env.name.clone()),
                from_id: rec.meta().id.clone(),
            };
            let summary = format!("delete the copy of {id} at partner {name}");
            serde_json::to_string(&d)
                .ok()
                .map(|c| base(format!("partner:{name}"), "delete_copy", c, summary))
        }
        (Operation::Delete, _, Resolved::Server(_)) => {
            // Deleting the master copy here deletes it everywhere: one operation, run here.
            let d = DeleteOp {
                kind: rec.kind(),
                key: rec.key(),
                reason: format!("rule {}", rule.name),
            };
            let summary = format!("delete {} {id}", rec.kind().as_str());
            serde_json::to_string(&d)
                .ok()
                .map(|c| base(me.to_string(), "delete", c, summary))
        }
        (Operation::Transfer | Operation::Update, Mode::DataOnly | Mode::IndependentCopy, t) => {
            let target = match t {
                Resolved::Partner(name) => format!("partner:{name}"),
                Resolved::Server(s) => s.to_string(),
            };
            let mut op = copy_op(env, me, rule, rec, json, now, target)?;
            op.not_before = p.not_before.map(innsync_store::time_text);
            Some(op)
        }
        _ => None,
    }
}

/// Scheduled rules over the records this server owns: each record acted on once per rule and
/// target (a record given away is no longer here to act on).
async fn sweep_scheduled(state: &AppState) -> Result<(), crate::problem::Problem> {
    let Some(ctx) = state.env.clone() else {
        return Ok(());
    };
    let me = state.writer.server().clone();
    let (authority, master) = here(state).await?;
    let now = (state.clock)();
    for rule in ctx
        .env
        .rules
        .iter()
        .filter(|r| r.on == rules::Trigger::Schedule)
    {
        let kind = rule.kind;
        let records = state
            .read(move |r| r.records_of_kind(kind.as_str(), SWEEP_LIMIT))
            .await?;
        let mut ops = vec![];
        for rec in records {
            if rec.meta().owner != authority && rec.meta().owner != Authority::Server(me.clone()) {
                continue;
            }
            let json = serde_json::to_value(&rec)
                .map_err(|e| crate::problem::Problem::unavailable(e.to_string()))?;
            for p in rules::plan(&ctx.env, &me, kind, Event::Scheduled, &json, now)
                .into_iter()
                .filter(|p| p.rule == rule.name)
            {
                let Some(op) = operation(&ctx.env, &me, &master, &p, &rec, &json, now) else {
                    continue;
                };
                let (n, id, t) = (
                    rule.name.clone(),
                    rec.meta().id.to_string(),
                    op.target.clone(),
                );
                if state.read(move |r| r.rule_op_exists(&n, &id, &t)).await? {
                    continue;
                }
                ops.push(op);
            }
        }
        for op in ops {
            crate::write::local(state, LocalWrite::EnqueuePending(op)).await?;
        }
    }
    Ok(())
}
