//! The one fencing rule (DESIGN.md §4, §6): which env writes count, derived from the claims to
//! be master that a server has seen. The store runs it in production and the deterministic
//! simulation runs it in `innsync-chaos`; there is no other implementation.
//!
//! A **claim** is a master token as it was written: "`server` is master of `epoch`", made by a
//! handover grant or by a forced takeover, which also carries a [`Fence`] — the last change of
//! the old master that the taker had. From the set of claims a server has seen:
//!
//! - the **master of an epoch** is its claim that ranks first ([`Claim::rank`]): a takeover before
//!   a grant, then the higher server code;
//! - the **effective fence** of `(server, epoch)` is the lowest seq among every fence a claim
//!   carries for it, and seq 0 for a server any of whose claims to that epoch is outranked by
//!   another server's claim (a losing claimant wrote its env records of that epoch without the
//!   right to);
//! - an env write `(origin, epoch, seq)` is **legitimate** iff no effective fence of
//!   `(origin, epoch)` lies below `seq`. Server-owned writes are never fenced.
//!
//! Why every server ends with the same answer, whatever order claims, fences and changes arrive
//! in: the set of claims only grows (set union: commutative, associative, idempotent), and the
//! effective fences are a function of that set alone, built from `min` and from a total order
//! on claims — so two servers that have seen the same claims hold the same fences, and fences
//! only ever tighten as claims are added. A server applies a change, and later learns a tighter
//! fence, or learns the fence first and quarantines the change at the door: either way the
//! change ends up outside, and each record ends at its highest legitimate version.
//!
//! The rule is deliberately conservative: a losing takeover's fence counts too, so a change
//! the winning master had may be quarantined. It is never lost (it waits in `conflicts` for an
//! operator), and a monotone rule needs no un-quarantining, which no order of arrival could
//! make agree.

use crate::ids::ServerCode;
use crate::record::{Fence, MasterToken};
use std::collections::{BTreeMap, BTreeSet};

/// Most claims a server keeps; a takeover or a handover adds one, so this is years of them.
/// Beyond it the oldest epochs' claims are still kept in the store; the bound is asserted so a
/// runaway loop of takeovers is seen.
pub const MAX_CLAIMS: usize = 100_000;

/// A claim to be master of an epoch: a master token as it was written.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Claim {
    /// The epoch claimed.
    pub epoch: u64,
    /// The server that is master from that epoch on, by this claim.
    pub server: ServerCode,
    /// Made by a forced takeover (rather than granted by the previous master).
    pub takeover: bool,
    /// The line the takeover drew under the old master's log.
    pub fence: Option<FenceAt>,
}

/// A fence as plain, ordered data: the old master's env writes of `epoch` after `seq` do not
/// count.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FenceAt {
    /// The old master.
    pub server: ServerCode,
    /// Its epoch.
    pub epoch: u64,
    /// Its last change that counts.
    pub seq: u64,
}

impl From<&Fence> for FenceAt {
    fn from(f: &Fence) -> Self {
        Self {
            server: f.server.clone(),
            epoch: f.epoch,
            seq: f.seq,
        }
    }
}

impl From<&MasterToken> for Claim {
    fn from(t: &MasterToken) -> Self {
        Self {
            epoch: t.epoch,
            server: t.server.clone(),
            takeover: t.fence.is_some(),
            fence: t.fence.as_ref().map(FenceAt::from),
        }
    }
}

impl Claim {
    /// How this claim ranks against another claim to the same epoch (higher ranks first): a
    /// forced takeover before a grant, then the higher server code. Total, so every server picks
    /// the same master of an epoch.
    pub fn rank(&self) -> (bool, &ServerCode) {
        (self.takeover, &self.server)
    }
}

/// Whether master token `new` takes the place of `old` at the same epoch: the rank of
/// [`Claim::rank`], so the token record every server keeps is the epoch's master's; between
/// two tokens of one claim (the same server granted the same epoch twice, by two servers that
/// each believed they were master), the rest of the token decides, so the order is total and
/// every server keeps the same token whatever order they arrived in.
pub fn token_outranks(new: &MasterToken, old: &MasterToken) -> bool {
    token_key(new) > token_key(old)
}

