//! Guest profiles (DESIGN.md §12): one record per person, referred to by every booking of
//! theirs, found again by name, e-mail, phone or reference, merged when two profiles turn out
//! to be one person, and erased on request (GDPR/POPIA) without losing the bookings.

pub mod search;

/// The name an erased guest, and every booking of theirs, carries instead of theirs.
pub const ERASED_NAME: &str = "Erased guest";
/// Most guests one surviving profile may absorb: its list of merged ids stays bounded.
pub const MAX_MERGED: usize = 64;
/// Most bookings one erasure (or one later anonymisation pass) rewrites; a guest with more is
/// finished by the server's sweeper, which runs again until none is left.
pub const MAX_ANONYMISE_BATCH: usize = 500;
/// Most merge hops followed from a merged guest to its survivor.
pub const MAX_MERGE_HOPS: usize = 8;
/// Most results a guest search returns.
pub const MAX_SEARCH_RESULTS: usize = 50;
/// Most characters of a search query.
pub const MAX_QUERY_LEN: usize = 200;
