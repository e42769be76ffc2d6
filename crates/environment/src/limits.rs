//! Explicit limits on everything that grows from input (the environment file and its distribution
//! rules, replication batches), so no peer or file can make a server use unbounded memory.
//!
//! They are constants because every server of an environment must agree on them.

/// Largest `environment.toml` accepted; a real environment is a few kilobytes.
pub const MAX_FILE_BYTES: usize = 256 * 1024;
/// Most servers in one environment.
pub const MAX_SERVERS: usize = 64;
/// Most properties one property server may own.
pub const MAX_PROPERTIES_PER_SERVER: usize = 512;
/// Most timetable entries (one every 15 minutes of a day, with room to spare).
pub const MAX_TIMETABLE_ENTRIES: usize = 128;
/// Most problems reported for one file; later ones are usually consequences of earlier ones.
pub const MAX_PROBLEMS: usize = 32;
/// Shortest shared secret: servers authenticate to each other with it.
pub const MIN_SECRET_CHARS: usize = 16;
/// Longest shared secret.
pub const MAX_SECRET_CHARS: usize = 1024;
/// Longest environment name and group name.
pub const MAX_NAME_CHARS: usize = 64;
/// Most distinct origins a cursor map tracks: every server of the largest environment.
pub const MAX_ORIGINS: usize = MAX_SERVERS;
/// Most changes in one replication batch.
pub const MAX_BATCH_CHANGES: usize = 10_000;
/// Most held (out-of-order) changes kept in memory awaiting their gap; the rest are re-pulled.
pub const MAX_HELD_CHANGES: usize = 10_000;
/// Most distribution rules (`[[rules]]`); each is checked against every record event, so the list
/// stays short enough to scan on every write.
pub const MAX_RULES: usize = 256;
/// Most partner environments (`[[partners]]`) records may be copied to.
pub const MAX_PARTNERS: usize = 32;
/// Most entries in one rule's `[rules.map]` (renames, drops, constants and computed fields
/// together); a record has a few dozen fields at most.
pub const MAX_MAP_ENTRIES: usize = 64;
/// Most fields in one rule's `match`.
pub const MAX_MATCH_FIELDS: usize = 16;
/// Longest rule expression (a condition or a computed field), in characters.
pub const MAX_EXPR_CHARS: usize = 2_000;
/// Deepest nesting of a rule expression (parentheses, `not`, function arguments, lists), so that
/// parsing and evaluation recurse a bounded number of times.
pub const MAX_EXPR_DEPTH: usize = 32;
/// Largest day count in date arithmetic (`today - 90d`): a century, far beyond any real rule, and
/// far inside the dates the calendar can represent.
pub const MAX_SHIFT_DAYS: i64 = 36_600;
/// Longest API token a partner issued to us.
pub const MAX_TOKEN_CHARS: usize = 1024;
