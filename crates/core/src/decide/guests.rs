//! Guest profiles: editing on the owner, merging two profiles (an owned write of the survivor
//! plus a tombstone pointing at it), and erasure with the anonymisation of the guest's bookings.

use super::{bumped, validate, AuditEntry, Ctx, Decision, Outcome};
use crate::command::{Command, GuestPatch};
use crate::error::DomainError;
use crate::guests::{ERASED_NAME, MAX_ANONYMISE_BATCH, MAX_MERGED, MAX_MERGE_HOPS};
use crate::ids::{IdSource, RecordId};
use crate::limits::MAX_TEXT_LEN;
use crate::record::{Booking, Guest, Record, RecordKind, Tombstone};
use crate::view::StateView;

pub(super) fn decide(
    cmd: &Command,
    view: &dyn StateView,
    _ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
) -> Result<Decision, DomainError> {
    match cmd {
        Command::UpdateGuest {
            id,
            patch,
            if_match,
        } => update(view, ctx, id, patch, *if_match),
        Command::MergeGuests {
            survivor,
            merged,
            reason,
        } => merge(view, ctx, survivor, merged, reason.as_deref()),
        Command::EraseGuest { id, reason } => erase(view, ctx, id, reason.as_deref()),
        Command::AnonymiseGuestBookings { guest } => anonymise(view, ctx, guest),
        _ => unreachable!("guests::decide called for {}", cmd.name()),
    }
}