type TokenKey<'a> = (
    (bool, &'a ServerCode),
    &'a ServerCode,
    Option<(&'a ServerCode, u64, u64)>,
    &'a str,
    &'a str,
);

fn token_key(t: &MasterToken) -> TokenKey<'_> {
    (
        (t.fence.is_some(), &t.server),
        &t.granted_by,
        t.fence.as_ref().map(|f| (&f.server, f.epoch, f.seq)),
        t.reason.as_str(),
        t.meta.id.as_str(),
    )
}

/// The effective fence of every `(server, epoch)` that has one, from a set of claims: the pure
/// function both production and the simulation use.
pub fn effective_fences<'a>(
    claims: impl IntoIterator<Item = &'a Claim>,
) -> BTreeMap<(ServerCode, u64), u64> {
    let mut fences: BTreeMap<(ServerCode, u64), u64> = BTreeMap::new();
    let mut tighten = |server: &ServerCode, epoch: u64, seq: u64| {
        fences
            .entry((server.clone(), epoch))
            .and_modify(|s| *s = (*s).min(seq))
            .or_insert(seq);
    };
    let mut by_epoch: BTreeMap<u64, Vec<&Claim>> = BTreeMap::new();
    for c in claims {
        if let Some(f) = &c.fence {
            tighten(&f.server, f.epoch, f.seq);
        }
        by_epoch.entry(c.epoch).or_default().push(c);
    }
    for (epoch, cs) in by_epoch {
        // A claim outranked by another server's claim to the same epoch fences its server there.
        // (Not "every server but the master": a server may claim one epoch twice — granted it
        // and taking it over — and a rule by the winner alone would un-fence it when its
        // better claim arrives; this one only ever adds fences.)
        for c in &cs {
            if cs
                .iter()
                .any(|d| d.server != c.server && d.rank() > c.rank())
            {
                tighten(&c.server, epoch, 0);
            }
        }
    }
    fences
}

/// The claims a server has seen, with what follows from them. Grow-only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Claims {
    claims: BTreeSet<Claim>,
    fences: BTreeMap<(ServerCode, u64), u64>,
}

impl Claims {
    /// No claims yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The claims seen, from a list (a store reading its table).
    pub fn from_claims(claims: impl IntoIterator<Item = Claim>) -> Self {
        let claims: BTreeSet<Claim> = claims.into_iter().collect();
        let fences = effective_fences(&claims);
        Self { claims, fences }
    }

    /// Learns a claim. Returns the fences it made tighter (new, or lower than before), which
    /// the caller must enforce on what it already applied; empty when nothing changed.
    pub fn learn(&mut self, claim: Claim) -> Vec<FenceAt> {
        if !self.claims.insert(claim) {
            return Vec::new();
        }
        debug_assert!(self.claims.len() <= MAX_CLAIMS, "runaway master claims");
        let next = effective_fences(&self.claims);
        let tightened = next
            .iter()
            .filter(|(k, s)| self.fences.get(*k).is_none_or(|old| *s < old))
            .map(|((server, epoch), seq)| FenceAt {
                server: server.clone(),
                epoch: *epoch,
                seq: *seq,
            })
            .collect();
        // Monotone: no fence ever loosens or disappears.
        debug_assert!(self
            .fences
            .iter()
            .all(|(k, s)| next.get(k).is_some_and(|n| n <= s)));
        self.fences = next;
        tightened
    }

    /// Every claim seen.
    pub fn claims(&self) -> impl Iterator<Item = &Claim> {
        self.claims.iter()
    }

    /// The effective fence of `(server, epoch)`, if any.
    pub fn fence(&self, server: &ServerCode, epoch: u64) -> Option<u64> {
        self.fences.get(&(server.clone(), epoch)).copied()
    }

    /// Every effective fence.
    pub fn fences(&self) -> &BTreeMap<(ServerCode, u64), u64> {
        &self.fences
    }

    /// Whether an env write of `origin` at `epoch` with `seq` counts.
    pub fn env_write_counts(&self, origin: &ServerCode, epoch: u64, seq: u64) -> bool {
        self.fence(origin, epoch).is_none_or(|f| seq <= f)
    }

    /// The master of `epoch`: its claim that ranks first.
    pub fn master_at(&self, epoch: u64) -> Option<&ServerCode> {
        self.claims
            .iter()
            .filter(|c| c.epoch == epoch)
            .map(|c| c.rank())
            .max()
            .map(|r| r.1)
    }

