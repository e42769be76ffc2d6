//! Allotment grants, by hand, by request and by standing rule: only the giver decides a grant,
//! and only from units it holds and has not sold (see [`crate::allotment`]).

use super::reference::{property_of, room_type_of};
use super::{fresh, validate, AuditEntry, Ctx, Decision, Outcome};
use crate::allotment::{
    first_ungivable, first_unsellable, held_nights, plan_release, plan_top_up, AllotmentRule,
    HeldNight, PlannedGrant, MAX_GRANT_UNITS, MAX_RULE_GRANTS,
};
use crate::command::Command;
use crate::dates::{local_date, parse_tz, Nights};
use crate::error::DomainError;
use crate::ids::{Authority, IdSource};
use crate::limits::{MAX_RANGE_NIGHTS, MAX_TEXT_LEN};
use crate::record::{AllotmentGrant, Property, Record};
use crate::state_view::StateView;
use chrono::{Days, NaiveDate};

pub(super) fn decide_allotments(
    cmd: &Command,
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
) -> Result<Decision, DomainError> {
    match cmd {
        Command::GrantAllotment {
            property,
            room_type,
            from,
            to,
            units,
            to_holder,
            from_holder,
            reason,
        } => {
            let giver = from_holder.clone().unwrap_or_else(|| ctx.write_authority());
            let g = grant(
                view,
                ids,
                ctx,
                Grant {
                    property,
                    room_type,
                    from: *from,
                    to: *to,
                    units: *units,
                    giver: &giver,
                    receiver: to_holder,
                    reason: reason.as_deref().unwrap_or("by hand"),
                },
            )?;
            let detail = describe(&g);
            Ok(Decision::one(Record::AllotmentGrant(g), cmd.name(), detail))
        }
        Command::RunAllotmentRule { rule } => run_rule(view, ids, ctx, rule),
        _ => unreachable!("allotments::decide called for {}", cmd.name()),
    }
}

/// What a holder has of a room type on each night, derived from the store's facts.
pub(super) fn held(
    view: &dyn StateView,
    prop: &Property,
    room_type: &str,
    holder: &Authority,
    nights: Nights,
) -> Result<Vec<HeldNight>, DomainError> {
    let facts = view.holder_facts(&prop.code, room_type, holder, nights)?;
    debug_assert_eq!(facts.len(), nights.len());
    Ok(held_nights(&facts, &prop.meta.owner == holder))
}

/// Refuses unless `holder` can sell `units` more on every night: from its own unsold units,
/// and within the rooms the night has free as far as this server knows.
pub(super) fn ensure_sellable(
    nights: &[HeldNight],
    prop: &Property,
    room_type: &str,
    holder: &Authority,
    units: u32,
) -> Result<(), DomainError> {
    let Some(short) = first_unsellable(nights, units) else {
        return Ok(());
    };
    // Say why in the terms that help: the holder's own allotment when other holders still have
    // units that night, else the night itself.
    let night_free = short.in_service.saturating_sub(short.sold);
    if short.unsold() < units && short.unsold() < night_free {
        return Err(DomainError::AllotmentShort {
            holder: holder.clone(),
            property: prop.code.clone(),
            room_type: room_type.to_string(),
            night: short.night,
            held: short.held,
            held_sold: short.held_sold,
            requested: units,
        });
    }
    Err(DomainError::NoAvailability {
        property: prop.code.clone(),
        room_type: room_type.to_string(),
        night: short.night,
        requested: units,
        free: short.in_service.saturating_sub(short.sold),
        in_service: short.in_service,
    })
}

struct Grant<'a> {
    property: &'a str,
    room_type: &'a str,
    from: NaiveDate,
    to: NaiveDate,
    units: u32,
    giver: &'a Authority,
    receiver: &'a Authority,
    reason: &'a str,
}

fn today_at(prop: &Property, ctx: &Ctx<'_>) -> Result<NaiveDate, DomainError> {
    let tz = parse_tz(&prop.timezone).map_err(DomainError::InvalidInput)?;
    Ok(local_date(ctx.now, tz))
}

