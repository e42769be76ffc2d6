//! `[[rules]]`: distribution rules (DESIGN.md §5), e.g. "bookings created here for a lodge move
//! with their ownership to the lodge's server", "closed bookings move to the archive after 90
//! days", "guests are copied to the partner environment". Each is read into a
//! [`crate::rules::Rule`] and checked against the servers, groups and partners of the file, with
//! the line and column of every problem — inside the condition's string for expressions.
//!
//! ```toml
//! [[rules]]
//! name = "lodge-bookings-to-lodge"
//! kind = "booking"                 # property | room_type | room | rate_plan | guest | booking | note
//! on = "create"                    # create | update | change | schedule
//! when = 'property = "KRL"'        # optional: every record of the kind
//! operation = "transfer"           # transfer | update | return | delete
//! target = "owner"                 # "XX" | "group:NAME" | "all" | "owner" | "partner:NAME"
//! mode = "data_and_ownership"      # data_only | data_and_ownership | independent_copy
//! updates = "never"                # immediately | hourly | daily | on_return | never (default)
//! pool = "lodge"                   # optional, default "default"
//! duplicates = "error"             # error | new_id | overwrite (default error)
//! match = ["email"]                # optional: the target's fields that identify a duplicate
//! [rules.map]                      # optional, copies only: see `rule_map.rs`
//! ```
//!
//! Relations checked here: targets that exist (servers, groups with a server, partners); the
//! combinations of operation, mode and updates that mean something; the archive taking only
//! moves and plain copies; no data_and_ownership to a partner or to several servers; and no
//! ownership cycle ([`crate::rules::cycles`] explains the rule).

use super::error::{Position, Problem};
use super::parse::{At, DraftServer, Problems};
use super::rule_problem::RuleProblem;
use super::ServerRole;
use crate::limits::MAX_RULES;
use crate::rules::cycles::{Move, OwnershipGraph};
use crate::rules::expr::{self, Expr, Ty};
use crate::rules::schema;
use crate::rules::{
    Choice, DuplicatePolicy, Mapping, Mode, Operation, Rule, Target, Trigger, UpdatePolicy,
    DEFAULT_POOL,
};
use innsync_core::{RecordKind, ServerCode};
use std::collections::{BTreeMap, BTreeSet};
use toml_edit::TableLike;

/// The keys of a `[[rules]]` entry.
pub(super) const RULE_KEYS: &[&str] = &[
    "name",
    "kind",
    "on",
    "when",
    "operation",
    "target",
    "mode",
    "updates",
    "pool",
    "duplicates",
    "match",
    "map",
];
pub(super) const RULES: &str = "[[rules]]";

/// A rule as read; `None` where a value was missing or bad (already reported). Optional keys
/// hold their default when absent.
#[derive(Debug)]
pub(super) struct DraftRule {
    pub pos: Position,
    pub name: Option<At<String>>,
    pub kind: Option<At<RecordKind>>,
    pub on: Option<Trigger>,
    /// `Some(None)`: no condition.
    pub condition: Option<Option<Expr>>,
    pub operation: Option<At<Operation>>,
    pub target: Option<At<Target>>,
    pub mode: Option<At<Mode>>,
    pub updates: Option<At<UpdatePolicy>>,
    pub pool: Option<String>,
    pub duplicates: Option<DuplicatePolicy>,
    pub match_fields: Option<Vec<String>>,
    /// `Some(None)`: no mapping.
    pub mapping: Option<Option<At<Mapping>>>,
}

