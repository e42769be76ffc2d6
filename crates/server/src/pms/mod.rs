//! The PMS side of the PMS link inside `innsync serve`: one driver task per configured link,
//! feeding the durable outbox to `innsync-pms`'s `PmsLink` engine in order, answering General
//! Reset requests with a snapshot of who is in which room, and applying maid status and
//! message-waiting reports to the room records.

mod delivery;
mod dialect;
mod driver;
mod link;
pub mod postings;
mod registry;

pub use link::{Dialect, Encoding, LinkSettings, Role};
pub use registry::{LinkStatus, PmsLinks};
