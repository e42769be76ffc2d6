//! The final judgement of a schedule after heal: the same logs, claims and fences everywhere,
//! and every env write judged alike by every server under the one fencing rule.

use super::{current, Node, World, R};
use innsync_core::ServerCode;
use std::collections::{BTreeMap, BTreeSet};

impl World {
    /// The final judgement: every env write, judged by each server's history.
    pub(super) fn judge(&mut self) -> R<()> {
        let first = &self.nodes[0];
        let ids = |n: &Node| n.applied.clone();
        for n in &self.nodes[1..] {
            if ids(n) != ids(first) {
                return Err(format!(
                    "{} and {} hold different logs after heal",
                    n.code, first.code
                ));
            }
        }
        // Every server has seen the same claims, so the one rule gives them the same fences and
        // the same master of every epoch (a claim ranks first; there is no undecided epoch).
        for n in &self.nodes[1..] {
            if n.claims != first.claims {
                return Err(format!(
                    "after heal {} and {} hold different claims or fences: {:?} vs {:?}",
                    n.code,
                    first.code,
                    n.claims.fences(),
                    first.claims.fences()
                ));
            }
        }
        let mut by_epoch: BTreeMap<u64, BTreeSet<&ServerCode>> = BTreeMap::new();
        for c in first.claims.claims() {
            by_epoch.entry(c.epoch).or_default().insert(&c.server);
        }
        self.out.disputed = by_epoch.values().filter(|s| s.len() > 1).count() as u64;
        let mut verdicts: Option<Vec<bool>> = None;
        for n in &self.nodes {
            // Judge in a canonical order so that servers can be compared.
            let mut log = n.log.clone();
            log.sort_by(|a, b| (&a.origin, a.seq).cmp(&(&b.origin, b.seq)));
            let mut legit_by_epoch: BTreeMap<u64, BTreeSet<ServerCode>> = BTreeMap::new();
            let mut mine = Vec::new();
            for c in log.iter().filter(|c| c.env) {
                let legit = n.claims.env_write_counts(&c.origin, c.epoch, c.seq);
                if legit {
                    legit_by_epoch
                        .entry(c.epoch)
                        .or_default()
                        .insert(c.origin.clone());
                } else if !self.mode.takeovers {
                    return Err(format!(
                        "{}#{} (env, epoch {}) is fenced on {} in a run without takeovers: {:?}",
                        c.origin,
                        c.seq,
                        c.epoch,
                        n.code,
                        n.claims.fences()
                    ));
                }
                mine.push(legit);
            }
            for (epoch, origins) in &legit_by_epoch {
                if origins.len() > 1 {
                    return Err(format!(
                        "on {}: env writes of epoch {epoch} from {origins:?} all count",
                        n.code
                    ));
                }
                let master = n.claims.master_at(*epoch);
                if let Some(o) = origins.iter().next() {
                    if master != Some(o) {
                        return Err(format!(
                            "on {}: {o} wrote env records at epoch {epoch}, master {master:?}",
                            n.code
                        ));
                    }
                }
            }
            match &verdicts {
                None => {
                    self.out.quarantined = mine.iter().filter(|l| !**l).count() as u64;
                    verdicts = Some(mine);
                }
                Some(v) if *v != mine => {
                    return Err(format!(
                        "{} judges the env writes differently from {}",
                        n.code, self.nodes[0].code
                    ));
                }
                Some(_) => {}
            }
        }
        // Without takeovers, every epoch was granted by exactly one server to one server.
        if !self.mode.takeovers {
            let mut claims: BTreeMap<u64, BTreeSet<ServerCode>> = BTreeMap::new();
            for c in &self.nodes[0].log {
                if let Some(t) = &c.token {
                    claims.entry(t.epoch).or_default().insert(t.server.clone());
                }
            }
            if let Some((e, s)) = claims.iter().find(|(_, s)| s.len() > 1) {
                return Err(format!("epoch {e} was given to {s:?}"));
            }
        }
        self.out.epoch = current(&self.nodes[0]).epoch.0;
        Ok(())
    }
}
