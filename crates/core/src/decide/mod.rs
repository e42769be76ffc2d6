//! Deciding a command: check it against the current state and produce the records it writes.
//!
//! [`decide`] is the one place every rule is enforced — authority, validation, the booking
//! state machine and stock. It reads state through [`StateView`], never writes, and returns a
//! [`Decision`] that the store applies in the same transaction the view read from.

mod agents;
mod allotments;
mod booking_edit;
mod booking_price;
mod bookings;
mod deposits;
mod distribution;
mod folio;
mod guests;
mod pms_charge;

pub use deposits::MAX_DEPOSIT_SWEEP;
pub use distribution::{DELETABLE, IMPORTABLE, TRANSFERABLE};
pub use reservations_limit::MAX_RESERVATION_LINES;
mod rate_plans;
mod reference;
mod reservations;
mod reservations_limit;
mod validate;

use crate::command::Command;
use crate::error::DomainError;
use crate::ids::{Authority, IdSource, RecordId, ServerCode};
use crate::record::{Meta, Record};
use crate::state_view::StateView;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Most provisional bookings one `ExpireHolds` command releases; the sweeper runs again.
pub const MAX_EXPIRE_BATCH: usize = 256;

/// The facts a decision depends on besides state: injected, never read from the OS.
#[derive(Clone, Copy, Debug)]
pub struct Ctx<'a> {
    /// The time of the decision.
    pub now: DateTime<Utc>,
    /// The server deciding.
    pub server: &'a ServerCode,
    /// The current master, if known; env-owned records are written only there.
    pub master: Option<&'a ServerCode>,
    /// Who asked (a username, or `system` for the server's own jobs).
    pub actor: &'a str,
    /// Properties owned by property servers (environment.toml): their records are written
    /// only there.
    pub property_owners: &'a [(String, ServerCode)],
    /// The current master epoch.
    pub epoch: u64,
    /// Env writes are frozen: the master is handing over.
    pub frozen: bool,
    /// The servers that may hold allotments besides `env` (every server of the environment
    /// but the archive).
    pub holders: &'a [ServerCode],
    /// The archive servers: they may own closed records and never edit anything.
    pub archives: &'a [ServerCode],
}

impl Ctx<'_> {
    /// Whether this server holds the master token.
    pub fn is_master(&self) -> bool {
        self.master == Some(self.server)
    }

    /// The authority new records are written under here: `env` on the master, else this server.
    pub fn write_authority(&self) -> Authority {
        if self.is_master() {
            Authority::Env
        } else {
            Authority::Server(self.server.clone())
        }
    }

    /// Refuses unless this server may write a record owned by `owner`.
    pub fn ensure_writable(&self, owner: &Authority) -> Result<(), DomainError> {
        match owner {
            Authority::Env if self.is_master() && self.frozen => {
                Err(DomainError::HandoverInProgress)
            }
            Authority::Env if self.is_master() => Ok(()),
            Authority::Env => Err(DomainError::NotMaster {
                master: self.master.cloned(),
            }),
            Authority::Server(s) if s == self.server => Ok(()),
            Authority::Server(_) => Err(DomainError::NotOwner {
                owner: owner.clone(),
            }),
        }
    }

    /// Refuses unless this server is the master (for shared reference data).
    pub fn ensure_master(&self) -> Result<(), DomainError> {
        self.ensure_writable(&Authority::Env)
    }

    /// Whether `a` may hold allotments here: `env`, or a server of the environment.
    pub fn may_hold(&self, a: &Authority) -> bool {
        match a {
            Authority::Env => true,
            Authority::Server(s) => self.holders.contains(s),
        }
    }

    /// Whether this server is an archive (it keeps records and never edits them).
    pub fn is_archive(&self) -> bool {
        self.archives.contains(self.server)
    }

    /// Whether `a` may own records: `env` or any server of the environment.
    pub fn may_own(&self, a: &Authority) -> bool {
        match a {
            Authority::Env => true,
            Authority::Server(s) => self.holders.contains(s) || self.archives.contains(s),
        }
    }

    /// Who owns a property's records: its property server, else the environment.
    pub fn property_authority(&self, property: &str) -> Authority {
        self.property_owners
            .iter()
            .find(|(p, _)| p == property)
            .map_or(Authority::Env, |(_, s)| Authority::Server(s.clone()))
    }
}

