//! `environment.toml`: the one file, identical on every server, that lists the servers of an
//! environment, the properties each property server owns, the initial master, the timetable,
//! the standing allotment rules, the distribution rules and the partner environments.
//!
//! [`Environment::parse`] refuses a bad file with every problem's line and column.
//! [`Environment::fingerprint`] is a hash of the file's meaning (not its bytes), which servers
//! exchange so that two servers with different files refuse to sync, and
//! [`CanonicalEnvironment::differences`] names what differs for the error message.

mod allotment_rules;
mod canonical;
mod error;
mod parse;
mod partners;
mod rule_map;
mod rule_problem;
mod rules;
mod toml_string;
mod validate;

pub use allotment_rules::DEFAULT_DAYS_AHEAD;
pub use canonical::{
    CanonicalEnvironment, CanonicalMap, CanonicalPartner, CanonicalRule, CanonicalServer,
    CanonicalSlot, Difference, Fingerprint, CANONICAL_FORMAT, MAX_DIFFERENCES,
};
pub use error::{ConfigError, LoadError, Located, Position, Problem};
pub use rule_problem::RuleProblem;

#[cfg(doc)]
use crate::limits::MAX_FILE_BYTES;
use crate::rules::{Partner, Receive, Rule};
use chrono::NaiveTime;
use chrono_tz::Tz;
use innsync_core::ServerCode;
use std::fmt;
use std::path::Path;
use url::Url;

/// What a server is for; it decides what the server may own and whether it may be master.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerRole {
    /// The central online server.
    Web,
    /// An office server, possibly offline for hours.
    Reservation,
    /// A lodge's server: owns its properties' bookings and inventory permanently.
    Property,
    /// Receives closed records and never edits them.
    Archive,
}

impl ServerRole {
    /// Every role, for parsing and tests.
    pub const ALL: [ServerRole; 4] = [Self::Web, Self::Reservation, Self::Property, Self::Archive];

    /// The name used in the file and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Reservation => "reservation",
            Self::Property => "property",
            Self::Archive => "archive",
        }
    }

    /// Parses the name used in the file.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether a server of this role may hold allotments and sell from them: the archive
    /// never sells.
    pub fn may_hold_allotments(self) -> bool {
        !matches!(self, Self::Archive)
    }

    /// Whether a server of this role may hold the master token: property servers are masters of
    /// their own data only, and the archive never edits.
    pub fn may_be_master(self) -> bool {
        matches!(self, Self::Web | Self::Reservation)
    }
}

