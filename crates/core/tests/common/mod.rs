//! What the core's model tests share: deciding a command over the model the way the store does
//! — a refusal must leave the state exactly as it was, a decision is applied whole.
#![allow(dead_code)]

pub mod world;

#[allow(
    unused_imports,
    reason = "each test file uses its own few of the builders"
)]
pub use world::{counters, ctx, grant, property, rate, room, room_type, run_checked, servers};

use innsync_core::model::MemState;
use innsync_core::{decide, Command, Ctx, DomainError, IdSource, Outcome, Record, RecordId};

/// Decides `cmd` over `state` and applies it; a refusal is checked to have written nothing.
/// A booking the decision wrote is added to `bookings` (once), for later steps to act on.
pub fn run(
    state: &mut MemState,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    cmd: &Command,
    bookings: &mut Vec<RecordId>,
) -> Result<Outcome, DomainError> {
    let before = format!("{:?}", state.records().collect::<Vec<_>>());
    match decide(cmd, state, ids, ctx) {
        Ok(d) => {
            if let Outcome::Written {
                record: Record::Booking(b),
                ..
            } = &d.outcome
            {
                if !bookings.contains(&b.meta.id) {
                    bookings.push(b.meta.id.clone());
                }
            }
            state.apply(&d);
            Ok(d.outcome)
        }
        Err(e) => {
            assert_eq!(
                before,
                format!("{:?}", state.records().collect::<Vec<_>>()),
                "a refusal writes nothing: {cmd:?}"
            );
            Err(e)
        }
    }
}