/// Reads one entry, checking each value against its own rule and, the kind being known, every
/// field it names.
pub(super) fn read(t: &dyn TableLike, pos: Position, p: &mut Problems<'_>) -> DraftRule {
    use super::parse::{check_keys, required_str};
    check_keys(t, RULE_KEYS, RULES, p);
    let name = super::parse::required_name(t, "name", RULES, pos, p);
    let kind = required_str(t, "kind", RULES, pos, p).and_then(|k| rule_kind(k, "kind", p));
    let source = kind.as_ref().map(|k| k.value);
    let on = required_str(t, "on", RULES, pos, p)
        .and_then(|s| choice::<Trigger>(s, "on", p))
        .map(|a| a.value);
    let condition = match t.get("when") {
        None => Some(None),
        Some(item) => {
            expression(item, "when".to_string(), source, p).and_then(|(e, ty)| match ty {
                Some(ty) if ty != Ty::Bool => {
                    let at = p.pos_in_str(item.span(), e.source(), 0);
                    p.add(
                        at,
                        RuleProblem::Expression {
                            key: "when".into(),
                            message: format!(
                                "a condition must be true or false, but this is {}",
                                ty.name()
                            ),
                        }
                        .into(),
                    );
                    None
                }
                _ => Some(Some(e)),
            })
        }
    };
    let operation = required_str(t, "operation", RULES, pos, p)
        .and_then(|s| choice::<Operation>(s, "operation", p));
    let target = required_str(t, "target", RULES, pos, p).and_then(|s| target(s, p));
    let mode = required_str(t, "mode", RULES, pos, p).and_then(|s| choice::<Mode>(s, "mode", p));
    let updates = optional_choice(t, "updates", UpdatePolicy::Never, pos, p);
    let duplicates =
        optional_choice(t, "duplicates", DuplicatePolicy::Error, pos, p).map(|a| a.value);
    let pool = match super::parse::optional_str(t, "pool", p) {
        None if t.get("pool").is_none() => Some(DEFAULT_POOL.to_string()),
        None => None,
        Some(s) => super::parse::is_name(&s, "pool", p).then_some(s.value),
    };
    let mapping = match t.get("map") {
        None => Some(None),
        Some(item) => {
            let key_span = t.key("map").and_then(|k| k.span());
            super::rule_map::read(item, key_span, source, pos, p).map(Some)
        }
    };
    // `match` is checked against the target kind even when the mapping has problems.
    let target_kind = match t.get("map") {
        None => source,
        Some(item) => super::rule_map::to_kind(item, source),
    };
    let match_fields = super::rule_map::match_fields(t, target_kind, p);
    DraftRule {
        pos,
        name,
        kind,
        on,
        condition,
        operation,
        target,
        mode,
        updates,
        pool,
        duplicates,
        match_fields,
        mapping,
    }
}

/// One of a closed set of names.
pub(super) fn choice<T: Choice>(
    s: At<String>,
    key: &'static str,
    p: &mut Problems<'_>,
) -> Option<At<T>> {
    match T::named(&s.value) {
        Some(value) => Some(At { value, pos: s.pos }),
        None => {
            p.add(
                s.pos,
                RuleProblem::BadChoice {
                    key,
                    expected: T::names(),
                    got: s.value,
                }
                .into(),
            );
            None
        }
    }
}

/// An optional choice: its default, at the table's position, when absent.
fn optional_choice<T: Choice>(
    t: &dyn TableLike,
    key: &'static str,
    default: T,
    table_pos: Position,
    p: &mut Problems<'_>,
) -> Option<At<T>> {
    match super::parse::optional_str(t, key, p) {
        None if t.get(key).is_none() => Some(At {
            value: default,
            pos: table_pos,
        }),
        None => None,
        Some(s) => choice(s, key, p),
    }
}

/// A kind a rule may name.
pub(super) fn rule_kind(
    s: At<String>,
    key: &'static str,
    p: &mut Problems<'_>,
) -> Option<At<RecordKind>> {
    match schema::kind_named(&s.value) {
        Some(k) if schema::RULE_KINDS.contains(&k) => Some(At {
            value: k,
            pos: s.pos,
        }),
        Some(k) => {
            p.add(
                s.pos,
                RuleProblem::KindNotDistributed { kind: k.as_str() }.into(),
            );
            None
        }
        None => {
            let names: Vec<&str> = schema::RULE_KINDS.iter().map(|k| k.as_str()).collect();
            p.add(
                s.pos,
                RuleProblem::BadChoice {
                    key,
                    expected: names.join(", "),
                    got: s.value,
                }
                .into(),
            );
            None
        }
    }
}

