//! Distribution rules (DESIGN.md §5, after DSO): which records go where, how, and when, as
//! declared in `environment.toml` (`[[rules]]`, `[[partners]]`, `receive` on `[[servers]]`), and
//! the pure decisions the server's queue runs on:
//!
//! - [`plan`]: for one record event on one server, every operation the rules ask for, with its
//!   target resolved and the earliest time it may run;
//! - [`receives`]: whether a record is for a server under partial replication;
//! - [`Expr`]: the language of conditions and computed fields; [`Mapping`]: a copy's fields;
//! - [`schema`]: every kind's fields, so that the file is refused at start when a rule names a
//!   field, a server, a group or a partner that does not exist, moves ownership round a cycle,
//!   or maps a copy that would lose a required field (see `config/rules.rs`).
//!
//! Nothing here does I/O: the server feeds events and the clock, and runs what comes out.

pub(crate) mod cycles;
pub mod expr;
mod mapping;
mod plan;
mod receive;
pub mod schema;

#[cfg(test)]
mod plan_tests;

pub use expr::{Expr, ExprError, Value};
pub use mapping::{MapError, Mapping};
pub use plan::{plan, Event, PlannedOp, Resolved};
pub use receive::receives;

use innsync_core::{RecordKind, ServerCode};
use std::fmt;
use url::Url;

/// A closed set of choices named in the file, for the reader's one "must be one of" helper.
pub(crate) trait Choice: Sized + Copy {
    /// The choice of this name.
    fn named(s: &str) -> Option<Self>;
    /// Every name, for the message.
    fn names() -> String;
}

/// Names of a closed set of choices, as written in the file; one implementation for every enum.
macro_rules! named {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in the order the file format lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used in the file.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses the name used in the file.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }

            /// The names, for "must be one of" messages.
            pub fn choices() -> String {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                names.join(", ")
            }
        }

        impl Choice for $name {
            fn named(s: &str) -> Option<Self> {
                Self::parse(s)
            }
            fn names() -> String {
                Self::choices()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named! {
    /// Which events of a record a rule reacts to.
    Trigger {
        /// The record was created.
        Create = "create",
        /// The record was updated.
        Update = "update",
        /// Created or updated.
        Change = "change",
        /// Checked periodically over existing records (conditions on `today`).
        Schedule = "schedule",
    }
}

named! {
    /// What a rule asks the target to do.
    Operation {
        /// Send the record (a copy, or the record with its ownership).
        Transfer = "transfer",
        /// Send later changes to the copies already sent (data_only).
        Update = "update",
        /// Give ownership back to the target (data_and_ownership).
        Return = "return",
        /// Delete the target's copy.
        Delete = "delete",
    }
}

named! {
    /// How a transferred record relates to its source.
    Mode {
        /// A copy; the source keeps ownership and may send it updates.
        DataOnly = "data_only",
        /// The record itself: the target becomes its owner.
        DataAndOwnership = "data_and_ownership",
        /// A new record of the target's, not linked to the source: never updated.
        IndependentCopy = "independent_copy",
    }
}

named! {
    /// When later changes of a transferred record are sent.
    UpdatePolicy {
        /// At once.
        Immediately = "immediately",
        /// Gathered, at the next full hour.
        Hourly = "hourly",
        /// Gathered, at the next midnight UTC.
        Daily = "daily",
        /// When ownership is returned.
        OnReturn = "on_return",
        /// Never.
        Never = "never",
    }
}

named! {
    /// What the target does with a copy that matches a record it has.
    DuplicatePolicy {
        /// Refuse the copy (the operation fails and waits for an operator).
        Error = "error",
        /// Store it under a new id.
        NewId = "new_id",
        /// Overwrite the existing record.
        Overwrite = "overwrite",
    }
}

named! {
    /// Which records a server receives by replication.
    Receive {
        /// Everything (the default).
        All = "all",
        /// A property server: only its own properties' records and the shared reference data.
        Own = "own",
    }
}

/// Where a rule sends records.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// One server of the environment (`"RS"`).
    Server(ServerCode),
    /// Every server of a group (`"group:offices"`) but the sender.
    Group(String),
    /// Every server but the sender (broadcast).
    All,
    /// The property server that owns the record's property.
    Owner,
    /// Another innsync environment (`"partner:safari"`).
    Partner(String),
}

impl Target {
    /// Parses the file's text; the names inside are checked by the caller.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "all" => Self::All,
            "owner" => Self::Owner,
            _ => {
                if let Some(g) = s.strip_prefix("group:") {
                    Self::Group(g.to_string())
                } else if let Some(p) = s.strip_prefix("partner:") {
                    Self::Partner(p.to_string())
                } else {
                    Self::Server(ServerCode::parse(s).ok()?)
                }
            }
        })
    }

    /// Whether it may resolve to more than one server.
    pub fn is_many(&self) -> bool {
        matches!(self, Self::Group(_) | Self::All)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Server(c) => write!(f, "{c}"),
            Self::Group(g) => write!(f, "group:{g}"),
            Self::All => f.write_str("all"),
            Self::Owner => f.write_str("owner"),
            Self::Partner(p) => write!(f, "partner:{p}"),
        }
    }
}

/// One `[[rules]]` entry, validated against the whole file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Unique among rules; names the rule in operations, errors and the fingerprint's differences.
    pub name: String,
    /// The kind of record it is about.
    pub kind: RecordKind,
    /// Which events it reacts to.
    pub on: Trigger,
    /// Which records of the kind (none: all of them).
    pub condition: Option<Expr>,
    /// What it asks for.
    pub operation: Operation,
    /// Where.
    pub target: Target,
    /// How the record relates to its copy.
    pub mode: Mode,
    /// When later changes are sent.
    pub updates: UpdatePolicy,
    /// The queue pool its operations run in (FIFO within a pool).
    pub pool: String,
    /// How a copy's fields are made (copies only).
    pub mapping: Option<Mapping>,
    /// What the target does with a duplicate.
    pub duplicates: DuplicatePolicy,
    /// The target's fields that identify a duplicate (sorted; empty: the target's own rule).
    pub match_fields: Vec<String>,
}

impl Rule {
    /// The kind of record the target receives: the mapping's, else the rule's.
    pub fn target_kind(&self) -> RecordKind {
        self.mapping.as_ref().map_or(self.kind, |m| m.to_kind)
    }
}

/// The pool a rule's operations run in when it names none.
pub const DEFAULT_POOL: &str = "default";

/// An API token another environment issued to us; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PartnerToken(pub(crate) String);

impl PartnerToken {
    /// The token itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PartnerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PartnerToken(…)")
    }
}

/// Another innsync environment records may be copied to (`[[partners]]`). Ownership never
/// leaves the environment, so a partner only ever receives copies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partner {
    /// Unique among partners; rules name it as `partner:NAME`.
    pub name: String,
    /// A server of the partner environment (normalised like a server's URL).
    pub url: Url,
    /// How we authenticate there (a user of theirs); excluded from the fingerprint.
    pub token: PartnerToken,
}
