//! `[rules.map]` and `match`: how a copy's fields are made from its source, and which fields
//! of the target identify a duplicate. Every field named must exist in its kind, and a mapping
//! must not lose a field the target kind requires.
//!
//! ```toml
//! [rules.map]
//! rename = { email = "email" }        # source field -> target field
//! drop = ["phone"]                    # source fields not copied
//! set = { source = "kraal" }          # target field -> constant (string, whole number, bool)
//! compute = { name = 'upper(name)' }  # target field -> expression over the source record
//! to_kind = "guest"                   # optional: the target's kind (default: the rule's)
//! ```

use super::error::{Position, Problem};
use super::parse::{At, Problems};
use super::rule_problem::RuleProblem;
use crate::limits::{MAX_MAP_ENTRIES, MAX_MATCH_FIELDS};
use crate::rules::expr::Ty;
use crate::rules::schema::{self, FieldType};
use crate::rules::Mapping;
use innsync_core::{Authority, RecordId, RecordKind};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use toml_edit::{Item, TableLike};

const MAP_KEYS: &[&str] = &["rename", "drop", "set", "compute", "to_kind"];
const MAP: &str = "[rules.map]";

/// An entry's key and its value, each with its position.
struct Entry<'d> {
    key: At<String>,
    item: &'d Item,
    pos: Position,
}

/// The entries of a table-valued key (`rename = { … }` or `[rules.map.rename]`).
fn entries<'d>(t: &'d dyn TableLike, key: &str, p: &mut Problems<'_>) -> Vec<Entry<'d>> {
    let Some(item) = t.get(key) else {
        return Vec::new();
    };
    let Some(table) = item.as_table_like() else {
        let pos = p.pos(item.span());
        p.add(pos, super::parse::wrong_type(key, "a table", item));
        return Vec::new();
    };
    table
        .iter()
        .map(|(k, v)| Entry {
            key: At {
                value: k.to_string(),
                pos: p.pos(table.key(k).and_then(|k| k.span()).or_else(|| v.span())),
            },
            item: v,
            pos: p.pos(v.span()),
        })
        .collect()
}

/// Strings of a list-valued key, each with its position.
fn strings(t: &dyn TableLike, key: &str, p: &mut Problems<'_>) -> Option<Vec<At<String>>> {
    let item = t.get(key)?;
    let Some(array) = item.as_array() else {
        let pos = p.pos(item.span());
        p.add(
            pos,
            super::parse::wrong_type(key, "a list of field names", item),
        );
        return None;
    };
    let mut out = Vec::new();
    for v in array.iter() {
        let pos = p.pos(v.span());
        match v.as_str() {
            Some(s) => out.push(At {
                value: s.to_string(),
                pos,
            }),
            None => p.add(
                pos,
                Problem::WrongType {
                    key: key.to_string(),
                    expected: "a list of field names",
                    found: v.type_name(),
                },
            ),
        }
    }
    Some(out)
}

/// A top-level, non-identity field of `kind`; reports it otherwise.
fn field_of(
    kind: RecordKind,
    name: &At<String>,
    key: &str,
    p: &mut Problems<'_>,
) -> Option<&'static schema::Field> {
    if schema::is_meta(&name.value) {
        p.add(
            name.pos,
            RuleProblem::MetaField {
                key: key.to_string(),
                field: name.value.clone(),
            }
            .into(),
        );
        return None;
    }
    let found = schema::own_fields(kind)
        .iter()
        .find(|f| f.name == name.value);
    if found.is_none() {
        p.add(name.pos, unknown(key, kind, &name.value));
    }
    found
}

fn unknown(key: &str, kind: RecordKind, field: &str) -> Problem {
    RuleProblem::UnknownField {
        key: key.to_string(),
        kind: kind.as_str(),
        field: field.to_string(),
        fields: schema::field_list(kind),
    }
    .into()
}