fn target(s: At<String>, p: &mut Problems<'_>) -> Option<At<Target>> {
    let Some(target) = Target::parse(&s.value) else {
        p.add(s.pos, RuleProblem::BadTarget(s.value).into());
        return None;
    };
    if let Target::Group(name) | Target::Partner(name) = &target {
        let inner = At {
            value: name.clone(),
            pos: s.pos,
        };
        if !super::parse::is_name(&inner, "target", p) {
            return None;
        }
    }
    Some(At {
        value: target,
        pos: s.pos,
    })
}

/// An expression in a string value: parsed, and typed against `kind` when it is known. Every
/// problem is reported at its place inside the string.
pub(super) fn expression(
    item: &toml_edit::Item,
    key: String,
    kind: Option<RecordKind>,
    p: &mut Problems<'_>,
) -> Option<(Expr, Option<Ty>)> {
    let Some(src) = item.as_str() else {
        let pos = p.pos(item.span());
        p.add(pos, super::parse::wrong_type(&key, "a string", item));
        return None;
    };
    let result = Expr::parse(src).and_then(|e| match kind {
        Some(k) => expr::check(&e, k).map(|ty| (e, Some(ty))),
        None => Ok((e, None)),
    });
    match result {
        Ok(ok) => Some(ok),
        Err(e) => {
            let at = p.pos_in_str(item.span(), src, e.offset);
            p.add(
                at,
                RuleProblem::Expression {
                    key,
                    message: e.message,
                }
                .into(),
            );
            None
        }
    }
}

