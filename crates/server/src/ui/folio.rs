//! A booking's folio in the UI: its entries per folio with their balances (derived), its
//! invoices (each printable), and forms to post a charge, take a payment or deposit, correct an
//! entry and issue an invoice. Each form runs the API's command with the API's permission;
//! the domain decides, and a refusal shows its reason on the page with nothing written.

use super::error::{UiError, UiResult};
use super::layout::{self, Nav};
use super::session::{Posted, UiUser};
use crate::api::invoice_money;
use crate::auth::Permission;
use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use innsync_core::ledger::decide_input::{ChargeInput, PaymentInput};
use innsync_core::ledger::{folio_balances, EntryKind, EntrySource, PaymentMethod};
use innsync_core::{Booking, Command, RecordId};
use innsync_store::ledger::Folio;
use maud::{html, Markup};
use serde::Deserialize;

/// What the page says after a form succeeded.
#[derive(Deserialize, Default)]
pub struct FolioQuery {
    #[serde(default)]
    done: String,
}

async fn load(state: &AppState, reference: &str) -> UiResult<(Booking, Folio, Option<String>)> {
    let id = RecordId::parse(reference)
        .map_err(|_| UiError::not_found(format!("booking {reference} does not exist")))?;
    let r = reference.to_string();
    let loaded = state
        .read(move |p| {
            let Some(b) = p.booking(&r)? else {
                return Ok(None);
            };
            let currency = p.property(&b.property)?.and_then(|p| p.currency);
            let folio = p.folio(&id)?;
            Ok(Some((b, folio, currency)))
        })
        .await?;
    loaded.ok_or_else(|| UiError::not_found(format!("booking {reference} does not exist")))
}

fn page(
    state: &AppState,
    user: &UiUser,
    b: &Booking,
    f: &Folio,
    currency: Option<&str>,
    notice: Option<Markup>,
) -> Markup {
    let cur = currency.unwrap_or("");
    let money = |a: i64| invoice_money(a, cur);
    let act = |a: &str| format!("/ui/folio/{}/{a}", b.meta.id);
    let desk = user.may(Permission::FrontDesk);
    let book = user.may(Permission::Book);
    let total: i64 = innsync_core::ledger::balance(&f.entries);
    let title = format!("Folio of {}", b.meta.id);
    let body = html! {
        div.pagehead {
            h1 { "Folio of " a href={ "/ui/bookings/" (b.meta.id) } { (b.meta.id) } }
            span { (b.guest_name) " · " (b.property) " · " (b.arrival) " to " (b.departure) }
            span.spacer {}
            strong data-testid="balance" { "Balance " (money(total)) }
        }
        @if let Some(n) = notice { (n) }
        @for fb in folio_balances(&f.entries) {
            section.card {
                h2 { "Folio " (fb.folio) " · balance " (money(fb.balance)) }
                table.list data-testid={ "folio-" (fb.folio) } {
                    thead { tr { th { "Date" } th { "Entry" } th { "What" } th { "Description" } th { "Tax" } th { "Amount" } th { "By" } } }
                    tbody {
                        @for e in f.entries.iter().filter(|e| e.folio == fb.folio) {
                            tr {
                                td { (e.business_date) }
                                td { (e.meta.id) }
                                td { (e.kind.as_str()) }
                                td { (e.description) }
                                td { (money(e.taxes.iter().map(|t| t.amount).sum())) }
                                td { (money(e.amount)) }
                                td { (e.author) " on " (e.meta.owner) }
                            }
                        }
                    }
                }
            }
        }
        @if !f.invoices.is_empty() {
            section.card {
                h2 { "Invoices" }
                ul {
                    @for i in &f.invoices {
                        li { a href={ "/ui/invoices/" (i.number) } { (i.number) } " · " (format!("{:?}", i.kind)) " · " (money(i.total)) }
                    }
                }
            }
        }
        div.cols {
            @if desk {
                section.card {
                    h2 { "Post a charge" }
                    form method="post" action=(act("charge")) {
                        (layout::csrf(user))
                        label { "Item code" input name="item" maxlength="16" placeholder="MINIBAR (optional)"; }
                        label { "Amount (minor units)" input name="amount" inputmode="numeric" placeholder="item price when empty"; }
                        label { "Quantity" input name="quantity" value="1" inputmode="numeric"; }
                        label { "Description" input name="description" maxlength="200"; }
                        label { "Folio" input name="folio" value="guest" maxlength="16"; }
                        button type="submit" data-action="charge" { "Post charge" }
                    }
                }
            }
            @if book {
                section.card {
                    h2 { "Take a payment" }
                    form method="post" action=(act("payment")) {
                        (layout::csrf(user))
                        label { "Kind" select name="kind" { option value="deposit" { "Deposit" } option value="payment" selected { "Payment" } option value="refund" { "Refund" } } }
                        label { "Method" select name="method" { option value="cash" { "Cash" } option value="card" { "Card" } option value="transfer" { "Transfer" } option value="agent_account" { "Agent account" } } }
                        label { "Amount (minor units)" input name="amount" required inputmode="numeric"; }
                        label { "Reference" input name="reference" maxlength="200" placeholder="receipt or last 4 digits; never a card number"; }
                        label { "Folio" input name="folio" value="guest" maxlength="16"; }
                        button type="submit" data-action="payment" { "Record payment" }
                    }
                }
            }
            @if desk {
                section.card {
                    h2 { "Correct an entry" }
                    form method="post" action=(act("correction")) {
                        (layout::csrf(user))
                        label { "Entry" input name="entry" required placeholder="WB-000123"; }
                        label { "Reason" input name="reason" required maxlength="500"; }
                        button.secondary type="submit" data-action="correction" { "Post correction" }
                    }
                    h2 { "Invoice" }
                    form method="post" action=(act("invoice")) {
                        (layout::csrf(user))
                        label { "Folio" input name="folio" value="guest" maxlength="16"; }
                        label { "Bill to" input name="bill_to" maxlength="200" placeholder="the guest when empty"; }
                        button type="submit" data-action="invoice" { "Issue invoice" }
                    }
                }
            }
        }
    };
    layout::page(
        user,
        state.writer.server().as_str(),
        Nav::Bookings,
        &title,
        body,
    )
}

