//! Records on the move (DESIGN.md §5): giving a record to another owner, taking in a copy from
//! elsewhere, deleting a record or a linked copy. Every one is decided where the record is
//! owned — a transfer by the old owner, who alone may still write it — and every copy says
//! where it came from, so a chain can be followed back to its master copy.

use super::reference::property_of;
use super::{bumped, fresh, validate, AuditEntry, Ctx, Decision, Outcome};
use crate::command::{Command, CopyRequest, OnDuplicate};
use crate::dates::{local_date, parse_tz};
use crate::error::DomainError;
use crate::ids::{Authority, IdSource, RecordId};
use crate::limits::MAX_TEXT_LEN;
use crate::record::{
    AllotmentGrant, CopyKind, Guest, Property, Provenance, Record, RecordKind, RoomType, Tombstone,
};
use crate::state_view::StateView;
use serde_json::{Map, Value};

/// Kinds whose ownership may move: a property's own records (rooms, rates) stay with the
/// property's owner, as the environment file says.
pub const TRANSFERABLE: [RecordKind; 3] =
    [RecordKind::Booking, RecordKind::Guest, RecordKind::Note];
/// Kinds a copy may become here.
pub const IMPORTABLE: [RecordKind; 3] = [
    RecordKind::Guest,
    RecordKind::Property,
    RecordKind::RoomType,
];
/// Kinds that may be deleted (nothing else refers to them in a way that deletion would break).
pub const DELETABLE: [RecordKind; 3] = [RecordKind::Booking, RecordKind::Guest, RecordKind::Note];

pub(super) fn decide_distribution(
    cmd: &Command,
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
) -> Result<Decision, DomainError> {
    match cmd {
        Command::TransferOwnership {
            kind,
            key,
            to,
            reason,
        } => transfer(view, ids, ctx, *kind, key, to, reason),
        Command::ImportCopy { copy } => import(view, ids, ctx, copy),
        Command::DeleteRecord { kind, key, reason } => {
            let rec = existing(view, *kind, key)?;
            if rec.meta().is_linked_copy() {
                return Err(DomainError::InvalidInput(format!(
                    "{} {key} is a linked copy of {}; delete the master copy there",
                    kind.as_str(),
                    source_of(&rec)
                )));
            }
            delete(view, ctx, rec, reason)
        }
        Command::DeleteCopy {
            kind,
            from_environment,
            from_id,
        } => {
            let rec = view
                .find_copy(*kind, from_environment.as_deref(), from_id)?
                .ok_or_else(|| {
                    DomainError::NotFound(format!("a copy of {} {from_id}", kind.as_str()))
                })?;
            if !rec.meta().is_linked_copy() {
                return Err(DomainError::InvalidInput(format!(
                    "{} {} is an independent copy: it belongs here now and is not deleted by its source",
                    kind.as_str(),
                    rec.key()
                )));
            }
            delete(
                view,
                ctx,
                rec,
                &format!(
                    "deleted at its source {}",
                    source_of_id(from_environment.as_deref(), from_id)
                ),
            )
        }
        _ => unreachable!("distribution::decide called for {}", cmd.name()),
    }
}

fn source_of(rec: &Record) -> String {
    rec.meta().provenance.as_ref().map_or_else(
        || "its source".to_string(),
        |p| source_of_id(p.from_environment.as_deref(), &p.from_id),
    )
}

fn source_of_id(env: Option<&str>, id: &RecordId) -> String {
    match env {
        Some(e) => format!("{id} in environment {e}"),
        None => id.to_string(),
    }
}

fn existing(view: &dyn StateView, kind: RecordKind, key: &str) -> Result<Record, DomainError> {
    view.record(kind, key)?
        .ok_or_else(|| DomainError::NotFound(format!("{} {key}", kind.as_str())))
}