/// Checks a grant against every rule and builds its record.
fn grant(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    g: Grant<'_>,
) -> Result<AllotmentGrant, DomainError> {
    ctx.ensure_writable(g.giver)?;
    let prop = property_of(view, g.property)?;
    room_type_of(view, g.property, g.room_type)?;
    check_holders(ctx, g.giver, g.receiver)?;
    if g.units == 0 || g.units > MAX_GRANT_UNITS {
        return Err(DomainError::InvalidInput(format!(
            "units must be between 1 and {MAX_GRANT_UNITS}; got {}",
            g.units
        )));
    }
    let nights = Nights::new(g.from, g.to, MAX_RANGE_NIGHTS).map_err(DomainError::InvalidInput)?;
    let today = today_at(&prop, ctx)?;
    if g.from < today {
        return Err(DomainError::InvalidInput(format!(
            "night {} is in the past at {} (today there is {today}); only tonight and later can be granted",
            g.from, g.property
        )));
    }
    validate::name("reason", g.reason)?;
    validate::text("reason", g.reason, MAX_TEXT_LEN)?;
    let have = held(view, &prop, g.room_type, g.giver, nights)?;
    if let Some(short) = first_ungivable(&have, g.units) {
        return Err(DomainError::AllotmentShort {
            holder: g.giver.clone(),
            property: g.property.to_string(),
            room_type: g.room_type.to_string(),
            night: short.night,
            held: short.held,
            held_sold: short.held_sold,
            requested: g.units,
        });
    }
    Ok(AllotmentGrant {
        meta: fresh(ids, g.giver.clone()),
        property: g.property.to_string(),
        room_type: g.room_type.to_string(),
        from: g.from,
        to: g.to,
        units: g.units,
        giver: g.giver.clone(),
        receiver: g.receiver.clone(),
        reason: g.reason.trim().to_string(),
        at: ctx.now,
    })
}

fn check_holders(
    ctx: &Ctx<'_>,
    giver: &Authority,
    receiver: &Authority,
) -> Result<(), DomainError> {
    for (who, a) in [("from_holder", giver), ("to_holder", receiver)] {
        if !ctx.may_hold(a) {
            let known: Vec<String> = std::iter::once("env".to_string())
                .chain(ctx.holders.iter().map(|s| format!("server:{s}")))
                .collect();
            return Err(DomainError::InvalidInput(format!(
                "{who} {a} cannot hold allotments here; holders are {}",
                known.join(", ")
            )));
        }
    }
    if giver == receiver {
        return Err(DomainError::InvalidInput(format!(
            "a grant moves units between two holders; {giver} would give to itself"
        )));
    }
    Ok(())
}

fn describe(g: &AllotmentGrant) -> String {
    format!(
        "{}/{} {}..{} x{} from {} to {} ({})",
        g.property, g.room_type, g.from, g.to, g.units, g.giver, g.receiver, g.reason
    )
}

/// Whether an operator may put a quarantined grant back: the giver must still be able to give
/// it (checked like a new grant, except for the date, which was legitimate when decided).
pub(super) fn check_restorable(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    g: &AllotmentGrant,
) -> Result<(), DomainError> {
    let prop = property_of(view, &g.property)?;
    room_type_of(view, &g.property, &g.room_type)?;
    check_holders(ctx, &g.giver, &g.receiver)?;
    if g.meta.owner != g.giver {
        return Err(DomainError::InvalidInput(format!(
            "grant {} is owned by {} but gives from {}",
            g.meta.id, g.meta.owner, g.giver
        )));
    }
    let nights = Nights::new(g.from, g.to, MAX_RANGE_NIGHTS).map_err(DomainError::InvalidInput)?;
    let have = held(view, &prop, &g.room_type, &g.giver, nights)?;
    if let Some(short) = first_ungivable(&have, g.units) {
        return Err(DomainError::AllotmentShort {
            holder: g.giver.clone(),
            property: g.property.clone(),
            room_type: g.room_type.clone(),
            night: short.night,
            held: short.held,
            held_sold: short.held_sold,
            requested: g.units,
        });
    }
    Ok(())
}

