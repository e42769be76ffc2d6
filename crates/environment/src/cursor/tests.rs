//! Tests of cursor planning: examples, garbled batches, and the exactly-once-in-order property.

use super::*;
use crate::config::Fingerprint;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, PartialEq, Eq)]
struct Ch(ServerCode, u64);

impl Sequenced for Ch {
    fn origin(&self) -> &ServerCode {
        &self.0
    }
    fn seq(&self) -> u64 {
        self.1
    }
}

const FP: Fingerprint = Fingerprint([7; 32]);
const ORIGINS: [&str; 3] = ["WB", "RS", "PA"];

fn code(s: &str) -> ServerCode {
    ServerCode::parse(s).unwrap()
}
fn known() -> BTreeSet<ServerCode> {
    ORIGINS.iter().map(|s| code(s)).collect()
}
fn ch(o: &str, seq: u64) -> Ch {
    Ch(code(o), seq)
}
fn batch(changes: Vec<Ch>) -> Batch<Ch> {
    Batch {
        fingerprint: FP,
        changes,
    }
}

#[test]
fn next_changes_apply_old_ones_skip_and_gaps_hold() {
    let cursors = CursorMap::from([(code("WB"), 2)]);
    let b = batch(vec![
        ch("WB", 1),
        ch("RS", 1),
        ch("WB", 3),
        ch("PA", 2),
        ch("WB", 4),
        ch("RS", 2),
        ch("PA", 3),
        ch("WB", 6),
    ]);
    let plan = plan_batch(&cursors, &FP, &known(), &b).unwrap();
    use ChangeDecision::*;
    assert_eq!(
        plan.decisions,
        vec![SkipDuplicate, Apply, Apply, Hold, Apply, Apply, Hold, Hold]
    );
    assert_eq!(
        plan.gaps,
        vec![
            Gap {
                origin: code("PA"),
                expected: 1,
                got: 2
            },
            Gap {
                origin: code("WB"),
                expected: 5,
                got: 6
            },
        ]
    );
    assert_eq!(
        plan.cursors_after,
        CursorMap::from([(code("WB"), 4), (code("RS"), 2)])
    );
}

#[test]
fn garbled_batches_are_refused_whole() {
    let c = CursorMap::new();
    let wrong = Batch {
        fingerprint: Fingerprint([8; 32]),
        changes: vec![ch("WB", 1)],
    };
    assert!(matches!(
        plan_batch(&c, &FP, &known(), &wrong),
        Err(GarbledBatch::WrongEnvironment { .. })
    ));
    let back = batch(vec![ch("WB", 1), ch("RS", 1), ch("WB", 1)]);
    assert_eq!(
        plan_batch(&c, &FP, &known(), &back),
        Err(GarbledBatch::NotIncreasing {
            origin: code("WB"),
            index: 2,
            seq: 1,
            previous: 1
        })
    );
    let zero = batch(vec![ch("WB", 0)]);
    assert!(matches!(
        plan_batch(&c, &FP, &known(), &zero),
        Err(GarbledBatch::ZeroSeq { .. })
    ));
    let stranger = batch(vec![ch("ZZ", 1)]);
    assert!(matches!(
        plan_batch(&c, &FP, &known(), &stranger),
        Err(GarbledBatch::UnknownOrigin { .. })
    ));
    let huge = batch(
        (1..=crate::limits::MAX_BATCH_CHANGES as u64 + 1)
            .map(|s| ch("WB", s))
            .collect(),
    );
    assert!(matches!(
        plan_batch(&c, &FP, &known(), &huge),
        Err(GarbledBatch::TooLarge { .. })
    ));
}

#[test]
fn covers_and_behind_compare_cursor_maps() {
    let master = CursorMap::from([(code("WB"), 10), (code("PA"), 3)]);
    let target = CursorMap::from([(code("WB"), 7), (code("PA"), 3), (code("RS"), 4)]);
    assert!(!target.covers(&master));
    assert_eq!(target.behind(&master), BTreeMap::from([(code("WB"), 3)]));
    let caught_up = CursorMap::from([(code("WB"), 10), (code("PA"), 5)]);
    assert!(caught_up.covers(&master));
}

