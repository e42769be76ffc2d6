//! Money in the fault harness. The workload adds ledger writes to the bookings it acts on,
//! without new draws (a seed's plan is unchanged): a deposit after a booking is confirmed, a
//! minibar charge after a check-in, a payment after a check-out, each sent to the server the
//! booking's operation went to (any server may post to a booking it holds). The checker's
//! `acknowledged_payments`: every ledger entry a client was told was written (201) is on
//! every server after heal — money acknowledged is never lost. The ledger's own invariants
//! (balance = sum of entries, an invoice's total = its entries, no entry ever changed, each
//! night charged once) are `innsync check`'s, which the `invariants` check runs everywhere.

use crate::check::{Final, Verdict};
use crate::history::{completions, Event, Outcome};
use crate::workload::Shared;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde_json::{json, Value};

/// The history's name of a ledger write.
pub const LEDGER_KIND: &str = "ledger";

/// A small amount in minor units derived from the reference (same booking, same amount).
fn amount_for(reference: &str, base: i64) -> i64 {
    let h: i64 = reference.bytes().map(i64::from).sum();
    base + (h % 50) * 10
}

/// After a booking operation `kind` acknowledged on `target`: the ledger write that follows
/// it at a front desk, if any (a deposit after `confirm`, a minibar after `check_in`, the
/// balance paid after `check_out`).
pub async fn after(
    shared: &Shared,
    process: &str,
    target: usize,
    kind: &str,
    reference: &str,
    outcome: &Outcome,
) {
    if !matches!(outcome, Outcome::Ok { status: 200 | 201 }) {
        return;
    }
    let (path, body) = match kind {
        "confirm" => (
            "payments",
            json!({"amount": amount_for(reference, 3_000), "currency": "ZAR",
                   "method": "transfer", "kind": "deposit", "reference": "chaos deposit"}),
        ),
        "check_in" => (
            "charges",
            json!({"amount": amount_for(reference, 1_000), "description": "Minibar (chaos)"}),
        ),
        "check_out" => (
            "payments",
            json!({"amount": amount_for(reference, 5_000), "currency": "ZAR",
                   "method": "card", "kind": "payment", "reference": "visa 1111"}),
        ),
        _ => return,
    };
    let path = format!("/api/v1/bookings/{reference}/{path}");
    let code = &shared.codes[target];
    let opid = shared.history.invoke(
        process,
        LEDGER_KIND,
        code,
        json!({"reference": reference, "path": path, "after": kind}),
    );
    let a = shared
        .client
        .post(&shared.bases[target], &path, &body)
        .await;
    let detail = json!({"reference": reference, "id": a.body["id"], "amount": a.body["amount"],
        "entry_kind": a.body["entry_kind"]});
    shared.history.complete(opid, a.outcome, detail);
}

/// The acknowledged ledger writes: (booking reference, entry id), from the history.
pub fn acknowledged(events: &[Event]) -> Vec<(String, String)> {
    let done = completions(events);
    events
        .iter()
        .filter(|e| e.kind == LEDGER_KIND && e.outcome == Outcome::Invoke)
        .filter_map(|e| done.get(&e.op))
        .filter(|c| c.outcome == Outcome::Ok { status: 201 })
        .filter_map(|c| {
            let r = c.detail["reference"].as_str()?;
            let id = c.detail["id"].as_str()?;
            Some((r.to_string(), id.to_string()))
        })
        .collect()
}

fn entry_on(db: &std::path::Path, booking: &str, id: &str) -> Result<bool, rusqlite::Error> {
    let c = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(c.query_row(
        "SELECT 1 FROM records WHERE kind = 'folio_entry' AND key = ?1",
        [format!("{booking}/{id}")],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

/// `acknowledged_payments`: every acknowledged ledger entry is on every server; the number
/// checked.
pub fn acknowledged_payments(v: &mut Verdict, events: &[Event], finals: &[Final]) -> usize {
    let acked = acknowledged(events);
    for (booking, id) in &acked {
        for f in finals {
            match entry_on(&f.db, booking, id) {
                Ok(true) => {}
                Ok(false) => v.violations.push(crate::check::Violation {
                    check: "acknowledged_payments",
                    detail: format!(
                        "ledger entry {id} of booking {booking} was acknowledged but is not on {}",
                        f.code
                    ),
                }),
                Err(e) => v.violations.push(crate::check::Violation {
                    check: "acknowledged_payments",
                    detail: format!("reading {}: {e}", f.db.display()),
                }),
            }
        }
    }
    acked.len()
}

/// The detail of an acknowledged ledger write, for tests.
pub fn ledger_detail(reference: &str, id: &str) -> Value {
    json!({"reference": reference, "id": id})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::History;

    #[test]
    fn an_acknowledged_entry_missing_on_a_server_is_a_violation() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        let c = Connection::open(&db).unwrap();
        c.execute_batch(
            "CREATE TABLE records (kind TEXT, key TEXT);
             INSERT INTO records VALUES ('folio_entry', 'WB-000001/WB-000002');",
        )
        .unwrap();
        let h = History::in_memory();
        let held = h.invoke("client-0", LEDGER_KIND, "WB", json!({}));
        h.complete(
            held,
            Outcome::Ok { status: 201 },
            ledger_detail("WB-000001", "WB-000002"),
        );
        let lost = h.invoke("client-0", LEDGER_KIND, "WB", json!({}));
        h.complete(
            lost,
            Outcome::Ok { status: 201 },
            ledger_detail("WB-000001", "WB-000003"),
        );
        let refused = h.invoke("client-0", LEDGER_KIND, "WB", json!({}));
        h.complete(
            refused,
            Outcome::Fail {
                status: 400,
                code: "invalid_input".into(),
            },
            ledger_detail("WB-000001", "WB-000004"),
        );
        let finals = [Final {
            code: "WB".into(),
            db,
            digest: String::new(),
            invariants: Ok(()),
        }];
        let mut v = Verdict::default();
        assert_eq!(acknowledged_payments(&mut v, &h.events(), &finals), 2);
        assert_eq!(v.violations.len(), 1, "{:?}", v.violations);
        assert!(v.violations[0].detail.contains("WB-000003"));
    }
}
