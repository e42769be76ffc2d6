//! The checks of the master token: `one_master_per_epoch` and `epochs_grow`.

use super::{DbState, Final, Verdict};
use std::collections::{BTreeMap, BTreeSet};

/// The servers that claimed each epoch: the initial master holds epoch 1, every token written
/// claims its epoch for its server.
fn claims_by_epoch(states: &[DbState], initial_master: &str) -> BTreeMap<u64, BTreeSet<String>> {
    let mut claims: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    claims
        .entry(1)
        .or_default()
        .insert(initial_master.to_string());
    for s in states {
        for (_, _, server, epoch) in &s.tokens {
            claims.entry(*epoch).or_default().insert(server.clone());
        }
    }
    claims
}

/// `one_master_per_epoch`: on every server, the env writes that count (neither quarantined nor
/// fenced) of each epoch come from one of its claimants only.
pub(super) fn one_master_per_epoch(
    v: &mut Verdict,
    finals: &[Final],
    states: &[DbState],
    initial_master: &str,
) {
    let claims = claims_by_epoch(states, initial_master);
    v.checked.epochs = claims.len();
    // Two claims of one epoch (a takeover racing a handover) are allowed since disputed epochs
    // are settled (the claim that ranks first is the master everywhere, the others' env writes
    // fenced): what must hold is that only one claimant's env writes count, checked below.
    v.checked.disputed_epochs = claims.values().filter(|s| s.len() > 1).count();
    for (f, s) in finals.iter().zip(states) {
        let quarantined: BTreeSet<(&str, u64)> =
            s.conflicts.iter().map(|c| (c.0.as_str(), c.1)).collect();
        let fenced = |origin: &str, epoch: u64, seq: u64| {
            s.fences
                .iter()
                .any(|(srv, e, fseq)| srv == origin && *e == epoch && seq > *fseq)
        };
        let mut writers: BTreeMap<u64, BTreeSet<&str>> = BTreeMap::new();
        for (origin, seq, epoch) in &s.env_writes {
            if quarantined.contains(&(origin.as_str(), *seq)) || fenced(origin, *epoch, *seq) {
                continue;
            }
            writers.entry(*epoch).or_default().insert(origin.as_str());
        }
        for (epoch, origins) in writers {
            let master = claims.get(&epoch);
            if origins.len() > 1 {
                v.fail(
                    "one_master_per_epoch",
                    format!(
                        "on {}: env writes of epoch {epoch} from {origins:?} count as legitimate",
                        f.code
                    ),
                );
            } else if let Some(o) = origins.iter().next() {
                if master.is_some_and(|m| !m.contains(*o)) {
                    v.fail(
                        "one_master_per_epoch",
                        format!("on {}: {o} wrote env records at epoch {epoch}, whose master was {master:?}", f.code),
                    );
                }
            }
        }
    }
}

/// `epochs_grow`: on every server, the tokens each origin wrote have growing epochs.
pub(super) fn epochs_grow(v: &mut Verdict, finals: &[Final], states: &[DbState]) {
    for (f, s) in finals.iter().zip(states) {
        let mut last: BTreeMap<&str, u64> = BTreeMap::new();
        for (origin, seq, _, epoch) in &s.tokens {
            if let Some(prev) = last.insert(origin.as_str(), *epoch) {
                if *epoch <= prev {
                    v.fail(
                        "epochs_grow",
                        format!("on {}: {origin} wrote a token at epoch {epoch} (seq {seq}) after one at epoch {prev}", f.code),
                    );
                }
            }
        }
    }
}
