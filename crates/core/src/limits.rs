//! Explicit limits on every size the domain accepts, so that no input can grow without bound.
//!
//! They are constants rather than settings because they are part of the data contract: a record
//! valid on one server must be valid on every other.

/// Longest stay a single booking may cover; longer stays are split into several bookings.
pub const MAX_STAY_NIGHTS: i64 = 365;
/// Most units (rooms) one booking may hold; groups beyond this are split.
pub const MAX_UNITS: u32 = 100;
/// Longest free-text name (property, room type, guest).
pub const MAX_NAME_LEN: usize = 200;
/// Longest notes or reason text.
pub const MAX_TEXT_LEN: usize = 2_000;
/// Longest code (property, room type) and room number.
pub const MAX_CODE_LEN: usize = 16;
/// Most nights an availability query or an out-of-order period or a rate period may span.
pub const MAX_RANGE_NIGHTS: i64 = 731;
/// Most rate periods kept per room type; older, fully overwritten periods are merged away.
pub const MAX_RATE_PERIODS: usize = 2_000;
/// Most out-of-order periods a room keeps.
pub const MAX_OUT_OF_ORDER_PERIODS: usize = 500;
/// Most room moves (stays) one booking may have.
pub const MAX_STAYS: usize = 64;
/// Largest nightly amount in minor units (avoids overflow when summing a year of nights).
pub const MAX_AMOUNT: i64 = 1_000_000_000;
/// Most roles a user may have and most servers a user may be restricted to.
pub const MAX_USER_LIST: usize = 16;
/// Latest a provisional hold may run, counted from now.
pub const MAX_HOLD_DAYS: i64 = 60;

/// How far ahead of today a stay, a grant, a rate or an out-of-order period may start: five
/// years, beyond any lodge's selling horizon (issue 16: one date horizon).
pub const HORIZON_DAYS_AHEAD: u64 = 1_830;