/// What a command wrote, for the caller's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[allow(
    clippy::large_enum_variant,
    reason = "an outcome is moved once per command; boxing would only add an allocation"
)]
pub enum Outcome {
    /// The main record written, in its new state.
    Written {
        /// The record.
        record: Record,
        /// Records written with it that the answer shows (the new guest of a booking).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        related: Vec<Record>,
    },
    /// Bookings released because their holds lapsed.
    Expired {
        /// Their references.
        ids: Vec<RecordId>,
    },
    /// Allotment grants written by a standing rule.
    Granted {
        /// The grants' ids.
        ids: Vec<RecordId>,
    },
}

/// One line of the audit log: what was done to which record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The command name (`booking.cancel`).
    pub action: String,
    /// The record acted on.
    pub record: RecordId,
    /// A human summary.
    pub detail: String,
}

/// The result of a command that passed every rule: the records to write, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// New states of every record written, each with its version bumped.
    pub writes: Vec<Record>,
    /// The answer to the caller.
    pub outcome: Outcome,
    /// What the audit log records.
    pub audit: Vec<AuditEntry>,
}

impl Decision {
    /// A decision that writes one record and answers with it.
    fn one(record: Record, action: &str, detail: String) -> Self {
        let audit = vec![AuditEntry {
            action: action.to_string(),
            record: record.meta().id.clone(),
            detail,
        }];
        Self {
            writes: vec![record.clone()],
            outcome: Outcome::Written {
                record,
                related: vec![],
            },
            audit,
        }
    }
}

/// A fresh record identity owned by `owner`.
fn fresh(ids: &mut dyn IdSource, owner: Authority) -> Meta {
    Meta::new(ids.next_id(), owner, 1)
}

/// The identity of the next version of a record.
fn bumped(meta: &Meta) -> Meta {
    Meta {
        version: meta.version + 1,
        ..meta.clone()
    }
}

/// The grant of the master token: only the master gives it, only to the next epoch.
fn grant(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    to: &ServerCode,
    epoch: u64,
    reason: &str,
) -> Result<Decision, DomainError> {
    if !ctx.is_master() {
        return Err(DomainError::NotMaster {
            master: ctx.master.cloned(),
        });
    }
    if epoch != ctx.epoch + 1 {
        return Err(DomainError::InvalidInput(format!(
            "a grant takes epoch {}, not {epoch}",
            ctx.epoch + 1
        )));
    }
    if to == ctx.server {
        return Err(DomainError::InvalidInput(
            "this server is already the master".into(),
        ));
    }
    let meta = match view.master_token()? {
        Some(t) => Meta {
            version: epoch,
            ..t.meta
        },
        None => Meta::new(ids.next_id(), Authority::Env, epoch),
    };
    let token = crate::record::MasterToken {
        meta,
        server: to.clone(),
        epoch,
        granted_by: ctx.server.clone(),
        reason: reason.to_string(),
        fence: None,
    };
    let detail = format!("master token to {to} at epoch {epoch}: {reason}");
    Ok(Decision::one(
        Record::MasterToken(token),
        "master.grant",
        detail,
    ))
}

/// A forced takeover: this server takes the token at the next epoch, fencing the old master's
/// env writes beyond the last one it has.
fn take_over(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    reason: &str,
    old_master_seq: u64,
) -> Result<Decision, DomainError> {
    let Some(old) = ctx.master else {
        return Err(DomainError::InvalidInput(
            "no master is known to take over from".into(),
        ));
    };
    if ctx.is_master() {
        return Err(DomainError::InvalidInput(
            "this server is already the master".into(),
        ));
    }
    if reason.trim().is_empty() {
        return Err(DomainError::InvalidInput(
            "a forced takeover needs a reason for the audit log".into(),
        ));
    }
    validate::text("reason", reason, crate::limits::MAX_TEXT_LEN)?;
    let epoch = ctx.epoch + 1;
    let meta = match view.master_token()? {
        Some(t) => Meta {
            version: epoch,
            ..t.meta
        },
        None => Meta::new(ids.next_id(), Authority::Env, epoch),
    };
    let fence = crate::record::Fence {
        server: old.clone(),
        epoch: ctx.epoch,
        seq: old_master_seq,
    };
    let token = crate::record::MasterToken {
        meta,
        server: ctx.server.clone(),
        epoch,
        granted_by: ctx.server.clone(),
        reason: format!("forced takeover from {old}: {}", reason.trim()),
        fence: Some(fence),
    };
    let detail = format!(
        "forced takeover from {old} at epoch {epoch}; {old}'s env writes after its change {old_master_seq} are fenced: {}",
        reason.trim()
    );
    Ok(Decision::one(
        Record::MasterToken(token),
        "master.takeover",
        detail,
    ))
}

