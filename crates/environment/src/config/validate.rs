//! The rules that relate entries to each other: unique codes and URLs, one owner per property,
//! masters that exist and may be master, one timetable entry per local minute, `receive = "own"`
//! only on property servers; then the allotment rules, partners and distribution rules.

use super::error::{Position, Problem};
use super::parse::{Draft, Problems};
use super::rule_problem::RuleProblem;
use super::{Environment, Secret, ServerEntry, ServerRole, TimetableEntry};
use crate::limits::{
    MAX_NAME_CHARS, MAX_SECRET_CHARS, MAX_SERVERS, MAX_TIMETABLE_ENTRIES, MIN_SECRET_CHARS,
};
use crate::rules::Receive;
use innsync_core::ServerCode;
use std::collections::{BTreeMap, BTreeSet};

/// The rule for environment and group names: 1–64 letters, digits, `-`, `_` or `.`.
pub(super) fn group_name(v: &str) -> Result<(), &'static str> {
    let ok = !v.is_empty()
        && v.chars().count() <= MAX_NAME_CHARS
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err("must be 1 to 64 letters, digits, -, _ or .")
    }
}

/// Checks the draft as a whole; returns the environment when nothing is missing.
/// Every `None` here comes with a problem already recorded.
#[allow(
    clippy::too_many_lines,
    reason = "every cross-field rule of the file, in the order its errors are reported"
)]
pub(super) fn check(d: Draft, p: &mut Problems<'_>) -> Option<Environment> {
    let root = Position { line: 1, column: 1 };
    if let Some(secret) = &d.secret {
        check_secret(&secret.value, secret.pos, p);
    }
    if let Some(secret) = &d.rotating_secret {
        check_secret(&secret.value, secret.pos, p);
    }
    if d.servers.is_empty() {
        p.add(
            root,
            Problem::MissingKey {
                key: "servers",
                section: "the top level",
            },
        );
    }
    if d.servers.len() > MAX_SERVERS {
        p.add(
            d.servers[MAX_SERVERS].pos,
            Problem::TooMany {
                what: "servers",
                max: MAX_SERVERS,
            },
        );
    }
    if d.timetable.len() > MAX_TIMETABLE_ENTRIES {
        p.add(
            d.timetable[MAX_TIMETABLE_ENTRIES].pos,
            Problem::TooMany {
                what: "timetable entries",
                max: MAX_TIMETABLE_ENTRIES,
            },
        );
    }

    // Unique codes and URLs; one owner per property.
    let mut roles: BTreeMap<ServerCode, ServerRole> = BTreeMap::new();
    let mut first_line: BTreeMap<ServerCode, usize> = BTreeMap::new();
    let mut urls: BTreeMap<String, String> = BTreeMap::new();
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    for s in &d.servers {
        let code_text = s
            .code
            .as_ref()
            .map_or("?".to_string(), |c| c.value.to_string());
        if let Some(code) = &s.code {
            match first_line.get(&code.value) {
                Some(line) => p.add(
                    code.pos,
                    Problem::DuplicateServerCode {
                        code: code_text.clone(),
                        first_line: *line,
                    },
                ),
                None => {
                    first_line.insert(code.value.clone(), code.pos.line);
                    if let Some(role) = s.role {
                        roles.insert(code.value.clone(), role);
                    }
                }
            }
        }
        if let Some(url) = &s.url {
            let key = url.value.as_str().to_string();
            match urls.get(&key) {
                Some(first) => p.add(
                    url.pos,
                    Problem::DuplicateUrl {
                        url: key,
                        first: first.clone(),
                        second: code_text.clone(),
                    },
                ),
                None => {
                    urls.insert(key, code_text.clone());
                }
            }
        }
        if let (Some(receive), Some(role)) = (&s.receive, s.role) {
            if receive.value == Receive::Own && role != ServerRole::Property {
                p.add(
                    receive.pos,
                    RuleProblem::ReceiveOwnOnNonProperty {
                        server: code_text.clone(),
                        role: role.as_str(),
                    }
                    .into(),
                );
            }
        }
        if let (Some(props), Some(role)) = (&s.properties, s.role) {
            if role != ServerRole::Property {
                p.add(
                    props.pos,
                    Problem::PropertiesOnNonPropertyServer {
                        server: code_text.clone(),
                        role: role.as_str(),
                    },
                );
            }
            for prop in &props.value {
                match owners.get(&prop.value) {
                    Some(first) => p.add(
                        prop.pos,
                        Problem::PropertyListedTwice {
                            property: prop.value.clone(),
                            first: first.clone(),
                            second: code_text.clone(),
                        },
                    ),
                    None => {
                        owners.insert(prop.value.clone(), code_text.clone());
                    }
                }
            }
        }
    }

    // Masters must exist and be web or reservation servers. When a server's code could not be
    // read, "unknown server" would only echo that problem, so it is not reported.
    let codes_complete = d.servers.iter().all(|s| s.code.is_some());
    let master_ok =
        |key: &'static str, code: &ServerCode, pos: Position, p: &mut Problems<'_>| match roles
            .get(code)
        {
            None if codes_complete && !first_line.contains_key(code) => p.add(
                pos,
                Problem::UnknownServer {
                    key,
                    code: code.to_string(),
                },
            ),
            Some(role) if !role.may_be_master() => p.add(
                pos,
                Problem::NotEligibleForMaster {
                    key,
                    code: code.to_string(),
                    role: role.as_str(),
                },
            ),
            _ => {}
        };
    if let Some(m) = &d.initial_master {
        master_ok("initial_master", &m.value, m.pos, p);
    }
    let mut minutes: BTreeMap<(String, chrono::NaiveTime), usize> = BTreeMap::new();
    for slot in &d.timetable {
        if let Some(m) = &slot.master {
            master_ok("master", &m.value, m.pos, p);
        }
        if let (Some(at), Some(tz)) = (slot.at, slot.tz) {
            let key = (tz.name().to_string(), at);
            match minutes.get(&key) {
                Some(first_line) => p.add(
                    slot.pos,
                    Problem::SameLocalMinute {
                        at: at.format("%H:%M").to_string(),
                        tz: tz.name().to_string(),
                        first_line: *first_line,
                    },
                ),
                None => {
                    minutes.insert(key, slot.pos.line);
                }
            }
        }
    }

    super::allotment_rules::check(&d.allotment_rules, &roles, &owners, codes_complete, p);
    super::partners::check(&d.partners, &d.servers, p);
    let partner_names: BTreeSet<String> = d
        .partners
        .iter()
        .filter_map(|x| x.name.as_ref().map(|n| n.value.clone()))
        .collect();
    let partners_complete = d.partners.iter().all(|x| x.name.is_some());
    super::rules::check(
        &d.rules,
        &d.servers,
        &partner_names,
        codes_complete && d.servers.iter().all(|s| s.role.is_some()),
        partners_complete,
        p,
    );

    build(d)
}