/// Gives a record to `to`: its next version, owned by `to`, saying where it came from. A live
/// booking takes its units along (a grant from its old holder to its new one), so the new owner
/// sells nothing twice and the old one loses nothing it had not sold.
fn transfer(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    kind: RecordKind,
    key: &str,
    to: &Authority,
    reason: &str,
) -> Result<Decision, DomainError> {
    if !TRANSFERABLE.contains(&kind) {
        return Err(DomainError::InvalidInput(format!(
            "{} records stay with their property's owner; only bookings, guests and notes change owner",
            kind.as_str()
        )));
    }
    validate::name("reason", reason)?;
    validate::text("reason", reason, MAX_TEXT_LEN)?;
    let old = existing(view, kind, key)?;
    let from = old.meta().owner.clone();
    ctx.ensure_writable(&from)?;
    if old.meta().is_linked_copy() {
        return Err(DomainError::InvalidInput(format!(
            "{} {key} is a linked copy of {}; it cannot change owner",
            kind.as_str(),
            source_of(&old)
        )));
    }
    if !ctx.may_own(to) {
        return Err(DomainError::InvalidInput(format!(
            "{to} is not a server of this environment"
        )));
    }
    if *to == from {
        return Err(DomainError::InvalidInput(format!(
            "{} {key} is owned by {to} already",
            kind.as_str()
        )));
    }
    let to_archive = matches!(to, Authority::Server(s) if ctx.archives.contains(s));
    let mut next = old.clone();
    let mut writes = vec![];
    if let Record::Booking(b) = &mut next {
        let prop = property_of(view, &b.property)?;
        if let Authority::Server(s) = to {
            let owns_any = ctx.property_owners.iter().any(|(_, o)| o == s);
            let owns_this = ctx.property_authority(&b.property) == *to;
            if owns_any && !owns_this {
                return Err(DomainError::InvalidInput(format!(
                    "{s} is the property server of other properties; it takes bookings of its own properties only, not of {}",
                    b.property
                )));
            }
        }
        if b.status.holds_stock() {
            if to_archive {
                return Err(DomainError::InvalidInput(format!(
                    "booking {key} is {}; the archive takes closed bookings only",
                    b.status.as_str().replace('_', " ")
                )));
            }
            let tz = parse_tz(&prop.timezone).map_err(DomainError::InvalidInput)?;
            let today = local_date(ctx.now, tz);
            if b.arrival < today {
                return Err(DomainError::InvalidInput(format!(
                    "booking {key} began on {}; a booking keeps its owner once its stay has begun",
                    b.arrival
                )));
            }
            // The units go with the booking: the old holder gives them, the new one takes them.
            writes.push(Record::AllotmentGrant(AllotmentGrant {
                meta: fresh(ids, b.holder.clone()),
                property: b.property.clone(),
                room_type: b.room_type.clone(),
                from: b.arrival,
                to: b.departure,
                units: b.units,
                giver: b.holder.clone(),
                receiver: to.clone(),
                reason: format!("booking {key} transferred to {to}"),
                at: ctx.now,
            }));
        }
        b.holder = to.clone();
        b.updated_at = ctx.now;
    }
    let meta = next.meta_mut();
    *meta = bumped(meta);
    meta.owner = to.clone();
    let step = format!(
        "{}: owner {from} -> {to} ({reason})",
        ctx.now.format("%Y-%m-%d %H:%M")
    );
    match &mut meta.provenance {
        Some(p) => p.push(step),
        None => {
            meta.provenance = Some(Box::new(Provenance {
                from_environment: None,
                from_server: ctx.server.clone(),
                from_owner: from.clone(),
                from_id: meta.id.clone(),
                copy: CopyKind::Transferred,
                history: vec![step],
            }))
        }
    }
    let detail = format!("{} {key} from {from} to {to}: {reason}", kind.as_str());
    let mut d = Decision::one(next, "record.transfer", detail);
    for w in &writes {
        d.audit.push(AuditEntry {
            action: "allotment.grant".into(),
            record: w.meta().id.clone(),
            detail: format!("units of {key} go with it to {to}"),
        });
    }
    writes.append(&mut d.writes);
    d.writes = writes;
    Ok(d)
}

