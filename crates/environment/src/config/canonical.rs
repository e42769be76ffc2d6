//! The canonical form of an environment and its fingerprint.
//!
//! Servers compare fingerprints before syncing and refuse a peer whose file means something else;
//! hashing a canonical form instead of the file's bytes means whitespace, comments, key order and
//! entry order do not count. The secret and the partners' tokens are left out: they are checked
//! by authentication, and a hash of them sent in the clear would invite offline guessing.
//! Expressions are in their canonical text ([`crate::rules::Expr`]'s `Display`), so their
//! spacing and quotes do not count either.

use super::Environment;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// Version of the canonical form; bumped when its meaning changes, so old and new servers differ.
pub const CANONICAL_FORMAT: u32 = 3;
/// Most differences listed; beyond that the files are simply different.
pub const MAX_DIFFERENCES: usize = 32;

/// A server in canonical form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanonicalServer {
    /// Code.
    pub code: String,
    /// Role name.
    pub role: String,
    /// Normalised URL.
    pub url: String,
    /// Owned properties, sorted.
    pub properties: Vec<String>,
    /// Group, if any.
    pub group: Option<String>,
    /// `all` or `own`.
    #[serde(default = "receive_all")]
    pub receive: String,
}

fn receive_all() -> String {
    crate::rules::Receive::All.as_str().to_string()
}

/// A distribution rule in canonical form: every value as text (absent optional values empty),
/// lists sorted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanonicalRule {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Trigger.
    pub on: String,
    /// Condition's canonical text, or empty.
    pub when: String,
    /// Operation.
    pub operation: String,
    /// Target as written in the file.
    pub target: String,
    /// Mode.
    pub mode: String,
    /// Update policy.
    pub updates: String,
    /// Pool.
    pub pool: String,
    /// Duplicate policy.
    pub duplicates: String,
    /// Match fields, sorted.
    pub match_fields: Vec<String>,
    /// The mapping, if any.
    pub map: Option<CanonicalMap>,
}

/// A mapping in canonical form, every list sorted by field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanonicalMap {
    /// Target kind.
    pub to_kind: String,
    /// (source, target) pairs.
    pub rename: Vec<(String, String)>,
    /// Dropped fields.
    pub drop: Vec<String>,
    /// (field, constant as JSON text).
    pub set: Vec<(String, String)>,
    /// (field, expression's canonical text).
    pub compute: Vec<(String, String)>,
}

impl CanonicalRule {
    fn of(r: &crate::rules::Rule) -> Self {
        Self {
            name: r.name.clone(),
            kind: r.kind.as_str().to_string(),
            on: r.on.as_str().to_string(),
            when: r
                .condition
                .as_ref()
                .map_or(String::new(), |c| c.to_string()),
            operation: r.operation.as_str().to_string(),
            target: r.target.to_string(),
            mode: r.mode.as_str().to_string(),
            updates: r.updates.as_str().to_string(),
            pool: r.pool.clone(),
            duplicates: r.duplicates.as_str().to_string(),
            match_fields: r.match_fields.clone(),
            map: r.mapping.as_ref().map(|m| CanonicalMap {
                to_kind: m.to_kind.as_str().to_string(),
                rename: m
                    .rename
                    .iter()
                    .map(|(a, b)| (a.clone(), b.clone()))
                    .collect(),
                drop: m.drop.iter().cloned().collect(),
                set: m
                    .set
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_string()))
                    .collect(),
                compute: m
                    .compute
                    .iter()
                    .map(|(k, e)| (k.clone(), e.to_string()))
                    .collect(),
            }),
        }
    }

    /// Every value by key, in the canonical text's order: what is hashed, and what
    /// [`Difference::DistributionRuleDiffers`] names.
    pub fn parts(&self) -> Vec<(&'static str, serde_json::Value)> {
        use serde_json::json;
        vec![
            ("name", json!(self.name)),
            ("kind", json!(self.kind)),
            ("on", json!(self.on)),
            ("when", json!(self.when)),
            ("operation", json!(self.operation)),
            ("target", json!(self.target)),
            ("mode", json!(self.mode)),
            ("updates", json!(self.updates)),
            ("pool", json!(self.pool)),
            ("duplicates", json!(self.duplicates)),
            ("match", json!(self.match_fields)),
            (
                "map",
                self.map.as_ref().map_or(json!(null), |m| {
                    json!([m.to_kind, m.rename, m.drop, m.set, m.compute])
                }),
            ),
        ]
    }
}