fn check_secret(secret: &str, pos: Position, p: &mut Problems<'_>) {
    let chars = secret.chars().count();
    if chars < MIN_SECRET_CHARS || secret.trim().is_empty() {
        p.add(
            pos,
            Problem::SecretTooShort {
                chars,
                min: MIN_SECRET_CHARS,
            },
        );
    } else if chars > MAX_SECRET_CHARS {
        p.add(
            pos,
            Problem::BadText {
                key: "secret",
                rule: "must be at most 1024 characters",
                got: format!("{chars} characters"),
            },
        );
    }
}

/// Assembles the environment when every required value was read.
fn build(d: Draft) -> Option<Environment> {
    let mut servers = Vec::with_capacity(d.servers.len());
    for s in d.servers {
        let mut properties: Vec<String> = s
            .properties
            .map(|p| p.value.into_iter().map(|a| a.value).collect())
            .unwrap_or_default();
        properties.sort();
        servers.push(ServerEntry {
            code: s.code?.value,
            role: s.role?,
            url: s.url?.value,
            properties,
            group: s.group,
            receive: s.receive.map_or(Receive::All, |r| r.value),
        });
    }
    let mut timetable = Vec::with_capacity(d.timetable.len());
    for t in d.timetable {
        timetable.push(TimetableEntry {
            at: t.at?,
            tz: t.tz?,
            master: t.master?.value,
        });
    }
    let mut allotment_rules = Vec::with_capacity(d.allotment_rules.len());
    for r in d.allotment_rules {
        allotment_rules.push(super::allotment_rules::build(r)?);
    }
    let mut partners = Vec::with_capacity(d.partners.len());
    for x in d.partners {
        partners.push(super::partners::build(x)?);
    }
    let mut rules = Vec::with_capacity(d.rules.len());
    for r in d.rules {
        rules.push(super::rules::build(r)?);
    }
    Some(Environment {
        allotment_rules,
        partners,
        rules,
        name: d.name?,
        secret: Secret(d.secret?.value),
        rotating_secret: d.rotating_secret.map(|s| Secret(s.value)),
        initial_master: d.initial_master?.value,
        servers,
        timetable,
    })
}