/// Deletes a record: a tombstone at its next version takes its place, so an older version
/// arriving later never brings it back.
fn delete(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    rec: Record,
    reason: &str,
) -> Result<Decision, DomainError> {
    let kind = rec.kind();
    let key = rec.key();
    if !DELETABLE.contains(&kind) {
        return Err(DomainError::InvalidInput(format!(
            "{} records are not deleted; only guests, notes and closed bookings are",
            kind.as_str()
        )));
    }
    validate::name("reason", reason)?;
    validate::text("reason", reason, MAX_TEXT_LEN)?;
    ctx.ensure_writable(&rec.meta().owner)?;
    match &rec {
        Record::Booking(b) if b.status.holds_stock() => {
            return Err(DomainError::InvalidInput(format!(
                "booking {key} is {}; cancel it before deleting it",
                b.status.as_str().replace('_', " ")
            )))
        }
        Record::Guest(g) if view.guest_in_use(&g.meta.id)? => {
            return Err(DomainError::InvalidInput(format!(
                "guest {key} is the guest of a booking; delete or keep the bookings first"
            )))
        }
        _ => {}
    }
    let t = Tombstone {
        meta: bumped(rec.meta()),
        deleted_kind: kind,
        deleted_key: key.clone(),
        reason: reason.trim().to_string(),
        at: ctx.now,
        merged_into: None,
    };
    let mut d = Decision::one(
        Record::Tombstone(t),
        "record.delete",
        format!("{} {key} deleted: {}", kind.as_str(), reason.trim()),
    );
    // The answer shows what was deleted, as it was.
    d.outcome = Outcome::Written {
        record: rec,
        related: vec![],
    };
    Ok(d)
}

fn text(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, DomainError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(DomainError::InvalidInput(format!(
            "field {name} of the copy must be text; got {other}"
        ))),
    }
}

fn required(fields: &Map<String, Value>, name: &str) -> Result<String, DomainError> {
    text(fields, name)?.ok_or_else(|| {
        DomainError::InvalidInput(format!("the copy lacks its required field {name}"))
    })
}

/// The fields a copy of `kind` may carry; anything else is refused rather than dropped.
fn allowed_fields(kind: RecordKind) -> &'static [&'static str] {
    match kind {
        RecordKind::Guest => &["name", "email", "phone"],
        RecordKind::Property => &["code", "name", "timezone", "currency"],
        RecordKind::RoomType => &["property", "code", "name", "max_occupancy"],
        _ => &[],
    }
}

