//! What can be wrong with an environment file, each problem with the line and column where it is,
//! so an operator fixes the file at once instead of guessing.

use std::fmt;
use std::path::PathBuf;

/// A position in the file, 1-based, columns counted in characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1, in characters.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` in `src`; offsets past the end land on the last character.
    pub fn of_offset(src: &str, offset: usize) -> Self {
        let offset = offset.min(src.len());
        let mut cut = offset;
        while !src.is_char_boundary(cut) {
            cut -= 1;
        }
        let before = &src[..cut];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Self { line, column }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// One reason the file is refused. The texts name the rule, so the fix is obvious.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// Not TOML at all.
    #[error("not valid TOML: {0}")]
    Syntax(String),
    /// Bigger than any real environment file.
    #[error("the file is {bytes} bytes; at most {max} are accepted")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// A key the format does not define (often a typo, which would otherwise be ignored silently).
    #[error("unknown key `{key}` in {section}; expected one of: {expected}")]
    UnknownKey {
        /// The key found.
        key: String,
        /// Where (`the top level`, `[[servers]]`, `[[timetable]]`).
        section: &'static str,
        /// The keys allowed there.
        expected: String,
    },
    /// A required key is absent.
    #[error("missing key `{key}` in {section}")]
    MissingKey {
        /// The key.
        key: &'static str,
        /// Where.
        section: &'static str,
    },
    /// A value of the wrong TOML type.
    #[error("`{key}` must be {expected}, not {found}")]
    WrongType {
        /// The key.
        key: String,
        /// What it must be.
        expected: &'static str,
        /// What it is.
        found: &'static str,
    },
    /// A text that breaks its rule (empty, too long, bad characters).
    #[error("`{key}` {rule}; got {got:?}")]
    BadText {
        /// The key.
        key: &'static str,
        /// The rule broken.
        rule: &'static str,
        /// The value.
        got: String,
    },
    /// The shared secret is too short to authenticate servers.
    #[error("`secret` is {chars} characters long; at least {min} are required")]
    SecretTooShort {
        /// Its length.
        chars: usize,
        /// The minimum.
        min: usize,
    },
    /// Not a server code.
    #[error("bad server code: {0}")]
    BadServerCode(String),
    /// Not a role.
    #[error("`role` must be web, reservation, property or archive; got {0:?}")]
    BadRole(String),
    /// Not a usable server URL.
    #[error("bad `url` {url:?}: {reason}")]
    BadUrl {
        /// The value.
        url: String,
        /// Why.
        reason: String,
    },
    /// Two servers share a code.
    #[error("server code {code} is listed twice (first at line {first_line})")]
    DuplicateServerCode {
        /// The code.
        code: String,
        /// Line of the first.
        first_line: usize,
    },
    /// Two servers share a URL.
    #[error("url {url} is used by both {first} and {second}")]
    DuplicateUrl {
        /// The normalised URL.
        url: String,
        /// The first server.
        first: String,
        /// The second server.
        second: String,
    },
    /// Not a property code.
    #[error("bad property code {0:?}: 1 to 16 upper-case letters, digits, - or _")]
    BadPropertyCode(String),
    /// A property owned by two property servers (or listed twice by one).
    #[error("property {property} is listed by {first} and again by {second}; one property server owns it")]
    PropertyListedTwice {
        /// The property.
        property: String,
        /// The first server listing it.
        first: String,
        /// The second.
        second: String,
    },
    /// `properties` on a server that is not a property server.
    #[error("server {server} is a {role} server; only property servers own properties")]
    PropertiesOnNonPropertyServer {
        /// The server.
        server: String,
        /// Its role.
        role: &'static str,
    },
    /// A master named that is not in `[[servers]]`.
    #[error("`{key}` names {code}, which is not in [[servers]]")]
    UnknownServer {
        /// `initial_master` or `master`.
        key: &'static str,
        /// The code.
        code: String,
    },
    /// Only web and reservation servers may be master.
    #[error(
        "`{key}` names {code}, a {role} server; only web and reservation servers may be master"
    )]
    NotEligibleForMaster {
        /// `initial_master` or `master`.
        key: &'static str,
        /// The code.
        code: String,
        /// Its role.
        role: &'static str,
    },
    /// Not an `HH:MM` time.
    #[error("`at` must be a time of day as HH:MM (00:00 to 23:59); got {0:?}")]
    BadTime(String),
    /// Not an IANA time zone.
    #[error("`tz` must be an IANA time zone such as Africa/Johannesburg; got {0:?}")]
    BadTimeZone(String),
    /// Two timetable entries at the same local minute in the same zone.
    #[error("two timetable entries at {at} {tz} (the first at line {first_line}); a minute has one master")]
    SameLocalMinute {
        /// The time.
        at: String,
        /// The zone.
        tz: String,
        /// Line of the first.
        first_line: usize,
    },
    /// An allotment holder that is neither `env` nor a server code.
    #[error("`holder` must be env or a server code such as RS; got {0:?}")]
    BadHolder(String),
    /// A whole number out of its range.
    #[error("`{key}` must be a whole number from {min} to {max}; got {got}")]
    BadNumber {
        /// The key.
        key: &'static str,
        /// Smallest allowed.
        min: u32,
        /// Largest allowed.
        max: u32,
        /// The value.
        got: i64,
    },
    /// Two rules with one name.
    #[error("allotment rule {name:?} is declared twice (first at line {first_line})")]
    DuplicateRuleName {
        /// The name.
        name: String,
        /// Line of the first.
        first_line: usize,
    },
    /// The archive never sells, so it holds no allotments.
    #[error("`holder` names {code}, a {role} server; it cannot hold allotments")]
    NotEligibleToHold {
        /// The code.
        code: String,
        /// Its role.
        role: &'static str,
    },
    /// A rule giving the owner's units to the owner itself.
    #[error("`holder` {holder} owns {property} and holds its rooms already; name another holder")]
    HolderIsOwner {
        /// The holder.
        holder: String,
        /// The property.
        property: String,
    },
    /// Two rules for the same property, holder and room type would both top it up.
    #[error("another rule (line {first_line}) already keeps {property} units for {holder} on some of these room types")]
    OverlappingRules {
        /// The property.
        property: String,
        /// The holder.
        holder: String,
        /// Line of the first rule.
        first_line: usize,
    },
    /// A release window as long as the horizon leaves nothing to top up.
    #[error("`release_days` ({release_days}) must be less than `days_ahead` ({days_ahead})")]
    ReleaseBeyondHorizon {
        /// The window.
        release_days: u32,
        /// The horizon.
        days_ahead: u32,
    },
    /// A distribution rule, a partner or a server's `receive` that breaks its rule.
    #[error(transparent)]
    Rule(#[from] super::rule_problem::RuleProblem),
    /// More entries than [`crate::limits`] allows.
    #[error("too many {what}: at most {max}")]
    TooMany {
        /// What.
        what: &'static str,
        /// The limit.
        max: usize,
    },
}

/// A problem and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    /// Where.
    pub at: Position,
    /// What.
    pub problem: Problem,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.problem)
    }
}

/// Why an environment file was refused: every problem found (up to [`crate::limits::MAX_PROBLEMS`]),
/// in file order, so one edit-and-restart fixes them all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The problems, sorted by position; never empty.
    pub problems: Vec<Located>,
}

impl ConfigError {
    /// The first problem, for tests and short messages.
    pub fn first(&self) -> Option<&Located> {
        self.problems.first()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid environment file ({} problem",
            self.problems.len()
        )?;
        if self.problems.len() != 1 {
            f.write_str("s")?;
        }
        f.write_str(")")?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// Why an environment file cannot be used: it could not be read (by the caller), or it is
/// invalid ([`super::Environment::from_file`]).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Reading failed.
    #[error("cannot read environment file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The content is refused.
    #[error("{path}: {error}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The problems.
        error: ConfigError,
    },
}