/// A partner in canonical form (never its token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanonicalPartner {
    /// Name.
    pub name: String,
    /// Normalised URL.
    pub url: String,
}

/// A timetable entry in canonical form.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CanonicalSlot {
    /// IANA zone name.
    pub tz: String,
    /// `HH:MM`.
    pub at: String,
    /// Server code.
    pub master: String,
}

impl fmt::Display for CanonicalSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} → {}", self.at, self.tz, self.master)
    }
}

/// An environment's meaning, sorted and without the secret: what peers exchange to explain a
/// fingerprint mismatch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanonicalEnvironment {
    /// [`CANONICAL_FORMAT`].
    pub format: u32,
    /// Name.
    pub name: String,
    /// Initial master's code.
    pub initial_master: String,
    /// Servers sorted by code.
    pub servers: Vec<CanonicalServer>,
    /// Timetable sorted by zone, time and master.
    pub timetable: Vec<CanonicalSlot>,
    /// Allotment rules sorted by name (room types sorted within each).
    pub allotment_rules: Vec<innsync_core::allotment::AllotmentRule>,
    /// Distribution rules sorted by name.
    #[serde(default)]
    pub rules: Vec<CanonicalRule>,
    /// Partners sorted by name.
    #[serde(default)]
    pub partners: Vec<CanonicalPartner>,
}

impl CanonicalEnvironment {
    /// The canonical form of a validated environment.
    pub fn of(env: &Environment) -> Self {
        let mut servers: Vec<CanonicalServer> = env
            .servers
            .iter()
            .map(|s| CanonicalServer {
                code: s.code.to_string(),
                role: s.role.as_str().to_string(),
                url: s.url.as_str().to_string(),
                properties: s.properties.clone(),
                group: s.group.clone(),
                receive: s.receive.as_str().to_string(),
            })
            .collect();
        servers.sort_by(|a, b| a.code.cmp(&b.code));
        let mut timetable: Vec<CanonicalSlot> = env
            .timetable
            .iter()
            .map(|t| CanonicalSlot {
                tz: t.tz.name().to_string(),
                at: t.at.format("%H:%M").to_string(),
                master: t.master.to_string(),
            })
            .collect();
        timetable.sort();
        let mut allotment_rules = env.allotment_rules.clone();
        allotment_rules.sort_by(|a, b| a.name.cmp(&b.name));
        let mut rules: Vec<CanonicalRule> = env.rules.iter().map(CanonicalRule::of).collect();
        rules.sort_by(|a, b| a.name.cmp(&b.name));
        let mut partners: Vec<CanonicalPartner> = env
            .partners
            .iter()
            .map(|p| CanonicalPartner {
                name: p.name.clone(),
                url: p.url.as_str().to_string(),
            })
            .collect();
        partners.sort_by(|a, b| a.name.cmp(&b.name));
        Self {
            allotment_rules,
            rules,
            partners,
            format: CANONICAL_FORMAT,
            name: env.name.clone(),
            initial_master: env.initial_master.to_string(),
            servers,
            timetable,
        }
    }

    /// The exact bytes hashed: compact JSON of this form, whose field order is fixed by the code
    /// (not by a map), so every build of the same format version produces the same bytes.
    pub fn canonical_text(&self) -> String {
        use serde_json::{json, Value};
        let servers: Vec<Value> = self
            .servers
            .iter()
            .map(|s| {
                json!([
                    s.code,
                    s.role,
                    s.url,
                    s.properties,
                    s.group.clone().unwrap_or_default(),
                    s.receive
                ])
            })
            .collect();
        let slots: Vec<Value> = self
            .timetable
            .iter()
            .map(|t| json!([t.tz, t.at, t.master]))
            .collect();
        let rules: Vec<Value> = self
            .allotment_rules
            .iter()
            .map(|r| {
                json!([
                    r.name,
                    r.property,
                    r.room_types,
                    r.holder.to_string(),
                    r.units,
                    r.days_ahead,
                    r.release_days
                ])
            })
            .collect();
        let distribution: Vec<Value> = self
            .rules
            .iter()
            .map(|r| Value::Array(r.parts().into_iter().map(|(_, v)| v).collect()))
            .collect();
        let partners: Vec<Value> = self
            .partners
            .iter()
            .map(|p| json!([p.name, p.url]))
            .collect();
        json!([
            "innsync-environment",
            self.format,
            self.name,
            self.initial_master,
            servers,
            slots,
            rules,
            distribution,
            partners
        ])
        .to_string()
    }

