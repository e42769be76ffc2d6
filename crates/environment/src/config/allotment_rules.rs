//! `[[allotment_rules]]`: standing rules that move allotment units by themselves, e.g. "PA keeps
//! all but 2 rooms a night for the web" with "env's unsold units go back to PA 3 days before
//! arrival". Each is read into the core's [`AllotmentRule`] and checked against the servers of
//! the file, with the line of every problem.
//!
//! ```toml
//! [[allotment_rules]]
//! name = "web-keeps-2"
//! property = "KRL"
//! room_types = ["DLX"]      # optional: every room type of the property
//! holder = "env"            # env, or a server code
//! units = 2                 # a night, kept topped up by the property's owner
//! days_ahead = 180          # optional, default 365
//! release_days = 3          # optional, default 0 (never released)
//! ```

use super::error::{Position, Problem};
use super::parse::{At, Problems};
use super::ServerRole;
use innsync_core::allotment::{AllotmentRule, MAX_GRANT_UNITS, MAX_RULES, MAX_RULE_DAYS};
use innsync_core::{Authority, ServerCode};
use std::collections::BTreeMap;
use toml_edit::TableLike;

/// The keys of an `[[allotment_rules]]` entry.
pub(super) const RULE_KEYS: &[&str] = &[
    "name",
    "property",
    "room_types",
    "holder",
    "units",
    "days_ahead",
    "release_days",
];
pub(super) const RULES: &str = "[[allotment_rules]]";
/// How far ahead a rule tops up when `days_ahead` is not given.
pub const DEFAULT_DAYS_AHEAD: u32 = 365;

/// A rule as read; `None` where a value was missing or bad (already reported).
#[derive(Debug)]
pub(super) struct DraftRule {
    pub pos: Position,
    pub name: Option<At<String>>,
    pub property: Option<At<String>>,
    pub room_types: Vec<String>,
    pub holder: Option<At<Authority>>,
    pub units: Option<u32>,
    pub days_ahead: Option<At<u32>>,
    pub release_days: Option<u32>,
}

/// Reads one entry, checking each value against its own rule.
pub(super) fn read(t: &dyn TableLike, pos: Position, p: &mut Problems<'_>) -> DraftRule {
    super::parse::check_keys(t, RULE_KEYS, RULES, p);
    let name = super::parse::required_name(t, "name", RULES, pos, p);
    let property = super::parse::required_str(t, "property", RULES, pos, p).filter(|v| {
        let ok = super::parse::is_property_code(&v.value);
        if !ok {
            p.add(v.pos, Problem::BadPropertyCode(v.value.clone()));
        }
        ok
    });
    let room_types = super::parse::code_list(t, "room_types", "a list of room type codes", p)
        .map(|l| l.value.into_iter().map(|a| a.value).collect())
        .unwrap_or_default();
    let holder = super::parse::required_str(t, "holder", RULES, pos, p).and_then(|h| holder(h, p));
    let units = super::parse::required_int(t, "units", RULES, pos, 1, MAX_GRANT_UNITS, p);
    let days_ahead = match t.get("days_ahead") {
        None => Some(At {
            value: DEFAULT_DAYS_AHEAD,
            pos,
        }),
        Some(item) => {
            let at = p.pos(item.span());
            super::parse::required_int(t, "days_ahead", RULES, pos, 1, MAX_RULE_DAYS, p)
                .map(|value| At { value, pos: at })
        }
    };
    let release_days = match t.get("release_days") {
        None => Some(0),
        Some(_) => super::parse::required_int(t, "release_days", RULES, pos, 0, MAX_RULE_DAYS, p),
    };
    DraftRule {
        pos,
        name,
        property,
        room_types,
        holder,
        units,
        days_ahead,
        release_days,
    }
}

fn holder(h: At<String>, p: &mut Problems<'_>) -> Option<At<Authority>> {
    let parsed = if h.value == "env" {
        Ok(Authority::Env)
    } else {
        ServerCode::parse(h.value.strip_prefix("server:").unwrap_or(&h.value))
            .map(Authority::Server)
    };
    match parsed {
        Ok(value) => Some(At { value, pos: h.pos }),
        Err(_) => {
            p.add(h.pos, Problem::BadHolder(h.value));
            None
        }
    }
}

/// A rule already seen for a (property, holder): its line and room types (empty for all).
type Covered = (usize, Vec<String>);

/// The rules that relate rules to the rest of the file: holders that exist and may hold, never
/// the property's own owner, one rule per property, holder and room type, and a release window
/// inside the horizon.
pub(super) fn check(
    rules: &[DraftRule],
    roles: &BTreeMap<ServerCode, ServerRole>,
    owners: &BTreeMap<String, String>,
    codes_complete: bool,
    p: &mut Problems<'_>,
) {
    if rules.len() > MAX_RULES {
        p.add(
            rules[MAX_RULES].pos,
            Problem::TooMany {
                what: "allotment rules",
                max: MAX_RULES,
            },
        );
    }
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut covered: BTreeMap<(String, Authority), Vec<Covered>> = BTreeMap::new();
    for r in rules {
        if let Some(n) = &r.name {
            if let Some(first_line) = names.get(&n.value) {
                p.add(
                    n.pos,
                    Problem::DuplicateRuleName {
                        name: n.value.clone(),
                        first_line: *first_line,
                    },
                );
            } else {
                names.insert(n.value.clone(), n.pos.line);
            }
        }
        if let Some(h) = &r.holder {
            if let Authority::Server(code) = &h.value {
                match roles.get(code) {
                    None if codes_complete => p.add(
                        h.pos,
                        Problem::UnknownServer {
                            key: "holder",
                            code: code.to_string(),
                        },
                    ),
                    Some(role) if !role.may_hold_allotments() => p.add(
                        h.pos,
                        Problem::NotEligibleToHold {
                            code: code.to_string(),
                            role: role.as_str(),
                        },
                    ),
                    _ => {}
                }
            }
            if let Some(prop) = &r.property {
                let owner = owners
                    .get(&prop.value)
                    .map_or("env".to_string(), |s| format!("server:{s}"));
                if owner == h.value.to_string() {
                    p.add(
                        h.pos,
                        Problem::HolderIsOwner {
                            holder: owner,
                            property: prop.value.clone(),
                        },
                    );
                }
                let key = (prop.value.clone(), h.value.clone());
                let seen = covered.entry(key).or_default();
                if let Some((line, _)) = seen.iter().find(|(_, types)| {
                    types.is_empty()
                        || r.room_types.is_empty()
                        || types.iter().any(|t| r.room_types.contains(t))
                }) {
                    p.add(
                        r.pos,
                        Problem::OverlappingRules {
                            property: prop.value.clone(),
                            holder: h.value.to_string(),
                            first_line: *line,
                        },
                    );
                }
                seen.push((r.pos.line, r.room_types.clone()));
            }
        }
        if let (Some(ahead), Some(release)) = (&r.days_ahead, r.release_days) {
            if release >= ahead.value {
                p.add(
                    ahead.pos,
                    Problem::ReleaseBeyondHorizon {
                        release_days: release,
                        days_ahead: ahead.value,
                    },
                );
            }
        }
    }
}

/// The rule when every value was read.
pub(super) fn build(r: DraftRule) -> Option<AllotmentRule> {
    let mut room_types = r.room_types;
    room_types.sort();
    room_types.dedup();
    Some(AllotmentRule {
        name: r.name?.value,
        property: r.property?.value,
        room_types,
        holder: r.holder?.value,
        units: r.units?,
        days_ahead: r.days_ahead?.value,
        release_days: r.release_days?,
    })
}