impl fmt::Display for ServerRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One server of the environment, as listed in `[[servers]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerEntry {
    /// Its code, prefix of every id it creates.
    pub code: ServerCode,
    /// What it is for.
    pub role: ServerRole,
    /// Where its peers reach it (normalised: lower-case host, default port dropped).
    pub url: Url,
    /// The properties it owns (property servers only), sorted.
    pub properties: Vec<String>,
    /// A named group for distribution rules ("to all offices").
    pub group: Option<String>,
    /// Which records it takes by replication: everything, or (a property server) its own
    /// properties' records and the shared reference data ([`crate::rules::receives`]).
    pub receive: Receive,
}

/// One `[[timetable]]` entry: at this local time, this server becomes master.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimetableEntry {
    /// Local time of day, to the minute.
    pub at: NaiveTime,
    /// The zone `at` is read in; DST is applied per date.
    pub tz: Tz,
    /// The server that should be master from then on.
    pub master: ServerCode,
}

/// The shared secret servers authenticate to each other with; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the authentication code only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The server named on the command line is not in the environment file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("server {code} is not listed in environment {environment} (servers: {})", .listed.join(", "))]
pub struct NotInEnvironment {
    /// The code given.
    pub code: ServerCode,
    /// The environment's name.
    pub environment: String,
    /// The codes the file lists.
    pub listed: Vec<String>,
}

/// A validated environment: every invariant of the file format holds (see [`Problem`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Environment {
    /// The environment's name.
    pub name: String,
    /// The shared secret: what this server proves itself with to its peers.
    pub secret: Secret,
    /// A second secret accepted from peers (never sent) while the secret is rotated, so the
    /// servers can move to a new secret one by one without refusing each other: first every
    /// file gets the new secret here, then `secret` and this swap, then this goes.
    pub rotating_secret: Option<Secret>,
    /// Who is master at epoch 1, before any handover.
    pub initial_master: ServerCode,
    /// The servers, in file order.
    pub servers: Vec<ServerEntry>,
    /// The master timetable, in file order.
    pub timetable: Vec<TimetableEntry>,
    /// Standing allotment rules, in file order.
    pub allotment_rules: Vec<innsync_core::allotment::AllotmentRule>,
    /// Distribution rules, in file order (the order [`crate::rules::plan`] plans in).
    pub rules: Vec<Rule>,
    /// Partner environments rules may copy records to, in file order.
    pub partners: Vec<Partner>,
}

impl Environment {
    /// Parses and validates the text of an `environment.toml`.
    pub fn parse(src: &str) -> Result<Self, ConfigError> {
        parse::parse(src)
    }

    /// Validates the content of the `environment.toml` at `path`, read by the caller (this
    /// crate does no I/O; more than [`MAX_FILE_BYTES`] need not be read: the file is refused as
    /// too large); every error names the path.
    pub fn from_file(path: &Path, bytes: Vec<u8>) -> Result<Self, LoadError> {
        let read_err = |source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        };
        let text = String::from_utf8(bytes)
            .map_err(|e| read_err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
        Self::parse(&text).map_err(|error| LoadError::Invalid {
            path: path.to_path_buf(),
            error,
        })
    }

    /// The server with this code, if it is part of the environment.
    pub fn server(&self, code: &ServerCode) -> Option<&ServerEntry> {
        self.servers.iter().find(|s| &s.code == code)
    }

    /// The entry of the server this process was started as (`--server`), refused when the file
    /// does not list it: a server outside the environment must not sync with it.
    pub fn require_server(&self, code: &ServerCode) -> Result<&ServerEntry, NotInEnvironment> {
        self.server(code).ok_or_else(|| NotInEnvironment {
            code: code.clone(),
            environment: self.name.clone(),
            listed: self.servers.iter().map(|s| s.code.to_string()).collect(),
        })
    }

    /// What differs between this environment and another, for "refusing to sync" errors.
    pub fn differences(&self, other: &Environment) -> Vec<Difference> {
        self.canonical().differences(&other.canonical())
    }

    /// The partner named `name`, if declared.
    pub fn partner(&self, name: &str) -> Option<&Partner> {
        self.partners.iter().find(|p| p.name == name)
    }

    /// The distribution rule named `name`, if declared.
    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// The property server that owns `property`, if any; otherwise the property is env-owned.
    pub fn property_owner(&self, property: &str) -> Option<&ServerCode> {
        self.servers
            .iter()
            .find(|s| s.properties.iter().any(|p| p == property))
            .map(|s| &s.code)
    }

    /// Whether `code` is a server that may hold the master token (web or reservation).
    pub fn may_be_master(&self, code: &ServerCode) -> bool {
        self.server(code).is_some_and(|s| s.role.may_be_master())
    }

    /// Every server except `me`: the peers a server replicates with.
    pub fn peers<'a>(&'a self, me: &'a ServerCode) -> impl Iterator<Item = &'a ServerEntry> + 'a {
        self.servers.iter().filter(move |s| &s.code != me)
    }

    /// The servers of a distribution group, in file order.
    pub fn group<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a ServerEntry> + 'a {
        self.servers
            .iter()
            .filter(move |s| s.group.as_deref() == Some(name))
    }

    /// The environment a server runs when started without a file: itself alone, its own master.
    pub fn single(code: ServerCode, url: Url, secret: String) -> Self {
        Self {
            name: format!("{code}-alone"),
            secret: Secret(secret),
            rotating_secret: None,
            initial_master: code.clone(),
            servers: vec![ServerEntry {
                code,
                role: ServerRole::Web,
                url,
                properties: Vec::new(),
                group: None,
                receive: Receive::All,
            }],
            timetable: Vec::new(),
            allotment_rules: Vec::new(),
            rules: Vec::new(),
            partners: Vec::new(),
        }
    }

    /// The meaning of the file in a canonical form: what the fingerprint hashes and what peers
    /// exchange to explain a mismatch. It leaves out the secret and the partners' tokens.
    pub fn canonical(&self) -> CanonicalEnvironment {
        CanonicalEnvironment::of(self)
    }

    /// The fingerprint of [`Environment::canonical`]: equal on two servers iff their files mean
    /// the same environment (whitespace, comments, key and entry order do not count).
    pub fn fingerprint(&self) -> Fingerprint {
        self.canonical().fingerprint()
    }
}

#[cfg(test)]
pub(crate) mod rule_tests;
#[cfg(test)]
mod tests;