/// Runs one standing rule: the parts of it this server writes for.
fn run_rule(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    rule: &AllotmentRule,
) -> Result<Decision, DomainError> {
    let mut d = Decision {
        writes: vec![],
        outcome: Outcome::Granted { ids: vec![] },
        audit: vec![],
    };
    // A rule for a property this server has not heard of yet waits for it.
    let Some(prop) = view.property(&rule.property)? else {
        return Ok(d);
    };
    let owner = prop.meta.owner.clone();
    if rule.holder == owner || !ctx.may_hold(&rule.holder) {
        return Ok(d);
    }
    let today = today_at(&prop, ctx)?;
    let types = if rule.room_types.is_empty() {
        view.room_type_codes(&rule.property)?
    } else {
        rule.room_types.clone()
    };
    let day = |n: u32| today + Days::new(u64::from(n));
    let reason = format!("rule {}", rule.name);
    let mut planned: Vec<(String, Authority, Authority, PlannedGrant)> = Vec::new();
    for ty in types {
        if view.room_type(&rule.property, &ty)?.is_none() {
            continue;
        }
        // The owner tops the holder up beyond the release window.
        if ctx.ensure_writable(&owner).is_ok() && rule.days_ahead > rule.release_days {
            let nights = Nights {
                from: day(rule.release_days),
                to: day(rule.days_ahead),
            };
            let theirs = held(view, &prop, &ty, &rule.holder, nights)?;
            let ours = held(view, &prop, &ty, &owner, nights)?;
            for p in plan_top_up(rule.units, &theirs, &ours) {
                planned.push((ty.clone(), owner.clone(), rule.holder.clone(), p));
            }
        }
        // The holder gives back what it has not sold inside the release window.
        if rule.release_days > 0 && ctx.ensure_writable(&rule.holder).is_ok() {
            let nights = Nights {
                from: today,
                to: day(rule.release_days),
            };
            let ours = held(view, &prop, &ty, &rule.holder, nights)?;
            for p in plan_release(&ours) {
                planned.push((ty.clone(), rule.holder.clone(), owner.clone(), p));
            }
        }
    }
    planned.truncate(MAX_RULE_GRANTS);
    let mut granted = vec![];
    for (ty, giver, receiver, p) in planned {
        let g = AllotmentGrant {
            meta: fresh(ids, giver.clone()),
            property: rule.property.clone(),
            room_type: ty,
            from: p.nights.from,
            to: p.nights.to,
            units: p.units,
            giver,
            receiver,
            reason: reason.clone(),
            at: ctx.now,
        };
        d.audit.push(AuditEntry {
            action: "allotment.grant".into(),
            record: g.meta.id.clone(),
            detail: describe(&g),
        });
        granted.push(g.meta.id.clone());
        d.writes.push(Record::AllotmentGrant(g));
    }
    d.outcome = Outcome::Granted { ids: granted };
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allotment::HolderFacts;

    #[test]
    fn a_sale_beyond_the_own_allotment_names_the_holder() {
        let prop = Property {
            meta: crate::Meta::new(
                crate::RecordId::parse("PA-000001").unwrap(),
                Authority::Server(crate::ServerCode::parse("PA").unwrap()),
                1,
            ),
            code: "KRL".into(),
            name: "Kraal".into(),
            timezone: "UTC".into(),
            currency: None,
        };
        let night: NaiveDate = "2026-12-01".parse().unwrap();
        let facts = [HolderFacts {
            night,
            in_service: 10,
            sold: 3,
            net_granted: 2,
            held_sold: 2,
        }];
        let env = held_nights(&facts, false);
        match ensure_sellable(&env, &prop, "DLX", &Authority::Env, 1) {
            Err(DomainError::AllotmentShort {
                held, held_sold, ..
            }) => {
                assert_eq!((held, held_sold), (2, 2))
            }
            other => panic!("{other:?}"),
        }
        let full = [HolderFacts {
            sold: 10,
            held_sold: 0,
            ..facts[0]
        }];
        assert!(matches!(
            ensure_sellable(&held_nights(&full, true), &prop, "DLX", &prop.meta.owner, 1),
            Err(DomainError::NoAvailability { .. })
        ));
    }
}
