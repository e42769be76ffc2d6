//! innsync's fault harness, in the manner of Jepsen, FoundationDB's simulator and
//! TigerBeetle's VOPR: everything innsync promises is checked by something that tries hard to
//! break it.
//!
//! Two halves:
//!
//! - **Real processes** ([`run`]): an environment of `innsync serve` processes on 127.0.0.1
//!   ([`deployment`]), every link between two servers through an HTTP middlebox and a TCP
//!   fault proxy ([`mesh`], [`mangle`]), a seeded schedule ([`plan`]) of client operations
//!   ([`workload`]: bookings, retries, cancels, confirmations, check-ins and -outs, env
//!   writes, handovers, forced takeovers) and faults ([`nemesis`]: kill -9 and restart,
//!   SIGSTOP/SIGCONT, partitions, delays, dropped connections, duplicated and reordered
//!   delivery, clock skew with a timetable). Every operation goes into a [`history`]; after
//!   heal the [`check`]er judges the history and every server's database.
//! - **Deterministic simulation** ([`sim`]): the sans-I/O engines (handover, timetable,
//!   cursor planning, the PMS link's two sides) on a simulated network with simulated time,
//!   thousands of seeded schedules a second, inside `cargo test`.
//!
//! A failing seed prints the command that replays it (`innsync chaos --seed N …`).

pub mod check;
pub mod client;
pub mod deployment;
pub mod front;
pub mod history;
pub mod launch;
pub mod mangle;
pub mod member;
pub mod mesh;
pub mod money;
pub mod nemesis;
pub mod plan;
pub mod process;
pub mod run;
pub mod sim;
pub mod workload;

pub use plan::{FaultMix, Knobs};
pub use run::{run, Report, RunConfig, RunError};
