//! innsync's PMS link: the Mitel-style (and FIAS) interface between the hotel's PMS and the
//! property's other systems (PBX, hospitality gateway).
//!
//! The protocol lives in sans-I/O cores that take events plus an injected clock and emit
//! [`Command`]s: [`PmsLink`] is the PMS side (innsync), [`SystemSide`] is a faithful PBX /
//! hospitality gateway that integrators and our tests use. [`net`] holds thin tokio adapters.

pub mod command;
pub mod directory;
pub mod frame;
pub mod hotel_log;
mod link;
pub mod mitel;
pub mod net;
pub mod pms_side;
pub mod room;
pub mod settings;
pub mod system_side;

pub use command::Command;
pub use directory::{NodeId, PlanError, RoomPlan, RoomRecord};
pub use hotel_log::{AbandonReason, HotelEvent, HotelLog, LogEntry};
pub use link::SendFailure;
pub use mitel::{Justify, Message, ParseError, PrintError};
pub use pms_side::{MessageId, PmsEvent, PmsLink, ResetError, ResetReason, SubmitError};
pub use room::{Extension, ExtensionError, GuestName, MaidStatus, RoomOccupancy};
pub use settings::{Millis, Settings, SettingsError};
pub use system_side::{GrsMode, RaiseError, RaiseOutcome, SystemError, SystemEvent, SystemSide};
