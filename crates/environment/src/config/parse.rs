//! Reading the TOML document into located drafts: every key checked against the format, every
//! value against its own rule. Rules that relate several entries live in `validate`.

use super::error::{ConfigError, Located, Position, Problem};
use super::validate;
use super::{Environment, ServerRole};
use crate::limits::{MAX_FILE_BYTES, MAX_PROBLEMS, MAX_PROPERTIES_PER_SERVER};
use crate::rules::Receive;
use chrono::NaiveTime;
use chrono_tz::Tz;
use innsync_core::limits::MAX_CODE_LEN;
use innsync_core::ServerCode;
use std::ops::Range;
use toml_edit::{Document, Item, TableLike};
use url::Url;

const TOP_KEYS: &[&str] = &[
    "name",
    "secret",
    "rotating_secret",
    "initial_master",
    "servers",
    "timetable",
    "allotment_rules",
    "partners",
    "rules",
];
const SERVER_KEYS: &[&str] = &["code", "role", "url", "properties", "group", "receive"];
const SLOT_KEYS: &[&str] = &["at", "tz", "master"];
const TOP: &str = "the top level";
const SERVERS: &str = "[[servers]]";
const TIMETABLE: &str = "[[timetable]]";

/// A value and where it was written.
#[derive(Clone, Debug)]
pub(super) struct At<T> {
    pub value: T,
    pub pos: Position,
}

/// A `[[servers]]` entry as read; `None` where the value was missing or bad (already reported).
#[derive(Debug)]
pub(super) struct DraftServer {
    pub pos: Position,
    pub code: Option<At<ServerCode>>,
    pub role: Option<ServerRole>,
    pub url: Option<At<Url>>,
    pub properties: Option<At<Vec<At<String>>>>,
    pub group: Option<String>,
    /// `None` when absent (receive all) or bad (already reported).
    pub receive: Option<At<Receive>>,
}

/// A `[[timetable]]` entry as read.
#[derive(Debug)]
pub(super) struct DraftSlot {
    pub pos: Position,
    pub at: Option<NaiveTime>,
    pub tz: Option<Tz>,
    pub master: Option<At<ServerCode>>,
}

/// The whole file as read.
#[derive(Debug, Default)]
pub(super) struct Draft {
    pub name: Option<String>,
    pub secret: Option<At<String>>,
    pub rotating_secret: Option<At<String>>,
    pub initial_master: Option<At<ServerCode>>,
    pub servers: Vec<DraftServer>,
    pub timetable: Vec<DraftSlot>,
    pub allotment_rules: Vec<super::allotment_rules::DraftRule>,
    pub partners: Vec<super::partners::DraftPartner>,
    pub rules: Vec<super::rules::DraftRule>,
}

/// Collects problems with their positions in the source.
pub(super) struct Problems<'s> {
    src: &'s str,
    list: Vec<Located>,
    /// Every problem recorded, also those beyond the list's limit.
    total: usize,
}

impl<'s> Problems<'s> {
    fn new(src: &'s str) -> Self {
        Self {
            src,
            list: Vec::new(),
            total: 0,
        }
    }

    /// The position of a span's start; the file's start when the span is unknown.
    pub fn pos(&self, span: Option<Range<usize>>) -> Position {
        span.map_or(Position { line: 1, column: 1 }, |s| {
            Position::of_offset(self.src, s.start)
        })
    }

    /// The position of byte `offset` of a string value's decoded text `decoded`, the value
    /// being written at `span`: an expression's problem is shown where it is inside the string.
    /// When the string cannot be followed character by character, its start.
    pub fn pos_in_str(&self, span: Option<Range<usize>>, decoded: &str, offset: usize) -> Position {
        let Some(span) = span else {
            return self.pos(None);
        };
        let inner = self
            .src
            .get(span.clone())
            .and_then(|raw| super::toml_string::raw_offset(raw, decoded, offset))
            .unwrap_or(0);
        Position::of_offset(self.src, span.start + inner)
    }