#[test]
fn hold_buffer_releases_runs_in_order_and_is_bounded() {
    let mut h = HoldBuffer::with_capacity(3);
    assert!(h.hold(ch("WB", 3)));
    assert!(h.hold(ch("WB", 2)));
    assert!(!h.hold(ch("WB", 2)), "already held");
    assert!(h.hold(ch("WB", 5)));
    assert!(!h.hold(ch("WB", 6)), "full");
    assert_eq!(h.take_ready(&CursorMap::new()), vec![]);
    assert_eq!(
        h.take_ready(&CursorMap::from([(code("WB"), 1)])),
        vec![ch("WB", 2), ch("WB", 3)]
    );
    assert_eq!(h.len(), 1);
    // 5 arrived by another route meanwhile: it is dropped, not applied twice.
    assert_eq!(h.take_ready(&CursorMap::from([(code("WB"), 5)])), vec![]);
    assert!(h.is_empty());
}

/// One delivery: for each origin, some of its seqs (sorted, distinct); `order` interleaves them.
fn make_batch(picks: &[(usize, u64)], order: &[usize]) -> Batch<Ch> {
    let mut per_origin: Vec<Vec<u64>> = vec![Vec::new(); ORIGINS.len()];
    for &(o, s) in picks {
        per_origin[o].push(s);
    }
    for v in &mut per_origin {
        v.sort_unstable();
        v.dedup();
    }
    let mut next = vec![0usize; ORIGINS.len()];
    let mut changes = Vec::new();
    // Interleave origins following `order`, then whatever is left, origin by origin.
    for &o in order {
        let o = o % ORIGINS.len();
        if let Some(&s) = per_origin[o].get(next[o]) {
            changes.push(ch(ORIGINS[o], s));
            next[o] += 1;
        }
    }
    for (o, seqs) in per_origin.iter().enumerate() {
        changes.extend(seqs[next[o]..].iter().map(|&s| ch(ORIGINS[o], s)));
    }
    batch(changes)
}

/// Runs deliveries through plan + hold buffer and returns what was applied, in order.
fn replicate(deliveries: &[Batch<Ch>], capacity: usize) -> (Vec<Ch>, CursorMap) {
    let mut cursors = CursorMap::new();
    let mut held = HoldBuffer::with_capacity(capacity);
    let mut applied = Vec::new();
    for b in deliveries {
        let plan = plan_batch(&cursors, &FP, &known(), b).unwrap();
        for (c, d) in b.changes.iter().zip(&plan.decisions) {
            match d {
                ChangeDecision::Apply => applied.push(c.clone()),
                ChangeDecision::Hold => {
                    held.hold(c.clone());
                }
                ChangeDecision::SkipDuplicate => {}
            }
        }
        cursors = plan.cursors_after;
        for c in held.take_ready(&cursors) {
            cursors.set(c.0.clone(), c.1).unwrap();
            applied.push(c);
        }
    }
    (applied, cursors)
}

proptest! {
    #[test]
    fn any_duplicated_reordered_delivery_applies_each_change_once_in_order(
        len in 1u64..30,
        deliveries in prop::collection::vec(
            (prop::collection::vec((0usize..3, 1u64..30), 0..40), prop::collection::vec(0usize..3, 0..60)),
            0..12,
        ),
        capacity in 0usize..20,
    ) {
        let mut batches: Vec<Batch<Ch>> = deliveries
            .iter()
            .map(|(picks, order)| {
                let picks: Vec<(usize, u64)> = picks.iter().filter(|(_, s)| *s <= len).copied().collect();
                make_batch(&picks, order)
            })
            .collect();
        // In the end the peer sends everything from the start (a full re-pull).
        let all: Vec<(usize, u64)> = (0..3).flat_map(|o| (1..=len).map(move |s| (o, s))).collect();
        batches.push(make_batch(&all, &[]));

        let (applied, cursors) = replicate(&batches, capacity);
        for (o, name) in ORIGINS.iter().enumerate() {
            let seqs: Vec<u64> = applied.iter().filter(|c| c.0.as_str() == *name).map(|c| c.1).collect();
            prop_assert_eq!(&seqs, &(1..=len).collect::<Vec<_>>(), "origin {}", o);
            prop_assert_eq!(cursors.get(&code(name)), len);
        }
    }

    #[test]
    fn a_batch_with_an_origin_out_of_order_is_always_refused(
        seqs in prop::collection::vec(1u64..50, 2..20),
    ) {
        let increasing = seqs.windows(2).all(|w| w[0] < w[1]);
        let b = batch(seqs.iter().map(|&s| ch("RS", s)).collect());
        let r = plan_batch(&CursorMap::new(), &FP, &known(), &b);
        prop_assert_eq!(r.is_ok(), increasing);
    }
}
