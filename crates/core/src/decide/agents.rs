//! Agents and tour operators (`PutAgent`): created under this server's authority (the
//! environment on the master), replaced only where owned, every field checked and named; and
//! the agent of a new booking — its contracted plan and commission, and the rule that a booking
//! for an agent with a contracted allotment is sold by the allotment's holder.

use super::{bumped, fresh, validate, Ctx, Decision};
use crate::agent::{Agent, AgentSpec, MAX_COMMISSION_BP};
use crate::error::DomainError;
use crate::ids::{Authority, IdSource};
use crate::record::{Record, RecordKind};
use crate::state_view::StateView;

/// Most characters of an agent's payment terms.
pub const MAX_TERMS_LEN: usize = 500;

/// Looks an agent up by code.
pub(super) fn agent(view: &dyn StateView, code: &str) -> Result<Option<Agent>, DomainError> {
    Ok(match view.record(RecordKind::Agent, code)? {
        Some(Record::Agent(a)) => Some(a),
        _ => None,
    })
}

/// The agent a new booking is sold for: it must exist, and when it has a contracted allotment
/// the booking is written by its holder (forwardable: `not_owner` names the holder).
pub(super) fn for_sale(
    view: &dyn StateView,
    ctx: &Ctx<'_>,
    code: &str,
) -> Result<Agent, DomainError> {
    let a = agent(view, code)?
        .ok_or_else(|| DomainError::InvalidInput(format!("agent: no agent {code}")))?;
    if let Some(h) = &a.spec.holder {
        let holder = Authority::Server(h.clone());
        if ctx.write_authority() != holder {
            return Err(DomainError::NotOwner { owner: holder });
        }
    }
    Ok(a)
}

fn check(ctx: &Ctx<'_>, code: &str, s: &AgentSpec) -> Result<(), DomainError> {
    validate::code("code", code)?;
    validate::name("name", &s.name)?;
    if let Some(c) = &s.contact {
        validate::name("contact", c)?;
    }
    validate::contact(s.email.as_deref(), s.phone.as_deref())?;
    if s.commission_bp > MAX_COMMISSION_BP {
        return Err(DomainError::InvalidInput(format!(
            "commission_bp: at most {MAX_COMMISSION_BP} (100 %); got {}",
            s.commission_bp
        )));
    }
    if let Some(p) = &s.rate_plan {
        validate::code("rate_plan", p)?;
    }
    if let Some(t) = &s.payment_terms {
        validate::text("payment_terms", t, MAX_TERMS_LEN)?;
    }
    if let Some(h) = &s.holder {
        if !ctx.holders.contains(h) {
            return Err(DomainError::InvalidInput(format!(
                "holder: {h} is not a server of this environment that may hold allotments"
            )));
        }
    }
    Ok(())
}

/// Creates or replaces an agent.
pub(super) fn put(
    view: &dyn StateView,
    ids: &mut dyn IdSource,
    ctx: &Ctx<'_>,
    code: &str,
    spec: &AgentSpec,
    if_match: Option<u64>,
) -> Result<Decision, DomainError> {
    check(ctx, code, spec)?;
    let current = agent(view, code)?;
    let actual = current.as_ref().map_or(0, |a| a.meta.version);
    if let Some(v) = if_match {
        if v != actual {
            return Err(DomainError::VersionConflict {
                expected: v,
                actual,
            });
        }
    }
    let meta = match &current {
        Some(a) => {
            ctx.ensure_writable(&a.meta.owner)?;
            bumped(&a.meta)
        }
        None => {
            let owner = ctx.write_authority();
            ctx.ensure_writable(&owner)?;
            fresh(ids, owner)
        }
    };
    let a = Agent {
        meta,
        code: code.to_string(),
        spec: spec.clone(),
    };
    let detail = format!(
        "{} {} ({}), commission {} bp",
        if current.is_some() {
            "replaced"
        } else {
            "created"
        },
        a.spec.name,
        a.code,
        a.spec.commission_bp
    );
    Ok(Decision::one(Record::Agent(a), "agent.put", detail))
}
