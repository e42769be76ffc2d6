//! The canonical form of an environment and its fingerprint.
//!
//! Servers compare fingerprints before syncing and refuse a peer whose file means something else;
//! hashing a canonical form instead of the file's bytes means whitespace, comments, key order and
//! entry order do not count. The secret is left out: it is checked by authentication, and a hash
//! of it sent in the clear would invite offline guessing.

use super::Environment;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// Version of the canonical form; bumped when its meaning changes, so old and new servers differ.
pub const CANONICAL_FORMAT: u32 = 2;
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
        Self {
            allotment_rules,
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
                    s.group.clone().unwrap_or_default()
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
        json!([
            "innsync-environment",
            self.format,
            self.name,
            self.initial_master,
            servers,
            slots,
            rules
        ])
        .to_string()
    }

    /// The sha256 of [`CanonicalEnvironment::canonical_text`].
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint(Sha256::digest(self.canonical_text().as_bytes()).into())
    }

    /// What differs between this environment (here) and a peer's (there), in a stable order and
    /// at most [`MAX_DIFFERENCES`] items: the body of "refusing to sync" errors.
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