    /// Records a problem at a position.
    pub fn add(&mut self, pos: Position, problem: Problem) {
        self.total += 1;
        // Bounded: past the limit, later problems are mostly consequences of earlier ones.
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(Located { at: pos, problem });
        }
    }

    /// How many problems were recorded so far: a reader compares counts to know whether the
    /// values it just read had any.
    pub fn count(&self) -> usize {
        self.total
    }

    /// The environment when no problem was found, else every problem in file order.
    fn finish(mut self, env: Option<Environment>) -> Result<Environment, ConfigError> {
        match env {
            Some(env) if self.list.is_empty() => Ok(env),
            _ => {
                if self.list.is_empty() {
                    // `validate::check` records a problem for every missing value; this is a
                    // guard against a future rule forgetting to.
                    self.list.push(Located {
                        at: Position { line: 1, column: 1 },
                        problem: Problem::Syntax("incomplete environment".to_string()),
                    });
                }
                self.list.sort_by_key(|l| l.at);
                self.list.truncate(MAX_PROBLEMS);
                Err(ConfigError {
                    problems: self.list,
                })
            }
        }
    }
}

/// Parses and validates the file.
pub(super) fn parse(src: &str) -> Result<Environment, ConfigError> {
    let mut problems = Problems::new(src);
    if src.len() > MAX_FILE_BYTES {
        problems.add(
            Position { line: 1, column: 1 },
            Problem::TooLarge {
                bytes: src.len(),
                max: MAX_FILE_BYTES,
            },
        );
        return problems.finish(None);
    }
    let doc = match Document::parse(src) {
        Ok(doc) => doc,
        Err(e) => {
            let pos = problems.pos(e.span());
            problems.add(pos, Problem::Syntax(e.message().trim().to_string()));
            return problems.finish(None);
        }
    };
    let draft = read_document(&doc, &mut problems);
    let env = validate::check(draft, &mut problems);
    problems.finish(env)
}

fn read_document(doc: &Document<&str>, p: &mut Problems<'_>) -> Draft {
    let root = doc.as_table();
    let root_pos = Position { line: 1, column: 1 };
    check_keys(root, TOP_KEYS, TOP, p);
    let mut draft = Draft {
        name: required_name(root, "name", TOP, root_pos, p).map(|n| n.value),
        secret: required_str(root, "secret", TOP, root_pos, p),
        rotating_secret: optional_str(root, "rotating_secret", p),
        initial_master: required_str(root, "initial_master", TOP, root_pos, p)
            .and_then(|s| server_code(s, p)),
        ..Draft::default()
    };
    for (table, pos) in entries(root, "servers", p) {
        draft.servers.push(read_server(table, pos, p));
    }
    for (table, pos) in entries(root, "timetable", p) {
        draft.timetable.push(read_slot(table, pos, p));
    }
    for (table, pos) in entries(root, "allotment_rules", p) {
        draft
            .allotment_rules
            .push(super::allotment_rules::read(table, pos, p));
    }
    for (table, pos) in entries(root, "partners", p) {
        draft.partners.push(super::partners::read(table, pos, p));
    }
    for (table, pos) in entries(root, "rules", p) {
        draft.rules.push(super::rules::read(table, pos, p));
    }
    draft
}

/// The tables of an array of tables (`[[servers]]`) or of an inline array (`servers = [{..}]`).
fn entries<'d>(
    root: &'d dyn TableLike,
    key: &'static str,
    p: &mut Problems<'_>,
) -> Vec<(&'d dyn TableLike, Position)> {
    let Some(item) = root.get(key) else {
        return Vec::new();
    };
    if let Some(aot) = item.as_array_of_tables() {
        return aot
            .iter()
            .map(|t| (t as &dyn TableLike, p.pos(t.span())))
            .collect();
    }
    if let Some(array) = item.as_array() {
        let mut out = Vec::new();
        for v in array.iter() {
            match v.as_inline_table() {
                Some(t) => out.push((t as &dyn TableLike, p.pos(v.span()))),
                None => {
                    let pos = p.pos(v.span());
                    p.add(
                        pos,
                        Problem::WrongType {
                            key: key.to_string(),
                            expected: "a list of tables",
                            found: v.type_name(),
                        },
                    );
                }
            }
        }
        return out;
    }
    let pos = p.pos(item.span().or_else(|| root.key(key).and_then(|k| k.span())));
    p.add(
        pos,
        Problem::WrongType {
            key: key.to_string(),
            expected: "a list of tables",
            found: item.type_name(),
        },
    );
    Vec::new()
}