/// The relations between rules and the rest of the file. `servers_complete` and
/// `partners_complete` say whether every code and partner name could be read (otherwise "unknown"
/// would only echo an earlier problem).
#[allow(
    clippy::too_many_lines,
    reason = "one check per rule field, in the order the errors are reported"
)]
pub(super) fn check(
    rules: &[DraftRule],
    servers: &[DraftServer],
    partners: &BTreeSet<String>,
    servers_complete: bool,
    partners_complete: bool,
    p: &mut Problems<'_>,
) {
    if rules.len() > MAX_RULES {
        p.add(
            rules[MAX_RULES].pos,
            Problem::TooMany {
                what: "distribution rules",
                max: MAX_RULES,
            },
        );
    }
    // The servers as read, each code once: index, role, whether it owns properties, group.
    let mut known: Vec<(ServerCode, ServerRole, bool, Option<String>)> = Vec::new();
    for s in servers {
        if let (Some(code), Some(role)) = (&s.code, s.role) {
            if !known.iter().any(|k| k.0 == code.value) {
                let owns = s.properties.as_ref().is_some_and(|l| !l.value.is_empty());
                known.push((code.value.clone(), role, owns, s.group.clone()));
            }
        }
    }
    let index = |code: &ServerCode| known.iter().position(|k| &k.0 == code);
    let shape: Vec<(ServerRole, bool)> = known.iter().map(|k| (k.1, k.2)).collect();
    let mut graphs: BTreeMap<RecordKind, OwnershipGraph> = BTreeMap::new();
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();

    for (i, r) in rules.iter().enumerate() {
        if let Some(n) = &r.name {
            match names.get(n.value.as_str()) {
                Some(first_line) => p.add(
                    n.pos,
                    RuleProblem::DuplicateRule {
                        name: n.value.clone(),
                        first_line: *first_line,
                    }
                    .into(),
                ),
                None => {
                    names.insert(&n.value, n.pos.line);
                }
            }
        }
        // Targets that exist; the servers each may reach.
        let mut reached: Vec<&(ServerCode, ServerRole, bool, Option<String>)> = Vec::new();
        if let Some(t) = &r.target {
            match &t.value {
                Target::Server(code) => match index(code) {
                    Some(k) => reached.push(&known[k]),
                    None if servers_complete => p.add(
                        t.pos,
                        Problem::UnknownServer {
                            key: "target",
                            code: code.to_string(),
                        },
                    ),
                    None => {}
                },
                Target::Group(g) => {
                    reached.extend(known.iter().filter(|k| k.3.as_deref() == Some(g)));
                    if reached.is_empty() && servers_complete {
                        p.add(t.pos, RuleProblem::EmptyGroup(g.clone()).into());
                    }
                }
                Target::All => reached.extend(known.iter()),
                Target::Owner => {
                    if let Some(k) = &r.kind {
                        if k.value != RecordKind::Property
                            && schema::top_field(k.value, "property").is_none()
                        {
                            p.add(
                                t.pos,
                                RuleProblem::OwnerWithoutProperty(k.value.as_str()).into(),
                            );
                        }
                    }
                    reached.extend(known.iter().filter(|k| k.1 == ServerRole::Property));
                }
                Target::Partner(name) => {
                    if !partners.contains(name) && partners_complete {
                        p.add(t.pos, RuleProblem::UnknownPartner(name.clone()).into());
                    }
                }
            }
        }
        let (Some(mode), Some(op), Some(updates)) = (&r.mode, &r.operation, &r.updates) else {
            continue;
        };
        combinations(r, mode, op, updates, &reached, p);

        // Ownership cycles, per kind, rule by rule in file order.
        let (Some(kind), Some(target)) = (&r.kind, &r.target) else {
            continue;
        };
        if mode.value != Mode::DataAndOwnership || op.value != Operation::Transfer {
            continue;
        }
        let mv = match &target.value {
            Target::Server(code) => match index(code) {
                Some(k) => Move::To(k),
                None => continue,
            },
            Target::Owner => Move::Owner,
            _ => continue,
        };
        let graph = graphs
            .entry(kind.value)
            .or_insert_with(|| OwnershipGraph::new(&shape));
        if let Err(cycle) = graph.add(i, mv) {
            let rule_name = |k: usize| {
                rules[k]
                    .name
                    .as_ref()
                    .map_or("?".to_string(), |n| n.value.clone())
            };
            let mut path = cycle
                .first()
                .map_or(String::new(), |h| known[h.from].0.to_string());
            let mut on_cycle: Vec<String> = Vec::new();
            for h in &cycle {
                path.push_str(&format!(" → {} ({})", known[h.to].0, rule_name(h.rule)));
                if !on_cycle.contains(&rule_name(h.rule)) {
                    on_cycle.push(rule_name(h.rule));
                }
            }
            p.add(
                target.pos,
                RuleProblem::OwnershipCycle {
                    kind: kind.value.as_str(),
                    path,
                    rules: on_cycle,
                }
                .into(),
            );
        }
    }
}