/// Takes in a copy: matched against an earlier copy of the same source record, then against
/// `match_fields`; created, overwritten or refused as its policy says.
#[allow(
    clippy::too_many_lines,
    reason = "one decision read top to bottom: match the copy, then create, overwrite or refuse as its policy says"
)]
fn import(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    c: &CopyRequest,
) -> Result<Decision, DomainError> {
    if !IMPORTABLE.contains(&c.kind) {
        return Err(DomainError::InvalidInput(format!(
            "a copy cannot become a {} here; copies become guests, properties or room types",
            c.kind.as_str()
        )));
    }
    if c.provenance.copy == CopyKind::Transferred {
        return Err(DomainError::InvalidInput(
            "a copy is linked or independent; ownership moves only within an environment".into(),
        ));
    }
    let allowed = allowed_fields(c.kind);
    if let Some(f) = c.fields.keys().find(|f| !allowed.contains(&f.as_str())) {
        return Err(DomainError::InvalidInput(format!(
            "a {} has no field {f}; its fields are {}",
            c.kind.as_str(),
            allowed.join(", ")
        )));
    }
    if let Some(f) = c
        .match_fields
        .iter()
        .find(|f| !allowed.contains(&f.as_str()))
    {
        return Err(DomainError::InvalidInput(format!(
            "match field {f} is not a field of {}",
            c.kind.as_str()
        )));
    }
    let earlier = view.find_copy(
        c.kind,
        c.provenance.from_environment.as_deref(),
        &c.provenance.from_id,
    )?;
    let matched = match &earlier {
        Some(_) => None,
        None if c.match_fields.is_empty() => None,
        None => {
            let mut want = vec![];
            for f in &c.match_fields {
                let v = c.fields.get(f).cloned().unwrap_or(Value::Null);
                want.push((f.clone(), v));
            }
            view.find_by_fields(c.kind, &want)?
        }
    };
    let target = match (earlier, matched, c.on_duplicate) {
        // The same source record again: a linked copy is brought up to date; an independent
        // copy has a life of its own and is left alone (a re-delivery changes nothing).
        (Some(e), _, _) if c.provenance.copy == CopyKind::Independent => {
            return Ok(Decision {
                writes: vec![],
                outcome: Outcome::Written {
                    record: e,
                    related: vec![],
                },
                audit: vec![],
            })
        }
        (Some(e), _, _) => Some(e),
        (None, Some(m), OnDuplicate::Error) => {
            return Err(DomainError::AlreadyExists(format!(
                "{} {} matches the copy on {}",
                c.kind.as_str(),
                m.key(),
                c.match_fields.join(", ")
            )))
        }
        (None, Some(m), OnDuplicate::Overwrite) => Some(m),
        (None, Some(_), OnDuplicate::NewId) | (None, None, _) => None,
    };
    if let Some(t) = &target {
        ctx.ensure_writable(&t.meta().owner)?;
        let same_source = t.meta().provenance.as_ref().is_some_and(|p| {
            p.from_environment == c.provenance.from_environment && p.from_id == c.provenance.from_id
        });
        if t.meta().is_linked_copy() && !same_source {
            return Err(DomainError::InvalidInput(format!(
                "{} {} is a linked copy of {}; a copy from elsewhere cannot overwrite it",
                c.kind.as_str(),
                t.key(),
                source_of(t)
            )));
        }
    }
    let owner = match &target {
        Some(t) => t.meta().owner.clone(),
        None => match c.kind {
            RecordKind::Property => ctx.property_authority(&required(&c.fields, "code")?),
            RecordKind::RoomType => {
                property_of(view, &required(&c.fields, "property")?)?
                    .meta
                    .owner
            }
            _ => ctx.write_authority(),
        },
    };
    ctx.ensure_writable(&owner)?;
    let mut provenance = c.provenance.clone();
    provenance.push(format!(
        "{}: copied in as {}",
        ctx.now.format("%Y-%m-%d %H:%M"),
        c.kind.as_str()
    ));
    let meta = match &target {
        Some(t) => {
            let mut m = bumped(t.meta());
            m.provenance = Some(Box::new(provenance));
            m
        }
        None => {
            let mut m = fresh(ids, owner);
            m.provenance = Some(Box::new(provenance));
            m
        }
    };
    let rec = match c.kind {
        RecordKind::Guest => {
            let name = required(&c.fields, "name")?;
            validate::name("name", &name)?;
            let email = text(&c.fields, "email")?;
            let phone = text(&c.fields, "phone")?;
            validate::contact(email.as_deref(), phone.as_deref())?;
            Record::Guest(Guest::new(meta, name.trim().to_string(), email, phone))
        }
        RecordKind::Property => {
            let code = required(&c.fields, "code")?;
            validate::code("code", &code)?;
            let name = required(&c.fields, "name")?;
            validate::name("name", &name)?;
            let timezone = required(&c.fields, "timezone")?;
            parse_tz(&timezone).map_err(DomainError::InvalidInput)?;
            let currency = text(&c.fields, "currency")?;
            if let Some(cur) = &currency {
                validate::currency(cur)?;
            }
            if target.is_none() && view.property(&code)?.is_some() {
                return Err(DomainError::AlreadyExists(format!("property {code}")));
            }
            Record::Property(Property {
                meta,
                code,
                name: name.trim().to_string(),
                timezone,
                currency,
            })
        }
        RecordKind::RoomType => {
            let property = required(&c.fields, "property")?;
            let code = required(&c.fields, "code")?;
            validate::code("code", &code)?;
            let name = required(&c.fields, "name")?;
            validate::name("name", &name)?;
            let max_occupancy = c
                .fields
                .get("max_occupancy")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| (1..=50).contains(n))
                .ok_or_else(|| {
                    DomainError::InvalidInput(
                        "max_occupancy of the copy must be a whole number from 1 to 50".into(),
                    )
                })?;
            if target.is_none() && view.room_type(&property, &code)?.is_some() {
                return Err(DomainError::AlreadyExists(format!(
                    "room type {code} at {property}"
                )));
            }
            Record::RoomType(RoomType {
                meta,
                property,
                code,
                name: name.trim().to_string(),
                max_occupancy,
            })
        }
        _ => unreachable!("checked against IMPORTABLE"),
    };
    if let Some(t) = &target {
        if t.key() != rec.key() {
            return Err(DomainError::InvalidInput(format!(
                "the copy would change {} {} into {}; a copy keeps its code",
                c.kind.as_str(),
                t.key(),
                rec.key()
            )));
        }
    }
    let detail = format!(
        "{} {} copied from {}",
        c.kind.as_str(),
        rec.key(),
        source_of_id(
            c.provenance.from_environment.as_deref(),
            &c.provenance.from_id
        )
    );
    Ok(Decision::one(rec, "record.import_copy", detail))
}
