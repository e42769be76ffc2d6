//! Deciding the ledger's commands: charges, payments, corrections and transfers on a booking's
//! folios, the charge catalogue, invoices and credit notes, and the night audit.
//!
//! Entries, invoices and business days are owned by the server that writes them (never `env`:
//! a payment taken on the master is not held up by a handover and never fenced), and any
//! server may add entries to a booking it holds, like a note. Only the night audit needs the
//! booking's owner: it writes room nights and no-shows for the bookings this server writes.

//! One file per concern: `entries` (what every decision shares), `postings` (charges and
//! payments), `corrections` (corrections and transfers), `catalog`, `invoices` (and credit
//! notes), `night_audit`.

mod catalog;
mod corrections;
mod entries;
mod invoices;
mod night_audit;
mod postings;

pub(super) use entries::{
    booking_of, business_date, currency_of, entry_decision, entry_meta, property_of,
};
pub(super) use postings::charge;

use super::{Ctx, Decision};
use crate::command::Command;
use crate::error::DomainError;
use crate::ids::IdSource;
use crate::view::StateView;

/// Highest place in one server's invoice series of a year (six digits).
pub const MAX_INVOICE_SEQ: u32 = 999_999;
/// Longest folio name.
pub const MAX_FOLIO_NAME: usize = 16;

/// Decides a ledger command.
pub(super) fn decide(
    cmd: &Command,
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
) -> Result<Decision, DomainError> {
    match cmd {
        Command::PostCharge(c) => postings::charge(view, ids, ctx, c),
        Command::TakePayment(p) => postings::payment(view, ids, ctx, p),
        Command::CorrectEntry {
            booking,
            entry,
            reason,
        } => corrections::correct(view, ids, ctx, booking, entry, reason),
        Command::TransferBetweenFolios {
            booking,
            from,
            to,
            amount,
        } => corrections::transfer(view, ids, ctx, booking, from, to, *amount),
        Command::SetChargeCatalog {
            property,
            taxes,
            items,
        } => catalog::catalog(view, ids, ctx, property, taxes, items),
        Command::IssueInvoice {
            booking,
            folio,
            bill_to,
        } => invoices::issue(
            view,
            ids,
            ctx,
            booking,
            folio.as_deref(),
            bill_to.as_deref(),
        ),
        Command::IssueCreditNote { number, reason } => {
            invoices::credit(view, ids, ctx, number, reason)
        }
        Command::RunNightAudit {
            property,
            business_date,
            mark_no_shows,
        } => night_audit::night_audit(view, ids, ctx, property, *business_date, *mark_no_shows),
        other => Err(DomainError::InvalidInput(format!(
            "{} is not a ledger command",
            other.name()
        ))),
    }
}