    /// The sha256 of [`CanonicalEnvironment::canonical_text`].
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint(Sha256::digest(self.canonical_text().as_bytes()).into())
    }

    /// What differs between this environment (here) and a peer's (there), in a stable order and
    /// at most [`MAX_DIFFERENCES`] items: the body of "refusing to sync" errors.
    #[allow(
        clippy::too_many_lines,
        reason = "one comparison per section of the file, in file order"
    )]
    pub fn differences(&self, there: &Self) -> Vec<Difference> {
        let mut out = Vec::new();
        let mut push = |d: Difference| {
            if out.len() < MAX_DIFFERENCES {
                out.push(d);
            }
        };
        let field = |name: &'static str, here: &str, there: &str| Difference::Field {
            field: name,
            here: here.to_string(),
            there: there.to_string(),
        };
        if self.format != there.format {
            push(field(
                "format",
                &self.format.to_string(),
                &there.format.to_string(),
            ));
        }
        if self.name != there.name {
            push(field("name", &self.name, &there.name));
        }
        if self.initial_master != there.initial_master {
            push(field(
                "initial_master",
                &self.initial_master,
                &there.initial_master,
            ));
        }
        let here_servers: BTreeMap<&str, &CanonicalServer> =
            self.servers.iter().map(|s| (s.code.as_str(), s)).collect();
        let there_servers: BTreeMap<&str, &CanonicalServer> =
            there.servers.iter().map(|s| (s.code.as_str(), s)).collect();
        for (code, h) in &here_servers {
            let Some(t) = there_servers.get(code) else {
                push(Difference::ServerOnlyHere(code.to_string()));
                continue;
            };
            let server_field =
                |name: &'static str, here: String, there: String| Difference::ServerField {
                    code: code.to_string(),
                    field: name,
                    here,
                    there,
                };
            if h.role != t.role {
                push(server_field("role", h.role.clone(), t.role.clone()));
            }
            if h.url != t.url {
                push(server_field("url", h.url.clone(), t.url.clone()));
            }
            if h.properties != t.properties {
                push(server_field(
                    "properties",
                    h.properties.join(","),
                    t.properties.join(","),
                ));
            }
            if h.group != t.group {
                push(server_field(
                    "group",
                    h.group.clone().unwrap_or_default(),
                    t.group.clone().unwrap_or_default(),
                ));
            }
            if h.receive != t.receive {
                push(server_field(
                    "receive",
                    h.receive.clone(),
                    t.receive.clone(),
                ));
            }
        }
        for code in there_servers.keys() {
            if !here_servers.contains_key(code) {
                push(Difference::ServerOnlyThere(code.to_string()));
            }
        }
        for slot in &self.timetable {
            if !there.timetable.contains(slot) {
                push(Difference::SlotOnlyHere(slot.clone()));
            }
        }
        for slot in &there.timetable {
            if !self.timetable.contains(slot) {
                push(Difference::SlotOnlyThere(slot.clone()));
            }
        }
        for r in &self.allotment_rules {
            match there.allotment_rules.iter().find(|t| t.name == r.name) {
                None => push(Difference::RuleOnlyHere(r.name.clone())),
                Some(t) if t != r => push(Difference::RuleDiffers(r.name.clone())),
                Some(_) => {}
            }
        }
        for t in &there.allotment_rules {
            if !self.allotment_rules.iter().any(|r| r.name == t.name) {
                push(Difference::RuleOnlyThere(t.name.clone()));
            }
        }
        for r in &self.rules {
            match there.rules.iter().find(|t| t.name == r.name) {
                None => push(Difference::DistributionRuleOnlyHere(r.name.clone())),
                Some(t) if t != r => {
                    let fields = r
                        .parts()
                        .into_iter()
                        .zip(t.parts())
                        .filter(|(a, b)| a.1 != b.1)
                        .map(|(a, _)| a.0)
                        .collect();
                    push(Difference::DistributionRuleDiffers {
                        name: r.name.clone(),
                        fields,
                    })
                }
                Some(_) => {}
            }
        }
        for t in &there.rules {
            if !self.rules.iter().any(|r| r.name == t.name) {
                push(Difference::DistributionRuleOnlyThere(t.name.clone()));
            }
        }
        for h in &self.partners {
            match there.partners.iter().find(|t| t.name == h.name) {
                None => push(Difference::PartnerOnlyHere(h.name.clone())),
                Some(t) if t.url != h.url => push(Difference::PartnerDiffers {
                    name: h.name.clone(),
                    here: h.url.clone(),
                    there: t.url.clone(),
                }),
                Some(_) => {}
            }
        }
        for t in &there.partners {
            if !self.partners.iter().any(|h| h.name == t.name) {
                push(Difference::PartnerOnlyThere(t.name.clone()));
            }
        }
        out
    }
}