/// The operation, mode, updates and target combinations that mean something.
fn combinations(
    r: &DraftRule,
    mode: &At<Mode>,
    op: &At<Operation>,
    updates: &At<UpdatePolicy>,
    reached: &[&(ServerCode, ServerRole, bool, Option<String>)],
    p: &mut Problems<'_>,
) {
    use Mode::*;
    if let Some(t) = &r.target {
        match (&t.value, mode.value) {
            (Target::Partner(name), DataAndOwnership) => {
                p.add(t.pos, RuleProblem::OwnershipToPartner(name.clone()).into())
            }
            (target, DataAndOwnership) if target.is_many() => p.add(
                t.pos,
                RuleProblem::OwnershipToMany(target.to_string()).into(),
            ),
            (_, IndependentCopy) => {
                if let Some(archive) = reached.iter().find(|k| k.1 == ServerRole::Archive) {
                    p.add(
                        t.pos,
                        RuleProblem::ArchiveMode {
                            code: archive.0.to_string(),
                            mode: mode.value.as_str(),
                        }
                        .into(),
                    );
                }
            }
            _ => {}
        }
    }
    if let Some(Some(m)) = &r.mapping {
        if mode.value == DataAndOwnership {
            p.add(m.pos, RuleProblem::MapWithOwnership.into());
        }
    }
    // What the servers can carry out: ownership of bookings, guests and notes; copies into
    // guests, properties and room types; linked copies only to partners.
    if let Some(kind) = &r.kind {
        let moving = matches!(op.value, Operation::Transfer | Operation::Return);
        if moving
            && mode.value == DataAndOwnership
            && !innsync_core::decide::TRANSFERABLE.contains(&kind.value)
        {
            p.add(
                kind.pos,
                RuleProblem::NotTransferable(kind.value.as_str()).into(),
            );
        }
        if matches!(op.value, Operation::Transfer | Operation::Update)
            && mode.value != DataAndOwnership
        {
            let to = match &r.mapping {
                Some(Some(m)) => m.value.to_kind,
                _ => kind.value,
            };
            if !innsync_core::decide::IMPORTABLE.contains(&to) {
                p.add(kind.pos, RuleProblem::NotCopyable(to.as_str()).into());
            }
        }
    }
    if let Some(t) = &r.target {
        if mode.value == DataOnly
            && matches!(op.value, Operation::Transfer | Operation::Update)
            && !matches!(t.value, Target::Partner(_))
        {
            p.add(t.pos, RuleProblem::LinkedCopyInEnvironment.into());
        }
    }
    match (op.value, mode.value) {
        (Operation::Return, m) if m != DataAndOwnership => {
            p.add(op.pos, RuleProblem::ReturnNeedsOwnership(m.as_str()).into())
        }
        (Operation::Update, IndependentCopy) => p.add(
            op.pos,
            RuleProblem::IndependentCopyLinked("there is no copy to update; use data_only").into(),
        ),
        (Operation::Update, DataAndOwnership) => p.add(
            op.pos,
            RuleProblem::UpdateNeedsDataOnly(DataAndOwnership.as_str()).into(),
        ),
        (Operation::Delete, IndependentCopy) => p.add(
            op.pos,
            RuleProblem::IndependentCopyLinked("there is no copy to delete; use data_only").into(),
        ),
        _ => {}
    }
    let u = updates.value;
    match mode.value {
        DataAndOwnership if !matches!(u, UpdatePolicy::Never | UpdatePolicy::OnReturn) => p.add(
            updates.pos,
            RuleProblem::UpdatesWithOwnership(u.as_str()).into(),
        ),
        m if m != DataAndOwnership && u == UpdatePolicy::OnReturn => p.add(
            updates.pos,
            RuleProblem::OnReturnNeedsOwnership(m.as_str()).into(),
        ),
        IndependentCopy if u != UpdatePolicy::Never => p.add(
            updates.pos,
            RuleProblem::IndependentCopyLinked("it is never updated, so `updates` must be never")
                .into(),
        ),
        DataOnly if op.value == Operation::Update && u == UpdatePolicy::Never => {
            p.add(updates.pos, RuleProblem::UpdateNeverSent.into())
        }
        _ => {}
    }
}

/// The rule when every value was read.
pub(super) fn build(r: DraftRule) -> Option<Rule> {
    let mut match_fields = r.match_fields?;
    match_fields.sort();
    match_fields.dedup();
    Some(Rule {
        name: r.name?.value,
        kind: r.kind?.value,
        on: r.on?,
        condition: r.condition?,
        operation: r.operation?.value,
        target: r.target?.value,
        mode: r.mode?.value,
        updates: r.updates?.value,
        pool: r.pool?,
        mapping: r.mapping?.map(|m| m.value),
        duplicates: r.duplicates?,
        match_fields,
    })
}