/// GET `/ui/bookings/{reference}/folio`.
pub async fn show(
    user: UiUser,
    State(state): State<AppState>,
    Path(reference): Path<String>,
    Query(q): Query<FolioQuery>,
) -> UiResult<Response> {
    let (b, f, cur) = load(&state, &reference).await?;
    let notice = match q.done.as_str() {
        "charge" => Some(layout::done_box("Charge posted.")),
        "payment" => Some(layout::done_box("Payment recorded.")),
        "correction" => Some(layout::done_box("Correction posted.")),
        "invoice" => Some(layout::done_box("Invoice issued.")),
        _ => None,
    };
    Ok(page(&state, &user, &b, &f, cur.as_deref(), notice).into_response())
}

/// Every field any of the page's forms sends.
#[derive(Deserialize, Default)]
pub struct FolioForm {
    #[serde(default)]
    item: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    folio: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    entry: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    bill_to: String,
}

fn opt(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

fn number(field: &str, s: &str) -> Result<Option<i64>, Problem> {
    match opt(s) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            Problem::invalid(format!(
                "{field}: {v:?} is not a whole number of minor units"
            ))
        }),
    }
}

fn command(
    action: &str,
    booking: RecordId,
    f: FolioForm,
    currency: Option<String>,
) -> Result<(Command, Permission), Problem> {
    Ok(match action {
        "charge" => (
            Command::PostCharge(Box::new(ChargeInput {
                booking,
                folio: opt(&f.folio),
                item: opt(&f.item),
                description: opt(&f.description),
                amount: number("amount", &f.amount)?,
                quantity: number("quantity", &f.quantity)?
                    .map_or(Ok(1), u32::try_from)
                    .map_err(|_| Problem::invalid("quantity is out of range"))?,
                currency: None,
                source: EntrySource::Manual,
            })),
            Permission::FrontDesk,
        ),
        "payment" => (
            Command::TakePayment(Box::new(PaymentInput {
                booking,
                folio: opt(&f.folio),
                kind: match f.kind.as_str() {
                    "deposit" => EntryKind::Deposit,
                    "refund" => EntryKind::Refund,
                    _ => EntryKind::Payment,
                },
                method: PaymentMethod::parse(&f.method)
                    .ok_or_else(|| Problem::invalid("choose a payment method"))?,
                amount: number("amount", &f.amount)?
                    .ok_or_else(|| Problem::invalid("amount is required"))?,
                currency: currency.unwrap_or_default(),
                reference: opt(&f.reference),
                // Set from the server's setting in `act`.
                confirm_when_paid: false,
            })),
            Permission::Book,
        ),
        "correction" => (
            Command::CorrectEntry {
                booking,
                entry: RecordId::parse(f.entry.trim()).map_err(|_| {
                    Problem::invalid(format!("entry: {:?} is not an entry id", f.entry))
                })?,
                reason: f.reason,
            },
            Permission::FrontDesk,
        ),
        "invoice" => (
            Command::IssueInvoice {
                booking,
                folio: opt(&f.folio),
                bill_to: opt(&f.bill_to),
            },
            Permission::FrontDesk,
        ),
        other => {
            return Err(Problem::not_found(format!(
                "there is no folio action {other:?}"
            )))
        }
    })
}

/// POST `/ui/folio/{reference}/{action}`: charge, payment, correction or invoice.
pub async fn act(
    State(state): State<AppState>,
    Path((reference, action)): Path<(String, String)>,
    Posted { user, form }: Posted<FolioForm>,
) -> UiResult<Response> {
    let (b, _, currency) = load(&state, &reference).await?;
    let result = match command(&action, b.meta.id.clone(), form, currency) {
        Ok((mut cmd, perm)) => {
            if let Command::TakePayment(p) = &mut cmd {
                p.confirm_when_paid = state.settings.confirm_on_deposit;
            }
            user.require(perm)?;
            state
                .writer
                .submit(cmd, &user.username, None)
                .await
                .map_err(Problem::from)
        }
        Err(p) => Err(p),
    };
    match result {
        Ok(_) => Ok(
            Redirect::to(&format!("/ui/bookings/{reference}/folio?done={action}")).into_response(),
        ),
        Err(p) => {
            let (b, f, cur) = load(&state, &reference).await?;
            let status = if p.status.is_success() {
                axum::http::StatusCode::CONFLICT
            } else {
                p.status
            };
            let markup = page(
                &state,
                &user,
                &b,
                &f,
                cur.as_deref(),
                Some(layout::problem_box(&p)),
            );
            Ok((status, markup).into_response())
        }
    }
}

/// GET `/ui/invoices/{number}`: the printable invoice.
pub async fn invoice(
    _user: UiUser,
    State(state): State<AppState>,
    Path(number): Path<String>,
) -> UiResult<Response> {
    let n = number.clone();
    let found = state
        .read(move |p| {
            let Some(inv) = p.invoice(&n)? else {
                return Ok(None);
            };
            let prop = p.property(&inv.property)?;
            Ok(Some((inv, prop)))
        })
        .await?;
    let (inv, prop) =
        found.ok_or_else(|| UiError::not_found(format!("invoice {number} does not exist")))?;
    let html = crate::api::invoice_page(&inv, prop.as_ref());
    Ok((
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response())
}