    /// The highest epoch claimed and its master.
    pub fn current(&self) -> Option<(u64, &ServerCode)> {
        let top = self.claims.iter().map(|c| c.epoch).max()?;
        self.master_at(top).map(|m| (top, m))
    }

    /// Whether `me` may write env records now: it is the master of the highest epoch and no
    /// fence stops it there (a fence at the current epoch means someone already took over).
    pub fn may_write_env(&self, me: &ServerCode) -> bool {
        self.current()
            .is_some_and(|(e, m)| m == me && self.fence(me, e).is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> ServerCode {
        ServerCode::parse(s).expect("test code")
    }
    fn grant(server: &str, epoch: u64) -> Claim {
        Claim {
            epoch,
            server: code(server),
            takeover: false,
            fence: None,
        }
    }
    fn takeover(server: &str, epoch: u64, old: &str, seq: u64) -> Claim {
        Claim {
            epoch,
            server: code(server),
            takeover: true,
            fence: Some(FenceAt {
                server: code(old),
                epoch: epoch - 1,
                seq,
            }),
        }
    }

    #[test]
    fn a_takeover_fences_the_old_master_after_its_last_change_the_taker_had() {
        let mut c = Claims::new();
        assert!(c.learn(grant("WB", 1)).is_empty());
        let t = c.learn(takeover("RS", 2, "WB", 7));
        assert_eq!(
            t,
            vec![FenceAt {
                server: code("WB"),
                epoch: 1,
                seq: 7
            }]
        );
        assert!(c.env_write_counts(&code("WB"), 1, 7));
        assert!(!c.env_write_counts(&code("WB"), 1, 8));
        assert!(c.env_write_counts(&code("RS"), 2, 1_000));
        assert_eq!(c.current(), Some((2, &code("RS"))));
        assert!(c.may_write_env(&code("RS")));
        assert!(!c.may_write_env(&code("WB")));
    }

    #[test]
    fn two_takeovers_of_one_epoch_the_higher_code_wins_and_the_lowest_fence_holds() {
        // The shape of issue 13: WB took over having RS's change 8, RA having its change 6.
        let mut c = Claims::new();
        c.learn(grant("RS", 3));
        c.learn(takeover("WB", 4, "RS", 8));
        let t = c.learn(takeover("RA", 4, "RS", 6));
        assert_eq!(c.master_at(4), Some(&code("WB")));
        assert_eq!(c.fence(&code("RS"), 3), Some(6));
        assert_eq!(c.fence(&code("RA"), 4), Some(0));
        assert_eq!(c.fence(&code("WB"), 4), None);
        assert!(t.contains(&FenceAt {
            server: code("RS"),
            epoch: 3,
            seq: 6
        }));
        assert!(!c.may_write_env(&code("RA")));
        assert!(c.may_write_env(&code("WB")));
    }

    #[test]
    fn a_takeover_outranks_a_grant_of_the_same_epoch() {
        let mut c = Claims::new();
        c.learn(grant("WB", 1));
        c.learn(grant("ZZ", 2));
        c.learn(takeover("AA", 2, "WB", 3));
        assert_eq!(c.master_at(2), Some(&code("AA")));
        assert_eq!(c.fence(&code("ZZ"), 2), Some(0));
    }

    #[test]
    fn a_server_that_lost_an_epoch_stays_fenced_there_even_if_a_better_claim_of_its_own_arrives() {
        // RS was granted epoch 2 and also took it over; PA took it over too. Whichever arrives
        // first, RS's grant lost to PA's takeover, and PA's takeover lost to RS's: neither
        // writes env records at epoch 2 — an operator takes over again at epoch 3.
        let claims = [
            grant("RS", 2),
            takeover("PA", 2, "WB", 4),
            takeover("RS", 2, "WB", 4),
        ];
        let c = Claims::from_claims(claims);
        assert_eq!(c.master_at(2), Some(&code("RS")));
        assert_eq!(c.fence(&code("RS"), 2), Some(0));
        assert_eq!(c.fence(&code("PA"), 2), Some(0));
        assert!(!c.may_write_env(&code("RS")));
    }

    #[test]
    fn learning_a_claim_twice_changes_nothing() {
        let mut c = Claims::new();
        c.learn(takeover("RS", 2, "WB", 7));
        let before = c.clone();
        assert!(c.learn(takeover("RS", 2, "WB", 7)).is_empty());
        assert_eq!(c, before);
    }

    /// Every order of arrival of a small set of claims ends with the same fences and masters,
    /// and fences only tighten on the way (the proof obligation of convergence).
    #[test]
    fn every_permutation_of_arrival_agrees() {
        let all = vec![
            grant("WB", 1),
            takeover("RS", 2, "WB", 5),
            takeover("RA", 2, "WB", 3),
            grant("PA", 2),
            takeover("PA", 3, "RS", 9),
            grant("WB", 3),
        ];
        let expected = Claims::from_claims(all.clone());
        let mut idx: Vec<usize> = (0..all.len()).collect();
        let mut count = 0;
        permute(&mut idx, 0, &mut |order| {
            let mut c = Claims::new();
            let mut seen: BTreeMap<(ServerCode, u64), u64> = BTreeMap::new();
            for &i in order {
                for f in c.learn(all[i].clone()) {
                    let k = (f.server.clone(), f.epoch);
                    assert!(seen.get(&k).is_none_or(|old| f.seq < *old));
                    seen.insert(k, f.seq);
                }
            }
            assert_eq!(c, expected, "order {order:?}");
            assert_eq!(
                &seen,
                c.fences(),
                "what was reported tightened is the result"
            );
            count += 1;
        });
        assert_eq!(count, 720);
        assert_eq!(expected.master_at(2), Some(&code("RS")));
        assert_eq!(expected.fence(&code("WB"), 1), Some(3));
        assert_eq!(expected.fence(&code("RA"), 2), Some(0));
        assert_eq!(expected.fence(&code("PA"), 2), Some(0));
        assert_eq!(expected.fence(&code("RS"), 2), Some(9));
        assert_eq!(expected.fence(&code("WB"), 3), Some(0));
        assert_eq!(expected.current(), Some((3, &code("PA"))));
    }

    fn permute(v: &mut Vec<usize>, k: usize, f: &mut dyn FnMut(&[usize])) {
        if k == v.len() {
            f(v);
            return;
        }
        for i in k..v.len() {
            v.swap(k, i);
            permute(v, k + 1, f);
            v.swap(k, i);
        }
    }

    mod by_proptest {
        use super::*;
        use proptest::prelude::*;

        fn arb_claim() -> impl Strategy<Value = Claim> {
            let servers = prop::sample::select(vec!["WB", "RS", "RA", "PA", "PB"]);
            (1u64..8, servers.clone(), any::<bool>(), servers, 0u64..20).prop_map(
                |(epoch, s, take, old, seq)| {
                    if take && epoch > 1 {
                        takeover(s, epoch, old, seq)
                    } else {
                        grant(s, epoch)
                    }
                },
            )
        }

        proptest! {
            /// Any two orders of the same claims (with duplicates) agree, and every env write
            /// judged by both is judged alike; at most one server's env writes of an epoch count
            /// from seq 1 on, and it is that epoch's master.
            #[test]
            fn any_order_agrees(claims in prop::collection::vec(arb_claim(), 0..24), seed in any::<u64>()) {
                let mut a = Claims::new();
                for c in &claims { a.learn(c.clone()); }
                let mut shuffled = claims.clone();
                shuffled.extend(claims.iter().take(3).cloned());
                let mut s = seed;
                for i in (1..shuffled.len()).rev() {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    shuffled.swap(i, (s >> 33) as usize % (i + 1));
                }
                let mut b = Claims::new();
                for c in shuffled { b.learn(c); }
                prop_assert_eq!(&a, &b);
                for epoch in 1..8u64 {
                    let counting: Vec<_> = a.claims().filter(|c| c.epoch == epoch)
                        .map(|c| c.server.clone())
                        .filter(|s| a.env_write_counts(s, epoch, 1))
                        .collect::<BTreeSet<_>>().into_iter().collect();
                    prop_assert!(counting.len() <= 1);
                    if let Some(s) = counting.first() {
                        prop_assert_eq!(Some(s), a.master_at(epoch));
                    }
                }
            }
        }
    }
}
