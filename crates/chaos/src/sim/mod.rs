//! Deterministic simulations of innsync's protocol cores: no processes, no sockets, no clock.
//! A seeded [`net::SimNet`] loses, duplicates, delays and reorders messages between simulated
//! servers and partitions them; time is simulated, so thousands of schedules run in seconds
//! inside `cargo test`, and a failing seed replays exactly.
//!
//! - [`environment`]: the handover engine, the timetable, cursor planning and hold buffers,
//!   forced takeover and the token history, across three to five servers.
//! - [`pms`]: the PMS link's two sides (`PmsLink`, `SystemSide`) over a simulated byte link
//!   that splits, delays and drops.

pub mod environment;
pub mod net;
pub mod pms;