/// Reads `[rules.map]` for a rule about `source` records (unknown when the kind was bad: then
/// only the shape is checked).
#[allow(
    clippy::too_many_lines,
    reason = "one field of [rules.map] after another, each with its own located error"
)]
pub(super) fn read(
    item: &Item,
    key_span: Option<Range<usize>>,
    source: Option<RecordKind>,
    rule_pos: Position,
    p: &mut Problems<'_>,
) -> Option<At<Mapping>> {
    let map_pos = match item.span().or(key_span) {
        Some(s) => p.pos(Some(s)),
        None => rule_pos,
    };
    let Some(t) = item.as_table_like() else {
        p.add(map_pos, super::parse::wrong_type("map", "a table", item));
        return None;
    };
    super::parse::check_keys(t, MAP_KEYS, MAP, p);
    let before = p.count();
    let to_kind = match super::parse::optional_str(t, "to_kind", p) {
        Some(s) => super::rules::rule_kind(s, "to_kind", p).map(|k| k.value),
        None if t.get("to_kind").is_none() => source,
        None => None,
    };
    let rename = entries(t, "rename", p);
    let drop = strings(t, "drop", p).unwrap_or_default();
    let set = entries(t, "set", p);
    let compute = entries(t, "compute", p);
    let count = rename.len() + drop.len() + set.len() + compute.len();
    if count > MAX_MAP_ENTRIES {
        p.add(
            map_pos,
            Problem::TooMany {
                what: "entries in one [rules.map]",
                max: MAX_MAP_ENTRIES,
            },
        );
        return None;
    }
    let (Some(from), Some(to)) = (source, to_kind) else {
        return None;
    };

    let mut mapping = Mapping {
        to_kind: to,
        rename: BTreeMap::new(),
        drop: BTreeSet::new(),
        set: BTreeMap::new(),
        compute: BTreeMap::new(),
    };
    for e in &rename {
        let target = match e.item.as_str() {
            Some(s) => At {
                value: s.to_string(),
                pos: e.pos,
            },
            None => {
                p.add(
                    e.pos,
                    super::parse::wrong_type(
                        &format!("rename.{}", e.key.value),
                        "a field name",
                        e.item,
                    ),
                );
                continue;
            }
        };
        let a = field_of(from, &e.key, "rename", p);
        let b = field_of(to, &target, "rename", p);
        if a.is_some() && b.is_some() {
            mapping.rename.insert(e.key.value.clone(), target.value);
        }
    }
    for d in &drop {
        if field_of(from, d, "drop", p).is_some() {
            if mapping.rename.contains_key(&d.value) {
                p.add(
                    d.pos,
                    RuleProblem::DroppedAndRenamed(d.value.clone()).into(),
                );
            }
            mapping.drop.insert(d.value.clone());
        }
    }
    for e in &set {
        let Some(field) = field_of(to, &e.key, "set", p) else {
            continue;
        };
        if let Some(value) = constant(e, field.ty, to, p) {
            mapping.set.insert(e.key.value.clone(), value);
        }
    }
    for e in &compute {
        let Some(field) = field_of(to, &e.key, "compute", p) else {
            continue;
        };
        if mapping.set.contains_key(&e.key.value) {
            p.add(
                e.key.pos,
                RuleProblem::SetAndComputed(e.key.value.clone()).into(),
            );
        }
        let key = format!("compute.{}", e.key.value);
        let Some((expr, ty)) = super::rules::expression(e.item, key.clone(), Some(from), p) else {
            continue;
        };
        if let Some(ty) = ty.filter(|ty| !assignable(*ty, field.ty)) {
            let at = p.pos_in_str(e.item.span(), expr.source(), 0);
            p.add(
                at,
                RuleProblem::Expression {
                    key,
                    message: format!(
                        "this gives {}, but `{}` of {} holds {}",
                        ty.name(),
                        field.name,
                        to.as_str(),
                        field.ty.name()
                    ),
                }
                .into(),
            );
            continue;
        }
        mapping.compute.insert(e.key.value.clone(), expr);
    }
    if p.count() > before {
        // Judging what the copy lacks would only repeat the problems above.
        return None;
    }
    coverage(&mapping, from, map_pos, p);
    Some(At {
        value: mapping,
        pos: map_pos,
    })
}

/// What the copy will hold: no field from two sources, nothing the target kind lacks, every
/// field it requires.
fn coverage(m: &Mapping, from: RecordKind, map_pos: Position, p: &mut Problems<'_>) {
    let to = m.to_kind;
    let mut produced: BTreeMap<&str, &str> = BTreeMap::new();
    let mut lacking = Vec::new();
    for f in schema::own_fields(from) {
        if m.drop.contains(f.name) {
            continue;
        }
        let target = m.rename.get(f.name).map_or(f.name, String::as_str);
        if let Some(first) = produced.insert(target, f.name) {
            p.add(
                map_pos,
                RuleProblem::TwoSources {
                    field: target.to_string(),
                    first: first.to_string(),
                    second: f.name.to_string(),
                }
                .into(),
            );
        }
        let overridden = m.set.contains_key(target) || m.compute.contains_key(target);
        if schema::top_field(to, target).is_none() && !overridden {
            lacking.push(f.name.to_string());
        }
    }
    if !lacking.is_empty() {
        p.add(
            map_pos,
            RuleProblem::FieldsTargetLacks {
                fields: lacking,
                from: from.as_str(),
                to: to.as_str(),
            }
            .into(),
        );
    }
    for f in schema::required(to) {
        let given = produced.contains_key(f.name)
            || m.set.contains_key(f.name)
            || m.compute.contains_key(f.name);
        if !given {
            p.add(
                map_pos,
                RuleProblem::LosesRequired {
                    field: f.name,
                    kind: to.as_str(),
                }
                .into(),
            );
        }
    }
}