/// Restores a record's state as its next version, checked like a write of that kind.
fn restore(view: &dyn StateView, ctx: &Ctx<'_>, record: &Record) -> Result<Decision, DomainError> {
    ctx.ensure_writable(&record.meta().owner)?;
    let current_version = current_version(view, record)?;
    let mut next = record.clone();
    match &mut next {
        Record::Booking(b) => {
            b.meta.version = current_version + 1;
            let current = view.booking(&b.meta.id)?;
            bookings::check_restorable(view, current.as_ref(), b)?;
            b.updated_at = ctx.now;
        }
        Record::MasterToken(_) => {
            return Err(DomainError::InvalidInput(
                "the master token is not restored by hand".into(),
            ))
        }
        Record::Tombstone(_) => {
            return Err(DomainError::InvalidInput(
                "a deletion is not restored by hand; delete the record again".into(),
            ))
        }
        // Ledger entries and invoices are written once: one that is here is never restored
        // over, and one that is not is restored as it was.
        Record::FolioEntry(_) | Record::Invoice(_) if current_version > 0 => {
            return Err(DomainError::AlreadyExists(format!(
                "{} {} (written once, never changed)",
                record.kind().as_str(),
                record.key()
            )))
        }
        other @ (Record::FolioEntry(_) | Record::Invoice(_)) => set_version(other, 1),
        Record::AllotmentGrant(g) => {
            if current_version > 0 {
                return Err(DomainError::AlreadyExists(format!(
                    "allotment grant {}",
                    g.meta.id
                )));
            }
            allotments::check_restorable(view, ctx, g)?;
            g.at = ctx.now;
        }
        other => set_version(other, current_version + 1),
    }
    let detail = format!(
        "{} {} restored from a conflict",
        record.kind().as_str(),
        record.key()
    );
    Ok(Decision::one(next, "conflict.apply", detail))
}

fn current_version(view: &dyn StateView, r: &Record) -> Result<u64, DomainError> {
    Ok(match r {
        Record::Property(x) => view.property(&x.code)?.map(|c| c.meta.version),
        Record::RoomType(x) => view
            .room_type(&x.property, &x.code)?
            .map(|c| c.meta.version),
        Record::Room(x) => view.room(&x.property, &x.number)?.map(|c| c.meta.version),
        Record::RatePlan(x) => view
            .rate_plan(&x.property, &x.room_type)?
            .map(|c| c.meta.version),
        Record::Guest(x) => view.guest(&x.meta.id)?.map(|c| c.meta.version),
        Record::Booking(x) => view.booking(&x.meta.id)?.map(|c| c.meta.version),
        Record::User(x) => view.user(&x.username)?.map(|c| c.meta.version),
        Record::MasterToken(_) => view.master_token()?.map(|c| c.meta.version),
        Record::Note(_) => None,
        Record::AllotmentGrant(x) => view.allotment_grant(&x.meta.id)?.map(|c| c.meta.version),
        Record::Tombstone(_) => None,
        Record::PricingPlan(x) => view
            .pricing_plan(&x.property, &x.code)?
            .map(|c| c.meta.version),
        Record::FolioEntry(x) => view
            .record(crate::record::RecordKind::FolioEntry, &r.key())?
            .map(|_| x.meta.version),
        Record::Invoice(x) => view
            .record(crate::record::RecordKind::Invoice, &x.number)?
            .map(|_| x.meta.version),
        Record::ChargeCatalog(_) | Record::BusinessDay(_) | Record::Agent(_) => {
            view.record(r.kind(), &r.key())?.map(|c| c.meta().version)
        }
    }
    .unwrap_or(0))
}

fn set_version(r: &mut Record, v: u64) {
    r.meta_mut().version = v;
}

