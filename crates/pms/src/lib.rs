//! innsync's PMS link: the Mitel-style (and FIAS) interface between the hotel's PMS and the
//! property's other systems (PBX, hospitality gateway).
//!
//! The protocol lives in sans-I/O cores that take events plus an injected clock and emit
//! [`Command`]s: [`PmsLink`] is the PMS side (innsync), [`SystemSide`] is a faithful PBX /
//! hospitality gateway that integrators and our tests use, [`FiasPmsLink`] is the PMS side of the
//! FIAS dialect. [`net`] holds thin tokio adapters.
//!
//! # Wiring
//! - `innsync pms gateway --listen ADDR --nodes N`: build a [`net::GatewayConfig`]
//!   (`GatewayConfig::new(addr, n)`, optionally `rooms`, `settings`, `control`) and call
//!   [`net::run_gateway`]; or [`net::Gateway::bind`], keep [`net::Gateway::handle`] (database,
//!   hotel log, raise STS/MW/RTI, `shutdown` on Ctrl-C), then [`net::Gateway::run`].
//! - `innsync serve` (PMS side): spawn [`net::run_pms_link`] with a [`net::PmsLinkConfig`] and two
//!   bounded channels. Feed the durable outbox one [`net::PmsRequest::Send`] at a time and wait
//!   for `Delivered(id)` (mark done) or `Failed(id, _)` (retry later, in order). Answer
//!   `PmsEvent::ResetWanted` — and run a schedule or an operator's request — with
//!   [`net::PmsRequest::GeneralReset`] carrying every room. Apply `PmsEvent::Received` (STS, MW)
//!   to the room records, naming the link in the audit log.
//! - FIAS: [`net::run_fias_pms_link`] listens; same pattern with [`net::FiasRequest`].

pub mod charge;
pub mod command;
pub mod directory;
pub mod encoding;
pub mod fias;
pub mod fias_pms;
pub mod frame;
pub mod hotel_log;
mod link;
pub mod mitel;
pub mod net;
pub mod pms_side;
pub mod room;
pub mod settings;
pub mod system_side;

pub use charge::{ChargeFieldError, ChargeRecord};
pub use command::Command;
pub use directory::{NodeId, PlanError, RoomPlan, RoomRecord};
pub use encoding::TextEncoding;
pub use fias_pms::{
    FiasEvent, FiasGuest, FiasMessage, FiasPmsLink, Posting, ResyncRoom, SkipReason,
    GUEST_NOT_FOUND, MAX_RESERVATION, POSTING_DENIED, POSTING_OK, UNPROCESSABLE,
};
pub use hotel_log::{AbandonReason, HotelEvent, HotelLog, LogEntry};
pub use link::SendFailure;
pub use mitel::{Justify, Message, ParseError, PrintError};
pub use pms_side::{MessageId, PmsEvent, PmsLink, ResetError, ResetReason, SubmitError};
pub use room::{Extension, ExtensionError, GuestName, MaidStatus, RoomOccupancy};
pub use settings::{Millis, Settings, SettingsError};
pub use system_side::{GrsMode, RaiseError, RaiseOutcome, SystemError, SystemEvent, SystemSide};