/// Where a merged guest's id leads: the surviving guest, following each tombstone's pointer
/// (at most [`MAX_MERGE_HOPS`]); `None` when the id is neither a guest nor a merged one.
pub(super) fn resolve(view: &dyn StateView, id: &RecordId) -> Result<Option<Guest>, DomainError> {
    let mut at = id.clone();
    for _ in 0..=MAX_MERGE_HOPS {
        if let Some(g) = view.guest(&at)? {
            return Ok(Some(g));
        }
        let key = Record::tombstone_key(RecordKind::Guest, at.as_str());
        match view.record(RecordKind::Tombstone, &key)? {
            Some(Record::Tombstone(Tombstone {
                merged_into: Some(next),
                ..
            })) => at = next,
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// The guest a new booking refers to: an existing guest this server holds (any owner), or the
/// survivor of a merged one; never an erased one.
pub(super) fn for_new_booking(view: &dyn StateView, id: &RecordId) -> Result<Guest, DomainError> {
    let g = resolve(view, id)?.ok_or_else(|| DomainError::NotFound(format!("guest {id}")))?;
    if g.erased {
        return Err(DomainError::InvalidInput(format!(
            "guest {id} was erased on request; book with the guest's details instead"
        )));
    }
    Ok(g)
}

/// Loads a guest this server may write, live (not erased), at the expected version.
fn writable(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    id: &RecordId,
    if_match: Option<u64>,
) -> Result<Guest, DomainError> {
    let g = view.guest(id)?.ok_or_else(|| match resolve(view, id) {
        Ok(Some(s)) => {
            DomainError::NotFound(format!("guest {id} was merged into guest {}", s.meta.id))
        }
        _ => DomainError::NotFound(format!("guest {id}")),
    })?;
    ctx.ensure_writable(&g.meta.owner)?;
    if let Some(v) = if_match {
        if v != g.meta.version {
            return Err(DomainError::VersionConflict {
                expected: v,
                actual: g.meta.version,
            });
        }
    }
    if g.erased {
        return Err(DomainError::InvalidInput(format!(
            "guest {id} was erased on request; it is not edited any more"
        )));
    }
    Ok(g)
}

/// An optional text field after a patch: absent keeps it, empty removes it.
fn patched(current: &Option<String>, given: &Option<String>) -> Option<String> {
    match given {
        None => current.clone(),
        Some(t) if t.trim().is_empty() => None,
        Some(t) => Some(t.trim().to_string()),
    }
}

/// Checks every personal field of a guest against the limits.
fn check(g: &Guest) -> Result<(), DomainError> {
    validate::name("guest.name", &g.name)?;
    validate::contact(g.email.as_deref(), g.phone.as_deref())?;
    validate::notes("guest.preferences", g.preferences.as_deref())?;
    validate::notes("guest.notes", g.notes.as_deref())
}

fn update(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    id: &RecordId,
    p: &GuestPatch,
    if_match: Option<u64>,
) -> Result<Decision, DomainError> {
    let (g, detail) = patched_guest(view, ctx, id, p, if_match)?;
    Ok(Decision::one(Record::Guest(g), "guest.update", detail))
}

/// The next version of a guest this server writes after `p`, and which fields changed (never
/// their personal values, for the audit); refuses a patch that changes nothing.
pub(super) fn patched_guest(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    id: &RecordId,
    p: &GuestPatch,
    if_match: Option<u64>,
) -> Result<(Guest, String), DomainError> {
    let old = writable(view, ctx, id, if_match)?;
    let mut g = old.clone();
    g.meta = bumped(&old.meta);
    if let Some(n) = &p.name {
        g.name = n.trim().to_string();
    }
    g.email = patched(&old.email, &p.email);
    g.phone = patched(&old.phone, &p.phone);
    g.preferences = patched(&old.preferences, &p.preferences);
    g.notes = patched(&old.notes, &p.notes);
    check(&g)?;
    let changed: Vec<&str> = [
        ("name", old.name != g.name),
        ("email", old.email != g.email),
        ("phone", old.phone != g.phone),
        ("preferences", old.preferences != g.preferences),
        ("notes", old.notes != g.notes),
    ]
    .into_iter()
    .filter_map(|(f, c)| c.then_some(f))
    .collect();
    if changed.is_empty() {
        return Err(DomainError::InvalidInput(
            "nothing to change: give at least one field that differs".into(),
        ));
    }
    Ok((g, format!("changed {}", changed.join(", "))))
}

fn merge(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    survivor: &RecordId,
    merged: &RecordId,
    reason: Option<&str>,
) -> Result<Decision, DomainError> {
    if survivor == merged {
        return Err(DomainError::InvalidInput(
            "a guest cannot be merged into itself".into(),
        ));
    }
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    validate::notes("reason", reason)?;
    let keep = writable(view, ctx, survivor, None)?;
    let gone = writable(view, ctx, merged, None)?;
    let mut s = keep.clone();
    s.meta = bumped(&keep.meta);
    let take = |mine: &mut Option<String>, theirs: &Option<String>| {
        if mine.is_none() {
            mine.clone_from(theirs);
        }
    };
    take(&mut s.email, &gone.email);
    take(&mut s.phone, &gone.phone);
    take(&mut s.preferences, &gone.preferences);
    take(&mut s.notes, &gone.notes);
    s.merged.push(gone.meta.id.clone());
    s.merged.extend(gone.merged.iter().cloned());
    if s.merged.len() > MAX_MERGED {
        return Err(DomainError::InvalidInput(format!(
            "guest {survivor} would absorb more than {MAX_MERGED} profiles"
        )));
    }
    let why = reason.unwrap_or("duplicate profile").to_string();
    let t = Tombstone {
        meta: bumped(&gone.meta),
        deleted_kind: RecordKind::Guest,
        deleted_key: gone.meta.id.to_string(),
        reason: format!("merged into {survivor}: {why}"),
        at: ctx.now,
        merged_into: Some(survivor.clone()),
    };
    let audit = vec![
        AuditEntry {
            action: "guest.merge".into(),
            record: s.meta.id.clone(),
            detail: format!("absorbed guest {merged}: {why}"),
        },
        AuditEntry {
            action: "guest.merge".into(),
            record: merged.clone(),
            detail: format!("merged into guest {survivor}: {why}"),
        },
    ];
    Ok(Decision {
        writes: vec![Record::Guest(s.clone()), Record::Tombstone(t.clone())],
        outcome: Outcome::Written {
            record: Record::Guest(s),
            related: vec![Record::Tombstone(t)],
        },
        audit,
    })
}

/// The bookings of `guest` and of every guest merged into it that this server writes and that
/// still carry a name, each anonymised as its next version; at most [`MAX_ANONYMISE_BATCH`].
fn anonymised_bookings(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    guest: &Guest,
) -> Result<Vec<Booking>, DomainError> {
    let mut out = vec![];
    let ids = std::iter::once(&guest.meta.id).chain(guest.merged.iter());
    for gid in ids {
        for bid in view.guest_bookings(gid, MAX_ANONYMISE_BATCH)? {
            if out.len() >= MAX_ANONYMISE_BATCH {
                return Ok(out);
            }
            let Some(b) = view.booking(&bid)? else {
                continue;
            };
            if ctx.ensure_writable(&b.meta.owner).is_err() || b.meta.is_linked_copy() {
                continue;
            }
            if b.guest_name == ERASED_NAME && b.notes.is_none() {
                continue;
            }
            let mut next = b.clone();
            next.meta = bumped(&b.meta);
            next.guest_name = ERASED_NAME.to_string();
            // Free text about the stay may name or describe the guest: it goes too.
            next.notes = None;
            next.updated_at = ctx.now;
            out.push(next);
        }
    }
    Ok(out)
}

fn erase(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    id: &RecordId,
    reason: Option<&str>,
) -> Result<Decision, DomainError> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    validate::notes("reason", reason)?;
    if let Some(r) = reason {
        validate::text("reason", r, MAX_TEXT_LEN)?;
    }
    let old = writable(view, ctx, id, None)?;
    let mut g = old.clone();
    g.meta = bumped(&old.meta);
    g.name = ERASED_NAME.to_string();
    g.email = None;
    g.phone = None;
    g.preferences = None;
    g.notes = None;
    g.erased = true;
    let bookings = anonymised_bookings(view, ctx, &g)?;
    let why = reason.unwrap_or("erasure requested");
    let mut audit = vec![AuditEntry {
        action: "guest.erase".into(),
        record: g.meta.id.clone(),
        detail: format!(
            "personal data erased ({} bookings anonymised here): {why}",
            bookings.len()
        ),
    }];
    audit.extend(bookings.iter().map(|b| AuditEntry {
        action: "booking.anonymise".into(),
        record: b.meta.id.clone(),
        detail: format!("guest {id} erased"),
    }));
    let related: Vec<Record> = bookings.into_iter().map(Record::Booking).collect();
    let mut writes = vec![Record::Guest(g.clone())];
    writes.extend(related.iter().cloned());
    Ok(Decision {
        writes,
        outcome: Outcome::Written {
            record: Record::Guest(g),
            related,
        },
        audit,
    })
}

/// On any server: the bookings it writes of a guest erased by its owner. The answer's main
/// record is the erased guest as held here (not written again); `related` lists the bookings
/// written, empty when there was nothing left to anonymise.
fn anonymise(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    guest: &RecordId,
) -> Result<Decision, DomainError> {
    let g = view
        .guest(guest)?
        .ok_or_else(|| DomainError::NotFound(format!("guest {guest}")))?;
    if !g.erased {
        return Err(DomainError::InvalidInput(format!(
            "guest {guest} is not erased; erase it on its owner first"
        )));
    }
    let bookings = anonymised_bookings(view, ctx, &g)?;
    let audit = bookings
        .iter()
        .map(|b| AuditEntry {
            action: "booking.anonymise".into(),
            record: b.meta.id.clone(),
            detail: format!("guest {guest} erased on its owner"),
        })
        .collect();
    let related: Vec<Record> = bookings.into_iter().map(Record::Booking).collect();
    Ok(Decision {
        writes: related.clone(),
        outcome: Outcome::Written {
            record: Record::Guest(g),
            related,
        },
        audit,
    })
}
