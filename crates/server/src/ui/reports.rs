//! The reports page: occupancy, ADR and RevPAR night by night and revenue by charge type for a
//! property over a range, drawn as inline SVG charts (no script, no chart library), with the
//! figures in tables below and how fresh they are (the last change held from each server).
//! It reads the same reports as `GET /api/v1/reports/…`.

use super::error::{UiError, UiResult};
use super::layout::{self, Nav};
use super::session::UiUser;
use crate::api::invoice_money;
use crate::state::AppState;
use axum::extract::{Query, State};
use chrono::{Days, NaiveDate};
use innsync_core::dates::{local_date, parse_tz, Nights};
use innsync_store::reports::{DepositBasis, Report};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use serde_json::Value;

/// Most nights the page charts (one occupancy read per night).
pub const MAX_CHART_NIGHTS: i64 = 31;
/// Chart size in SVG units.
const W: f64 = 640.0;
const H: f64 = 180.0;

/// The page's query: `?property=KRL&from=2027-01-01&to=2027-01-15`.
#[derive(Deserialize, Default)]
pub struct ReportsQuery {
    #[serde(default)]
    property: String,
    #[serde(default)]
    from: Option<NaiveDate>,
    #[serde(default)]
    to: Option<NaiveDate>,
}

/// One night's figures.
struct Night {
    date: NaiveDate,
    occupancy_bp: i64,
    adr: i64,
    revpar: i64,
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// The whole-property row (`room_type` `*`) of an occupancy report.
fn total_row(r: &Report) -> Option<&serde_json::Map<String, Value>> {
    r.rows
        .iter()
        .find(|row| row.get("room_type") == Some(&Value::from("*")))
}

/// GET `/ui/reports`.
pub async fn page(
    user: UiUser,
    State(state): State<AppState>,
    Query(q): Query<ReportsQuery>,
) -> UiResult<Markup> {
    let props = state.read(|r| r.properties()).await?;
    let Some(prop) = props
        .iter()
        .find(|p| p.code == q.property)
        .or_else(|| props.first())
        .cloned()
    else {
        return Err(UiError::not_found("no property yet".to_string()));
    };
    let tz = parse_tz(&prop.timezone).map_err(UiError::bad_request)?;
    let now = (state.clock)();
    let today = local_date(now, tz);
    let from = q.from.unwrap_or(today - Days::new(7));
    let to = q.to.unwrap_or(today + Days::new(7));
    if to <= from || (to - from).num_days() > MAX_CHART_NIGHTS {
        return Err(UiError::bad_request(format!(
            "the range must be 1 to {MAX_CHART_NIGHTS} nights; got {from} to {to}"
        )));
    }
    let code = prop.code.clone();
    let deposit = DepositBasis {
        now,
        fallback_bp: state.settings.deposit_bp,
    };
    let (nights, revenue) = state
        .read(move |r| {
            let mut nights = vec![];
            let mut d = from;
            while d < to {
                let next = d.succ_opt().unwrap_or(to);
                let one = Nights::new(d, next, 1).map_err(innsync_store::StoreError::Corrupt)?;
                let rep = r.report("occupancy", &code, one, deposit)?;
                if let Some(row) = total_row(&rep) {
                    nights.push(Night {
                        date: d,
                        occupancy_bp: int(&row["occupancy_bp"]),
                        adr: int(&row["adr"]),
                        revpar: int(&row["revpar"]),
                    });
                }
                d = next;
            }
            let range = Nights::new(from, to, MAX_CHART_NIGHTS)
                .map_err(innsync_store::StoreError::Corrupt)?;
            let revenue = r.report("revenue", &code, range, deposit)?;
            Ok((nights, revenue))
        })
        .await?;
    let cur = prop.currency.clone().unwrap_or_default();
    Ok(render(
        &state, &user, &props, &prop.code, from, to, &nights, &revenue, &cur,
    ))
}

/// A bar chart of `values` (one per label), scaled to the largest; `fmt` labels a bar.
fn bars(title: &str, labels: &[String], values: &[i64], fmt: &dyn Fn(i64) -> String) -> Markup {
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = values.len().max(1) as f64;
    let slot = W / n;
    let mut svg = format!(
        r#"<svg viewBox="0 0 {W} {h}" width="100%" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>"#,
        h = H + 30.0,
        t = maud::html! { (title) }.into_string(),
    );
    for (i, (l, v)) in labels.iter().zip(values).enumerate() {
        let bh = (*v.max(&0) as f64 / max) * (H - 20.0);
        let x = i as f64 * slot + slot * 0.15;
        let y = H - bh;
        let label = maud::html! { (l) ": " (fmt(*v)) }.into_string();
        svg.push_str(&format!(
            r##"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{bh:.1}" fill="#2f6f8f"><title>{label}</title></rect>"##,
            w = slot * 0.7
        ));
        if values.len() <= 16 || i % 2 == 0 {
            let short = maud::html! { (l.get(5..).unwrap_or(l)) }.into_string();
            svg.push_str(&format!(
                r#"<text x="{cx:.1}" y="{ty}" font-size="10" text-anchor="middle">{short}</text>"#,
                cx = x + slot * 0.35,
                ty = H + 14.0
            ));
        }
    }
    svg.push_str("</svg>");
    html! {
        figure.card {
            figcaption { strong { (title) } " · highest " (fmt(max as i64)) }
            (PreEscaped(svg))
        }
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "one page drawn from the figures read for it"
)]
fn render(
    state: &AppState,
    user: &UiUser,
    props: &[innsync_core::Property],
    property: &str,
    from: NaiveDate,
    to: NaiveDate,
    nights: &[Night],
    revenue: &Report,
    cur: &str,
) -> Markup {
    let money = |a: i64| invoice_money(a, cur);
    let pct = |bp: i64| format!("{}.{:02}%", bp / 100, bp % 100);
    let labels: Vec<String> = nights.iter().map(|n| n.date.to_string()).collect();
    let occ: Vec<i64> = nights.iter().map(|n| n.occupancy_bp).collect();
    let adr: Vec<i64> = nights.iter().map(|n| n.adr).collect();
    let revpar: Vec<i64> = nights.iter().map(|n| n.revpar).collect();
    let mut by_type: Vec<(String, i64)> = vec![];
    for row in &revenue.rows {
        let kind = row.get("kind").and_then(Value::as_str).unwrap_or("");
        // Money received is not revenue: charges and taxes only.
        if !matches!(kind, "charge" | "tax") {
            continue;
        }
        let item = row.get("item").and_then(Value::as_str).unwrap_or("");
        let name = if item.is_empty() {
            kind.to_string()
        } else {
            format!("{kind} {item}")
        };
        by_type.push((name, row.get("gross").map_or(0, int)));
    }
    let type_labels: Vec<String> = by_type.iter().map(|t| t.0.clone()).collect();
    let type_values: Vec<i64> = by_type.iter().map(|t| t.1).collect();
    let body = html! {
        div.pagehead {
            h1 { "Reports" }
            span.muted { (property) " · " (from) " to " (to) " (nights before " (to) ")" }
        }
        form method="get" action="/ui/reports" {
            label { "Property " select name="property" {
                @for p in props {
                    option value=(p.code) selected[p.code == property] { (p.code) " · " (p.name) }
                }
            } }
            label { " From " input type="date" name="from" value=(from); }
            label { " To " input type="date" name="to" value=(to); }
            button type="submit" { "Show" }
        }
        div.cols {
            (bars("Occupancy", &labels, &occ, &pct))
            (bars("ADR (average daily rate)", &labels, &adr, &money))
            (bars("RevPAR (revenue per available room)", &labels, &revpar, &money))
            (bars("Revenue by charge type", &type_labels, &type_values, &money))
        }
        section.card {
            h2 { "Night by night" }
            table.list data-testid="occupancy" {
                thead { tr { th { "Night" } th { "Occupancy" } th { "ADR" } th { "RevPAR" } } }
                tbody {
                    @for n in nights {
                        tr { td { (n.date) } td { (pct(n.occupancy_bp)) } td { (money(n.adr)) } td { (money(n.revpar)) } }
                    }
                }
            }
        }
        section.card {
            h2 { "Revenue by charge type" }
            table.list data-testid="revenue" {
                thead { tr { th { "Type" } th { "Gross" } } }
                tbody {
                    @for (name, v) in &by_type {
                        tr { td { (name) } td { (money(*v)) } }
                    }
                }
            }
            p.muted {
                "What this server holds; last change from each server: "
                @for f in &revenue.freshness {
                    (f.origin) " " (f.last_change_at.as_deref().unwrap_or("none")) "; "
                }
            }
        }
    };
    layout::page(
        user,
        state.writer.server().as_str(),
        Nav::Environment,
        "Reports",
        body,
    )
}