/// One difference between two environment files, phrased for an operator.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Difference {
    /// A top-level value differs.
    #[error("{field} is {here:?} here but {there:?} there")]
    Field {
        /// The key.
        field: &'static str,
        /// Value here.
        here: String,
        /// Value on the peer.
        there: String,
    },
    /// A server listed only here.
    #[error("server {0} is listed here but not there")]
    ServerOnlyHere(String),
    /// A server listed only on the peer.
    #[error("server {0} is listed there but not here")]
    ServerOnlyThere(String),
    /// A server's setting differs.
    #[error("server {code}: {field} is {here:?} here but {there:?} there")]
    ServerField {
        /// The server.
        code: String,
        /// The key.
        field: &'static str,
        /// Value here.
        here: String,
        /// Value on the peer.
        there: String,
    },
    /// A timetable entry only here.
    #[error("timetable entry {0} is here but not there")]
    SlotOnlyHere(CanonicalSlot),
    /// A timetable entry only on the peer.
    #[error("timetable entry {0} is there but not here")]
    SlotOnlyThere(CanonicalSlot),
    /// An allotment rule only here.
    #[error("allotment rule {0:?} is here but not there")]
    RuleOnlyHere(String),
    /// An allotment rule only on the peer.
    #[error("allotment rule {0:?} is there but not here")]
    RuleOnlyThere(String),
    /// An allotment rule that says something else there.
    #[error("allotment rule {0:?} differs between here and there")]
    RuleDiffers(String),
    /// A distribution rule only here.
    #[error("distribution rule {0:?} is here but not there")]
    DistributionRuleOnlyHere(String),
    /// A distribution rule only on the peer.
    #[error("distribution rule {0:?} is there but not here")]
    DistributionRuleOnlyThere(String),
    /// A distribution rule that says something else there.
    #[error("distribution rule {name:?} differs between here and there ({})", .fields.join(", "))]
    DistributionRuleDiffers {
        /// The rule.
        name: String,
        /// The keys that differ.
        fields: Vec<&'static str>,
    },
    /// A partner only here.
    #[error("partner {0:?} is here but not there")]
    PartnerOnlyHere(String),
    /// A partner only on the peer.
    #[error("partner {0:?} is there but not here")]
    PartnerOnlyThere(String),
    /// A partner at another URL there.
    #[error("partner {name:?}: url is {here:?} here but {there:?} there")]
    PartnerDiffers {
        /// The partner.
        name: String,
        /// URL here.
        here: String,
        /// URL there.
        there: String,
    },
}

/// The sha256 of an environment's canonical form, shown and sent as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// Parses 64 hex digits, as sent by a peer.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)
            .map_err(|e| format!("a fingerprint is 64 hex digits: {e}"))?;
        Ok(Self(out))
    }
}

impl TryFrom<String> for Fingerprint {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<Fingerprint> for String {
    fn from(f: Fingerprint) -> String {
        f.to_string()
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", &hex::encode(&self.0[..6]))
    }
}