/// Decides `cmd` against `view`: the records to write, or why not.
pub fn decide(
    cmd: &Command,
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
) -> Result<Decision, DomainError> {
    // The archive keeps what it is given and edits nothing; its own jobs find nothing to do.
    if ctx.is_archive() {
        return match cmd {
            Command::ExpireHolds => Ok(Decision {
                writes: vec![],
                outcome: Outcome::Expired { ids: vec![] },
                audit: vec![],
            }),
            Command::RunAllotmentRule { .. } => Ok(Decision {
                writes: vec![],
                outcome: Outcome::Granted { ids: vec![] },
                audit: vec![],
            }),
            _ => Err(DomainError::InvalidInput(format!(
                "server {} is the archive: it keeps the records it is given and never edits them",
                ctx.server
            ))),
        };
    }
    let decision = match cmd {
        Command::CreateProperty { .. }
        | Command::CreateRoomType { .. }
        | Command::CreateRoom { .. }
        | Command::SetOutOfOrder { .. }
        | Command::ClearOutOfOrder { .. }
        | Command::SetRoomStatus { .. }
        | Command::SetRate { .. }
        | Command::CreateUser { .. } => reference::decide_reference(cmd, view, ids, ctx)?,
        Command::PutRatePlan {
            property,
            code,
            spec,
            if_match,
        } => rate_plans::put(view, ids, ctx, property, code, spec, *if_match)?,
        Command::GrantMaster { to, epoch, reason } => grant(view, ids, ctx, to, *epoch, reason)?,
        Command::TakeOver {
            reason,
            old_master_seq,
        } => take_over(view, ids, ctx, reason, *old_master_seq)?,
        Command::RestoreRecord { record } => restore(view, ctx, record)?,
        Command::GrantAllotment { .. } | Command::RunAllotmentRule { .. } => {
            allotments::decide_allotments(cmd, view, ids, ctx)?
        }
        Command::TransferOwnership { .. }
        | Command::ImportCopy { .. }
        | Command::DeleteRecord { .. }
        | Command::DeleteCopy { .. } => distribution::decide_distribution(cmd, view, ids, ctx)?,
        Command::AddNote { booking, text } => {
            let b = view
                .booking(booking)?
                .ok_or_else(|| DomainError::NotFound(format!("booking {booking}")))?;
            validate::name("text", text)?;
            validate::text("text", text, crate::limits::MAX_TEXT_LEN)?;
            let note = crate::record::Note {
                meta: fresh(ids, ctx.write_authority()),
                booking: b.meta.id.clone(),
                text: text.trim().to_string(),
                author: ctx.actor.to_string(),
                at: ctx.now,
            };
            let detail = format!("note on {}: {}", b.meta.id, note.text);
            Decision::one(Record::Note(note), "note.add", detail)
        }
        Command::UpdateGuest { .. }
        | Command::MergeGuests { .. }
        | Command::EraseGuest { .. }
        | Command::AnonymiseGuestBookings { .. } => guests::decide(cmd, view, ids, ctx)?,
        Command::CreateGuest { .. }
        | Command::CreateBooking { .. }
        | Command::ConfirmBooking { .. }
        | Command::CheckIn { .. }
        | Command::CheckOut { .. }
        | Command::NoShow { .. }
        | Command::AssignRoom { .. }
        | Command::MoveRoom { .. }
        | Command::ExpireHolds => bookings::decide_bookings(cmd, view, ids, ctx)?,
        Command::CreateReservation { .. } | Command::AddReservationLine { .. } => {
            reservations::decide(cmd, view, ids, ctx)?
        }
        Command::PutAgent {
            code,
            spec,
            if_match,
        } => agents::put(view, ids, ctx, code, spec, *if_match)?,
        Command::EditBooking { id, edit, if_match } => {
            booking_edit::edit(view, ctx, id, edit, *if_match)?
        }
        Command::PostCharge(_)
        | Command::TakePayment(_)
        | Command::CorrectEntry { .. }
        | Command::TransferBetweenFolios { .. }
        | Command::SetChargeCatalog { .. }
        | Command::IssueInvoice { .. }
        | Command::IssueCreditNote { .. }
        | Command::RunNightAudit { .. } => folio::decide(cmd, view, ids, ctx)?,
        Command::CancelBooking { .. }
        | Command::CancelWithFee { .. }
        | Command::SettleDeposits { .. } => deposits::decide(cmd, view, ids, ctx)?,
        Command::PostPmsCharge { charge, posting } => {
            pms_charge::decide(view, ids, ctx, charge, posting)?
        }
    };
    debug_assert!(
        decision.writes.iter().all(|r| r.meta().version >= 1),
        "every written record has a version"
    );
    Ok(decision)
}
