//! The checker's own tests: each check can fail.

use super::*;
use innsync_core::Record;

use BookingStatus::*;

#[test]
fn later_states_are_those_the_state_machine_reaches() {
    assert!(reachable(Confirmed, Confirmed));
    assert!(reachable(Provisional, CheckedOut));
    assert!(reachable(Confirmed, Cancelled));
    assert!(!reachable(Cancelled, Confirmed));
    assert!(!reachable(CheckedIn, Confirmed));
    assert!(!reachable(CheckedOut, CheckedIn));
}

fn fin(code: &str, digest: &str) -> Final {
    Final {
        code: code.into(),
        db: PathBuf::new(),
        digest: digest.into(),
        invariants: Ok(()),
    }
}

#[test]
fn two_claims_of_one_epoch_and_a_second_writer_are_violations() {
    let mut a = DbState::default();
    a.tokens.push(("RS".into(), 5, "RS".into(), 2));
    a.env_writes.push(("RS".into(), 6, 2));
    let mut b = DbState::default();
    b.tokens.push(("RA".into(), 3, "RA".into(), 2));
    b.env_writes.push(("RA".into(), 4, 2));
    b.env_writes.push(("RS".into(), 6, 2));
    let v = check(
        &[],
        &[fin("RS", "x"), fin("RA", "x")],
        &[a, b.clone()],
        "WB",
        StockRule::Strict,
    );
    let checks: Vec<&str> = v.violations.iter().map(|v| v.check).collect();
    assert!(checks.contains(&"one_master_per_epoch"), "{v:?}");
    // A fenced write does not count.
    b.fences.push(("RA".into(), 2, 3));
    let mut only_b = b.clone();
    only_b.env_writes.retain(|w| w.0 == "RA");
    only_b.tokens.clear();
    let v = check(&[], &[fin("RA", "x")], &[only_b], "WB", StockRule::Strict);
    assert!(v.violations.is_empty(), "{v:?}");
}

fn booking(id: &str, holder: &str, units: u32) -> innsync_core::Booking {
    let owner = if holder == "env" {
        innsync_core::Authority::Env
    } else {
        innsync_core::Authority::Server(innsync_core::ServerCode::parse(holder).unwrap())
    };
    let v = serde_json::json!({"kind": "booking", "id": id, "owner": owner, "version": 1,
        "property": "KRL", "room_type": "DLX", "arrival": "2026-12-02", "departure": "2026-12-04",
        "units": units, "guest_id": "WB-000001", "guest_name": id, "status": "confirmed",
        "hold_until": null, "holder": owner, "stays": [], "price": null, "notes": null,
        "cancel_reason": null, "created_on": "WB", "created_at": "2026-12-01T00:00:00Z",
        "updated_at": "2026-12-01T00:00:00Z"});
    match serde_json::from_value(v).unwrap() {
        Record::Booking(b) => b,
        _ => unreachable!(),
    }
}

#[test]
fn nights_sold_beyond_the_rooms_are_told_apart_by_who_sold_them() {
    let mut s = DbState::default();
    s.capacity.insert(("KRL".into(), "DLX".into()), 2);
    s.bookings.insert("PA-1".into(), booking("PA-1", "PA", 1));
    s.bookings.insert("WB-1".into(), booking("WB-1", "env", 2));
    let over = oversold(&s);
    assert_eq!(over.len(), 2, "both nights: {over:?}");
    assert!(over.iter().all(|o| o.3 == 3 && o.4 == 2 && !o.5));
    let f = [fin("PA", "x")];
    let lenient = check(
        &[],
        &f,
        &[s.clone()],
        "WB",
        StockRule::WholeInventoryPerAuthority,
    );
    assert!(lenient.violations.is_empty(), "{lenient:?}");
    assert_eq!(lenient.checked.cross_authority_oversold_nights, 2);
    let strict = check(&[], &f, &[s.clone()], "WB", StockRule::Strict);
    assert_eq!(strict.violations.len(), 2);
    // One authority alone beyond the rooms is always a violation.
    s.bookings.insert("WB-2".into(), booking("WB-2", "env", 1));
    let v = check(&[], &f, &[s], "WB", StockRule::WholeInventoryPerAuthority);
    assert!(
        v.violations
            .iter()
            .all(|x| x.detail.contains("one authority alone")),
        "{v:?}"
    );
    assert_eq!(v.violations.len(), 2);
}

#[test]
fn differing_digests_and_undrained_queues_are_violations() {
    let mut s = DbState::default();
    s.pending.push((3, "retry".into(), None));
    let v = check(
        &[],
        &[fin("WB", "a"), fin("RS", "b")],
        &[s, DbState::default()],
        "WB",
        StockRule::Strict,
    );
    let checks: Vec<&str> = v.violations.iter().map(|v| v.check).collect();
    assert_eq!(checks, vec!["converged", "pending_drained"]);
}
