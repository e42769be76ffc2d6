//! Explicit limits on everything that grows from input (the environment file, token history,
//! replication batches), so no peer or file can make a server use unbounded memory.
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
/// Most master epochs remembered for fencing; older epochs count as unknown (quarantined).
pub const MAX_TOKEN_HISTORY: usize = 4096;
/// Most distinct origins a cursor map tracks: every server of the largest environment.
pub const MAX_ORIGINS: usize = MAX_SERVERS;
/// Most changes in one replication batch.
pub const MAX_BATCH_CHANGES: usize = 10_000;
/// Most held (out-of-order) changes kept in memory awaiting their gap; the rest are re-pulled.
pub const MAX_HELD_CHANGES: usize = 10_000;