fn read_server(t: &dyn TableLike, pos: Position, p: &mut Problems<'_>) -> DraftServer {
    check_keys(t, SERVER_KEYS, SERVERS, p);
    let code = required_str(t, "code", SERVERS, pos, p).and_then(|s| server_code(s, p));
    let role = required_str(t, "role", SERVERS, pos, p).and_then(|s| {
        let role = ServerRole::parse(&s.value);
        if role.is_none() {
            p.add(s.pos, Problem::BadRole(s.value));
        }
        role
    });
    let url = required_str(t, "url", SERVERS, pos, p).and_then(|s| server_url(s, p));
    let properties = properties(t, p);
    let group = optional_str(t, "group", p)
        .filter(|g| is_name(g, "group", p))
        .map(|g| g.value);
    let receive = optional_str(t, "receive", p)
        .and_then(|s| super::rules::choice::<Receive>(s, "receive", p));
    DraftServer {
        pos,
        code,
        role,
        url,
        properties,
        group,
        receive,
    }
}

fn read_slot(t: &dyn TableLike, pos: Position, p: &mut Problems<'_>) -> DraftSlot {
    check_keys(t, SLOT_KEYS, TIMETABLE, p);
    let at = required_str(t, "at", TIMETABLE, pos, p).and_then(|s| {
        let time = parse_hh_mm(&s.value);
        if time.is_none() {
            p.add(s.pos, Problem::BadTime(s.value));
        }
        time
    });
    let tz = required_str(t, "tz", TIMETABLE, pos, p).and_then(|s| match s.value.parse::<Tz>() {
        Ok(tz) => Some(tz),
        Err(_) => {
            p.add(s.pos, Problem::BadTimeZone(s.value));
            None
        }
    });
    let master = required_str(t, "master", TIMETABLE, pos, p).and_then(|s| server_code(s, p));
    DraftSlot {
        pos,
        at,
        tz,
        master,
    }
}

/// Strictly `HH:MM`, two digits each: `8:00` or `08:00:00` are refused rather than guessed at.
pub(super) fn parse_hh_mm(s: &str) -> Option<NaiveTime> {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' || ![0, 1, 3, 4].iter().all(|&i| b[i].is_ascii_digit()) {
        return None;
    }
    let h = u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0');
    let m = u32::from(b[3] - b'0') * 10 + u32::from(b[4] - b'0');
    NaiveTime::from_hms_opt(h, m, 0)
}

pub(super) fn check_keys(
    t: &dyn TableLike,
    allowed: &[&str],
    section: &'static str,
    p: &mut Problems<'_>,
) {
    for (key, item) in t.iter() {
        if !allowed.contains(&key) {
            let span = t.key(key).and_then(|k| k.span()).or_else(|| item.span());
            let pos = p.pos(span);
            p.add(
                pos,
                Problem::UnknownKey {
                    key: key.to_string(),
                    section,
                    expected: allowed.join(", "),
                },
            );
        }
    }
}

pub(super) fn optional_str(
    t: &dyn TableLike,
    key: &'static str,
    p: &mut Problems<'_>,
) -> Option<At<String>> {
    let item = t.get(key)?;
    let pos = p.pos(item.span());
    match item.as_str() {
        Some(s) => Some(At {
            value: s.to_string(),
            pos,
        }),
        None => {
            p.add(pos, wrong_type(key, "a string", item));
            None
        }
    }
}

pub(super) fn required_str(
    t: &dyn TableLike,
    key: &'static str,
    section: &'static str,
    table_pos: Position,
    p: &mut Problems<'_>,
) -> Option<At<String>> {
    if t.get(key).is_none() {
        p.add(table_pos, Problem::MissingKey { key, section });
        return None;
    }
    optional_str(t, key, p)
}

/// Whether `n` follows the rule for names (groups, rules, partners, pools); reports it when not.
pub(super) fn is_name(n: &At<String>, key: &'static str, p: &mut Problems<'_>) -> bool {
    match validate::group_name(&n.value) {
        Ok(()) => true,
        Err(rule) => {
            p.add(
                n.pos,
                Problem::BadText {
                    key,
                    rule,
                    got: n.value.clone(),
                },
            );
            false
        }
    }
}

