//! The checks of each server's end state alone: `converged`, `invariants`, `pending_drained`.

use super::{DbState, Final, Verdict};
use std::collections::BTreeSet;

/// `converged`: every server holds the same data after heal.
pub(super) fn converged(v: &mut Verdict, finals: &[Final]) {
    let digests: BTreeSet<&str> = finals.iter().map(|f| f.digest.as_str()).collect();
    if digests.len() != 1 || digests.contains("") {
        let list: Vec<String> = finals
            .iter()
            .map(|f| format!("{}={}", f.code, f.digest.get(..12).unwrap_or(&f.digest)))
            .collect();
        v.fail(
            "converged",
            format!("digests differ after heal: {}", list.join(" ")),
        );
    }
}

/// `invariants`: `innsync check` passes everywhere (a stock message is judged by
/// [`no_night_oversold`]).
pub(super) fn invariants(v: &mut Verdict, finals: &[Final], found: &[bool]) {
    for (i, f) in finals.iter().enumerate() {
        if let Err(e) = &f.invariants {
            // The stock rule is the last one innsync check tests: a stock message means every
            // other invariant held, and the night is judged above.
            let stock_only = e.contains("units sold") && e.contains("rooms in service");
            if !stock_only || !found[i] {
                v.fail("invariants", format!("innsync check on {}: {e}", f.code));
            }
        }
    }
}

/// `pending_drained`: no pending operation is left unfinished.
pub(super) fn pending_drained(v: &mut Verdict, finals: &[Final], states: &[DbState]) {
    for (f, s) in finals.iter().zip(states) {
        for (id, state, _) in &s.pending {
            if !matches!(state.as_str(), "done" | "failed" | "canceled") {
                v.fail(
                    "pending_drained",
                    format!("pending operation {id} on {} is still {state}", f.code),
                );
            }
        }
    }
}
