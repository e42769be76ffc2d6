//! Balances, always derived from the entries (never stored): what the guest owes on each folio
//! is the sum of its entries' amounts.

use super::{EntryKind, FolioEntry};
use crate::ids::RecordId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One folio's figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolioBalance {
    /// The folio's name.
    pub folio: String,
    /// What is owed: the sum of every entry (negative: in credit).
    pub balance: i64,
    /// Charges and taxes posted (corrections of them included).
    pub charges: i64,
    /// Money received net of refunds, as a positive number.
    pub paid: i64,
    /// Entries on the folio.
    pub entries: usize,
}

/// What the guest owes on a set of entries: their sum.
pub fn balance<'a>(entries: impl IntoIterator<Item = &'a FolioEntry>) -> i64 {
    entries.into_iter().map(|e| e.amount).sum()
}

/// Whether an entry moves money (payment, deposit, refund, or the correction of one), given
/// the kinds of the booking's entries.
pub fn settles(e: &FolioEntry, kinds: &BTreeMap<&RecordId, EntryKind>) -> bool {
    match e.kind {
        EntryKind::Correction => e
            .corrects
            .as_ref()
            .and_then(|c| kinds.get(c))
            .is_some_and(|k| k.is_settlement()),
        k => k.is_settlement(),
    }
}

/// Every folio of a booking with its balance, in name order (the guest folio always present).
pub fn folio_balances(entries: &[FolioEntry]) -> Vec<FolioBalance> {
    let kinds: BTreeMap<&RecordId, EntryKind> =
        entries.iter().map(|e| (&e.meta.id, e.kind)).collect();
    let mut out: BTreeMap<&str, FolioBalance> = BTreeMap::new();
    out.insert(
        super::GUEST_FOLIO,
        FolioBalance {
            folio: super::GUEST_FOLIO.to_string(),
            balance: 0,
            charges: 0,
            paid: 0,
            entries: 0,
        },
    );
    for e in entries {
        let f = out.entry(e.folio.as_str()).or_insert_with(|| FolioBalance {
            folio: e.folio.clone(),
            balance: 0,
            charges: 0,
            paid: 0,
            entries: 0,
        });
        f.balance += e.amount;
        f.entries += 1;
        if settles(e, &kinds) {
            f.paid -= e.amount;
        } else if e.kind != EntryKind::Transfer {
            f.charges += e.amount;
        }
    }
    out.into_values().collect()
}

/// The entries already netted out by a correction.
pub fn corrected(entries: &[FolioEntry]) -> BTreeSet<RecordId> {
    entries.iter().filter_map(|e| e.corrects.clone()).collect()
}