/// A required name (see [`is_name`]).
pub(super) fn required_name(
    t: &dyn TableLike,
    key: &'static str,
    section: &'static str,
    table_pos: Position,
    p: &mut Problems<'_>,
) -> Option<At<String>> {
    required_str(t, key, section, table_pos, p).filter(|n| is_name(n, key, p))
}

pub(super) fn wrong_type(key: &str, expected: &'static str, item: &Item) -> Problem {
    Problem::WrongType {
        key: key.to_string(),
        expected,
        found: item.type_name(),
    }
}

fn server_code(s: At<String>, p: &mut Problems<'_>) -> Option<At<ServerCode>> {
    match ServerCode::parse(&s.value) {
        Ok(code) => Some(At {
            value: code,
            pos: s.pos,
        }),
        Err(e) => {
            p.add(s.pos, Problem::BadServerCode(e));
            None
        }
    }
}

pub(super) fn server_url(s: At<String>, p: &mut Problems<'_>) -> Option<At<Url>> {
    let bad = |reason: &str| Problem::BadUrl {
        url: s.value.clone(),
        reason: reason.to_string(),
    };
    let problem = match Url::parse(&s.value) {
        Err(e) => bad(&e.to_string()),
        Ok(u) if !matches!(u.scheme(), "http" | "https") => bad("the scheme must be http or https"),
        Ok(u) if u.host_str().is_none_or(str::is_empty) => bad("a host is required"),
        Ok(u) if !u.username().is_empty() || u.password().is_some() => {
            bad("no user or password in the url; servers authenticate with the shared secret")
        }
        Ok(u) if u.query().is_some() || u.fragment().is_some() => {
            bad("no query or fragment: the url is the server's base address")
        }
        Ok(u) => {
            return Some(At {
                value: u,
                pos: s.pos,
            })
        }
    };
    p.add(s.pos, problem);
    None
}

fn properties(t: &dyn TableLike, p: &mut Problems<'_>) -> Option<At<Vec<At<String>>>> {
    code_list(t, "properties", "a list of property codes", p)
}

/// An integer between `min` and `max`, required.
pub(super) fn required_int(
    t: &dyn TableLike,
    key: &'static str,
    section: &'static str,
    table_pos: Position,
    min: u32,
    max: u32,
    p: &mut Problems<'_>,
) -> Option<u32> {
    let Some(item) = t.get(key) else {
        p.add(table_pos, Problem::MissingKey { key, section });
        return None;
    };
    let pos = p.pos(item.span());
    let Some(v) = item.as_integer() else {
        p.add(pos, wrong_type(key, "a whole number", item));
        return None;
    };
    match u32::try_from(v) {
        Ok(n) if (min..=max).contains(&n) => Some(n),
        _ => {
            p.add(
                pos,
                Problem::BadNumber {
                    key,
                    min,
                    max,
                    got: v,
                },
            );
            None
        }
    }
}

/// A list of codes (property or room type codes: the core's rule for both).
pub(super) fn code_list(
    t: &dyn TableLike,
    key: &'static str,
    expected: &'static str,
    p: &mut Problems<'_>,
) -> Option<At<Vec<At<String>>>> {
    let item = t.get(key)?;
    let pos = p.pos(item.span());
    let Some(array) = item.as_array() else {
        p.add(pos, wrong_type(key, expected, item));
        return None;
    };
    if array.len() > MAX_PROPERTIES_PER_SERVER {
        p.add(
            pos,
            Problem::TooMany {
                what: if key == "properties" {
                    "properties on one server"
                } else {
                    "codes in one list"
                },
                max: MAX_PROPERTIES_PER_SERVER,
            },
        );
        return None;
    }
    let mut codes = Vec::new();
    for v in array.iter() {
        let vpos = p.pos(v.span());
        match v.as_str() {
            Some(code) if is_property_code(code) => codes.push(At {
                value: code.to_string(),
                pos: vpos,
            }),
            Some(code) => p.add(vpos, Problem::BadPropertyCode(code.to_string())),
            None => p.add(
                vpos,
                Problem::WrongType {
                    key: key.to_string(),
                    expected,
                    found: v.type_name(),
                },
            ),
        }
    }
    Some(At { value: codes, pos })
}

/// The core's rule for property codes: 1–16 upper-case letters, digits, `-` or `_`.
pub(super) fn is_property_code(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= MAX_CODE_LEN
        && v.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}
