//! An invoice or credit note as a printable HTML page (`GET /api/v1/invoices/{number}` with
//! `Accept: text/html`): the issuing server's series is stated on it, amounts are shown in the
//! currency's major units from the stored minor units (no floating point).

use innsync_core::ledger::{Invoice, InvoiceKind};
use innsync_core::Property;
use maud::{html, DOCTYPE};

/// Currencies without minor units (ISO 4217 exponent 0).
const NO_MINOR_UNITS: [&str; 8] = ["JPY", "KRW", "ISK", "CLP", "VND", "UGX", "XAF", "XOF"];

/// An amount in minor units written in major units (`1234.50`), exactly.
pub(crate) fn money(amount: i64, currency: &str) -> String {
    if NO_MINOR_UNITS.contains(&currency) {
        return format!("{amount} {currency}");
    }
    let sign = if amount < 0 { "-" } else { "" };
    let a = amount.unsigned_abs();
    format!("{sign}{}.{:02} {currency}", a / 100, a % 100)
}

/// The printable page.
pub(crate) fn render(inv: &Invoice, property: Option<&Property>) -> String {
    let title = match inv.kind {
        InvoiceKind::Invoice => "Invoice",
        InvoiceKind::CreditNote => "Credit note",
    };
    let cur = inv.currency.as_str();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " " (inv.number) }
                style { "body{font-family:sans-serif;max-width:48rem;margin:2rem auto}table{width:100%;border-collapse:collapse}td,th{padding:.3rem;border-bottom:1px solid #ccc;text-align:left}td.n,th.n{text-align:right}@media print{.noprint{display:none}}" }
            }
            body {
                h1 { (title) " " span data-testid="invoice-number" { (inv.number) } }
                p {
                    (property.map_or(inv.property.as_str(), |p| p.name.as_str()))
                    " · series of server " strong { (inv.series) } " for " (inv.year)
                    " (each server numbers its own invoices without gaps)"
                }
                @if let Some(c) = &inv.credits {
                    p { "Cancels invoice " strong { (c) } @if let Some(r) = &inv.reason { ": " (r) } }
                }
                p { "Bill to: " strong { (inv.bill_to) } br; "Booking " (inv.booking) ", folio " (inv.folio) }
                p { "Issued " (inv.business_date) " by " (inv.issued_by) }
                table {
                    thead { tr { th { "Date" } th { "Description" } th.n { "Tax" } th.n { "Amount" } } }
                    tbody {
                        @for l in &inv.lines {
                            tr {
                                td { (l.date) }
                                td { (l.description) }
                                td.n { (money(l.taxes.iter().map(|t| t.amount).sum(), cur)) }
                                td.n { (money(l.amount, cur)) }
                            }
                        }
                    }
                    tfoot {
                        tr { th colspan="2" { "Total" } th.n { (money(inv.tax_total, cur)) } th.n data-testid="invoice-total" { (money(inv.total, cur)) } }
                        tr { th colspan="3" { "Paid" } th.n { (money(inv.paid, cur)) } }
                        tr { th colspan="3" { "Balance due" } th.n data-testid="invoice-due" { (money(inv.balance_due(), cur)) } }
                    }
                }
                p.noprint { button onclick="window.print()" { "Print" } }
            }
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests {
    use super::money;

    #[test]
    fn amounts_are_written_exactly_in_major_units() {
        assert_eq!(money(123_450, "ZAR"), "1234.50 ZAR");
        assert_eq!(money(-5, "EUR"), "-0.05 EUR");
        assert_eq!(money(1_500, "JPY"), "1500 JPY");
    }
}