/// Whether a value of type `ty` may be written into a field of type `to`.
fn assignable(ty: Ty, to: FieldType) -> bool {
    use FieldType as F;
    match ty {
        Ty::Null => true,
        Ty::Text => matches!(to, F::Text | F::Authority | F::Id | F::Date | F::DateTime),
        Ty::Date => matches!(to, F::Date | F::Text),
        Ty::DateTime => matches!(to, F::DateTime | F::Text),
        Ty::Int => to == F::Integer,
        Ty::Bool => to == F::Bool,
        Ty::List => to == F::List,
        Ty::Object => matches!(to, F::Object(_)),
    }
}

/// A `set` constant that fits its field.
fn constant(
    e: &Entry<'_>,
    ty: FieldType,
    kind: RecordKind,
    p: &mut Problems<'_>,
) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    let v = e.item.as_value();
    let value = if let Some(s) = v.and_then(|v| v.as_str()) {
        Some(J::String(s.to_string())).filter(|_| match ty {
            FieldType::Text => true,
            FieldType::Id => RecordId::parse(s).is_ok(),
            FieldType::Authority => Authority::parse(s).is_ok(),
            FieldType::Date => {
                s.len() == 10
                    && crate::rules::expr::Value::Text(s.to_string())
                        .as_date()
                        .is_some()
            }
            FieldType::DateTime => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
            _ => false,
        })
    } else if let Some(i) = v.and_then(|v| v.as_integer()) {
        Some(J::from(i)).filter(|_| ty == FieldType::Integer)
    } else if let Some(b) = v.and_then(|v| v.as_bool()) {
        Some(J::Bool(b)).filter(|_| ty == FieldType::Bool)
    } else {
        p.add(
            e.pos,
            super::parse::wrong_type(
                &format!("set.{}", e.key.value),
                "a string, a whole number or true/false",
                e.item,
            ),
        );
        return None;
    };
    if value.is_none() {
        let expected = match ty {
            FieldType::Text => "a string",
            FieldType::Integer => "a whole number",
            FieldType::Bool => "true or false",
            FieldType::Date => "a date string like \"2026-12-01\"",
            FieldType::DateTime => "an RFC 3339 instant string",
            FieldType::Authority => "env or server:XX",
            FieldType::Id => "a record id like \"WB-000123\"",
            FieldType::List | FieldType::Object(_) => "a list or object, which `set` cannot give",
        };
        p.add(
            e.pos,
            RuleProblem::WrongConstant {
                field: e.key.value.clone(),
                kind: kind.as_str(),
                expected,
            }
            .into(),
        );
    }
    value
}

/// The kind a mapping makes (its `to_kind`, else `source`), without reporting anything: `read`
/// reports what is wrong with it.
pub(super) fn to_kind(item: &Item, source: Option<RecordKind>) -> Option<RecordKind> {
    match item.as_table_like().and_then(|t| t.get("to_kind")) {
        None => source,
        Some(k) => k
            .as_str()
            .and_then(schema::kind_named)
            .filter(|k| schema::RULE_KINDS.contains(k)),
    }
}

/// `match`: fields of the target kind (dots into objects allowed); `Some(empty)` when absent.
pub(super) fn match_fields(
    t: &dyn TableLike,
    target_kind: Option<RecordKind>,
    p: &mut Problems<'_>,
) -> Option<Vec<String>> {
    if t.get("match").is_none() {
        return Some(Vec::new());
    }
    let list = strings(t, "match", p)?;
    if list.len() > MAX_MATCH_FIELDS {
        let pos = p.pos(t.get("match").and_then(|i| i.span()));
        p.add(
            pos,
            Problem::TooMany {
                what: "fields in `match`",
                max: MAX_MATCH_FIELDS,
            },
        );
        return None;
    }
    let kind = target_kind?;
    let mut ok = true;
    for f in &list {
        let path: Vec<&str> = f.value.split('.').collect();
        if schema::field(kind, &path).is_none() {
            p.add(f.pos, unknown("match", kind, &f.value));
            ok = false;
        }
    }
    ok.then(|| list.into_iter().map(|a| a.value).collect())
}
