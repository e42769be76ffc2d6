//! Deciding a charge received over the PMS link (FIAS `PS`: minibar, telephone): an ordinary
//! charge on the booking's folio whose reference is the posting's identity at the link, so a
//! posting the system sends again (it resends one it got no answer to) is never charged twice.
//! The same path takes Mitel-style charge records (`CHG`, `LINK:SEQUENCE`). A posting is for
//! the guest in house: one for a booking not checked in is refused in the decision itself, so a
//! check-out between the link's look-up and the write cannot let it through.

use super::folio::{booking_of, charge};
use super::{Ctx, Decision, Outcome};
use crate::error::DomainError;
use crate::ids::IdSource;
use crate::ledger::decide_input::ChargeInput;
use crate::ledger::pan::looks_like_pan;
use crate::ledger::EntrySource;
use crate::record::{BookingStatus, Record};
use crate::state_view::StateView;

/// Longest posting identity (`LINK:P#`).
pub const MAX_POSTING_REF: usize = 64;

/// Decides `PostPmsCharge`: refused as already there when the booking holds an entry of the
/// same posting; otherwise the charge, its reference the posting.
pub(super) fn decide(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    c: &ChargeInput,
    posting: &str,
) -> Result<Decision, DomainError> {
    if posting.is_empty()
        || posting.chars().count() > MAX_POSTING_REF
        || posting.chars().any(char::is_control)
        || looks_like_pan(posting)
    {
        return Err(DomainError::InvalidInput(format!(
            "posting must be 1 to {MAX_POSTING_REF} printable characters; got {posting:?}"
        )));
    }
    if c.source != EntrySource::Pms {
        return Err(DomainError::InvalidInput(
            "a PMS charge has source pms".into(),
        ));
    }
    let b = booking_of(view, &c.booking)?;
    if b.status != BookingStatus::CheckedIn {
        return Err(DomainError::InvalidTransition(format!(
            "no guest in house on booking {}: it is {}",
            b.meta.id,
            b.status.as_str().replace('_', " ")
        )));
    }
    if let Some(e) = view
        .folio_entries(&c.booking)?
        .into_iter()
        .find(|e| e.source == EntrySource::Pms && e.reference.as_deref() == Some(posting))
    {
        return Err(DomainError::AlreadyExists(format!(
            "posting {posting} is already on the folio of {} as entry {}",
            c.booking, e.meta.id
        )));
    }
    let mut d = charge(view, ids, ctx, c)?;
    for w in &mut d.writes {
        if let Record::FolioEntry(e) = w {
            e.reference = Some(posting.to_string());
        }
    }
    if let Outcome::Written {
        record: Record::FolioEntry(e),
        ..
    } = &mut d.outcome
    {
        e.reference = Some(posting.to_string());
    }
    Ok(d)
}
