//! Booking for an agent or tour operator on the new-booking form: the agent picker (the agents
//! `GET /api/v1/agents` lists), the agent's contracted rate plan preselected when the agent is
//! picked (an htmx swap of the plan field), and the commission the booking would carry shown
//! beside the price. The booking itself is the API's `CreateReservation` with `agent`; the core
//! applies the contracted plan and decides the commission, and a booking for an agent whose
//! allotment another server holds is sent there (a forwarded pending operation), as the API's
//! `?forward=true` does.

use super::error::UiResult;
use super::session::UiUser;
use super::words::Names;
use crate::state::AppState;
use axum::extract::{Query, State};
use innsync_core::agent::{commission, Agent};
use innsync_core::pricing::PricingPlan;
use innsync_core::{Authority, Money, Record};
use maud::{html, Markup};
use serde::Deserialize;

/// Most agents the picker lists.
pub const MAX_AGENTS: usize = 1_000;

/// Every agent, by name.
pub async fn agents(state: &AppState) -> UiResult<Vec<Agent>> {
    let mut list: Vec<Agent> = state
        .read(|r| r.records_of_kind("agent", MAX_AGENTS))
        .await?
        .into_iter()
        .filter_map(|r| match r {
            Record::Agent(a) => Some(a),
            _ => None,
        })
        .collect();
    list.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
    Ok(list)
}

/// The agent `code` names among `list`.
pub fn find<'a>(list: &'a [Agent], code: &str) -> Option<&'a Agent> {
    let code = code.trim();
    list.iter().find(|a| !code.is_empty() && a.code == code)
}

/// A commission in basis points as the front desk says it (`12.5 %`).
pub fn percent(bp: u32) -> String {
    let whole = bp / 100;
    match bp % 100 {
        0 => format!("{whole} %"),
        r if r % 10 == 0 => format!("{whole}.{} %", r / 10),
        r => format!("{whole}.{r:02} %"),
    }
}

/// The agent picker of the form; picking one swaps in the plan field with the agent's
/// contracted plan selected.
pub fn picker(list: &[Agent], chosen: &str) -> Markup {
    html! {
        label.wide { "Sold for an agent"
            select name="agent" data-testid="agent"
                hx-get="/ui/bookings/new/plan" hx-target="#plan-field" hx-swap="innerHTML"
                hx-include="[name='agent'],[name='stock'],[name='rate_plan']"
                hx-sync="this:replace" {
                option value="" { "No agent (direct booking)" }
                @for a in list {
                    option value=(a.code) selected[a.code == chosen] {
                        (a.spec.name) " (" (a.code) ") · commission " (percent(a.spec.commission_bp))
                    }
                }
            }
        }
    }
}

/// The plan `select`'s value for the agent's contracted plan: at the chosen property, else at
/// the first property that has a plan of that code.
pub fn contracted_choice(
    agent: Option<&Agent>,
    stock: &str,
    plans: &[(String, Vec<PricingPlan>)],
) -> Option<String> {
    let code = agent?.spec.rate_plan.as_deref()?;
    let property = stock.split_once('/').map(|(p, _)| p);
    let has = |p: &str| {
        plans
            .iter()
            .any(|(c, l)| c == p && l.iter().any(|x| x.code == code))
    };
    match property {
        Some(p) if has(p) => Some(format!("{p}/{code}")),
        _ => plans
            .iter()
            .find(|(c, _)| has(c))
            .map(|(c, _)| format!("{c}/{code}")),
    }
}

/// The plan field's inside: the select with `selected` chosen.
pub fn plan_select(plans: &[(String, Vec<PricingPlan>)], selected: &str) -> Markup {
    html! {
        label { "Rate plan"
            select name="rate_plan" data-testid="rate-plan" {
                option value="" { "Nightly rates" }
                @for (code, list) in plans {
                    @if !list.is_empty() {
                        optgroup label=(code) {
                            @for p in list {
                                @let v = format!("{code}/{}", p.code);
                                option value=(v) selected[v == selected] { (code) " · " (p.spec.name) " (" (p.code) ")" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The query of the plan swap.
#[derive(Deserialize, Default)]
pub struct PlanQuery {
    #[serde(default)]
    agent: String,
    #[serde(default)]
    stock: String,
    #[serde(default)]
    rate_plan: String,
}

/// GET `/ui/bookings/new/plan`: the plan field again, with the picked agent's contracted plan
/// selected (the plan chosen before when the agent has none).
pub async fn plan_field(
    _user: UiUser,
    State(state): State<AppState>,
    Query(q): Query<PlanQuery>,
) -> UiResult<Markup> {
    let list = agents(&state).await?;
    let plans = super::booking_new::plan_choices(&state).await?;
    let selected = contracted_choice(find(&list, &q.agent), &q.stock, &plans).unwrap_or(
        if q.agent.trim().is_empty() {
            q.rate_plan
        } else {
            String::new()
        },
    );
    Ok(plan_select(&plans, &selected))
}

/// What the live panel says about the agent: the commission on the quoted price and, when the
/// agent's allotment is held elsewhere, that the booking is sent there.
pub fn summary(names: &Names, a: &Agent, price: Option<&Money>) -> Markup {
    let holder = a.spec.holder.as_ref().map(|h| Authority::Server(h.clone()));
    html! {
        div.notice.info data-testid="agent-summary" {
            "For " strong { (a.spec.name) } ": commission " (percent(a.spec.commission_bp))
            @if let Some(m) = price {
                " = " strong data-testid="commission" { (super::format::money(&Money { amount: commission(m.amount, a.spec.commission_bp), currency: m.currency.clone() })) }
            }
            @if let Some(p) = &a.spec.rate_plan { "; contracted plan " (p) }
            @if let Some(t) = &a.spec.payment_terms { "; payment terms: " (t) }
            "."
            @if let Some(h) = holder.filter(|h| !names.writable_here(h)) {
                " Its rooms are sold from " (names.holder(&h)) "'s allotment: the booking is sent there."
            }
        }
    }
}

/// Whether a booking for `a` is written on another server (its allotment's holder).
pub fn sold_elsewhere(names: &Names, a: &Agent) -> bool {
    a.spec
        .holder
        .as_ref()
        .is_some_and(|h| !names.writable_here(&Authority::Server(h.clone())))
}

#[cfg(test)]
mod tests {
    use super::percent;

    #[test]
    fn commission_in_percent() {
        assert_eq!(percent(1000), "10 %");
        assert_eq!(percent(1250), "12.5 %");
        assert_eq!(percent(1234), "12.34 %");
        assert_eq!(percent(5), "0.05 %");
    }
}
