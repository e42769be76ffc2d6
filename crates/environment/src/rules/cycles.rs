//! Ownership cycles: data_and_ownership transfer rules of one kind must never be able to pass a
//! record round in a circle (rule A moves bookings WB → RS, rule B moves them RS → WB), or the
//! record would travel for ever.
//!
//! The rule chosen, and why it is sound:
//! - conditions are not analysed: they read fields that change (the `owner` field itself
//!   changes with every move), so two rules whose conditions look disjoint may both match;
//! - a rule runs wherever the record is. So the servers a rule may move a record *from* are all
//!   servers that may own records: every server but the archives (an archive never gives a record
//!   away; `plan` plans no ownership move there);
//! - a rule with an explicit target X moves a record from any such server other than X to X;
//! - a rule with target `owner` moves a record to its property's owner server — a fixed point:
//!   once there, `owner` points at where the record is and moves it no further. So the graph's
//!   nodes are (server, whether the record is known to be at its owner); `owner` edges go from
//!   (S, not known) to (P, at owner) for every property server P ≠ S, and explicit edges go from
//!   (S, either) to (X, not known).
//!
//! A cycle in that graph is a sequence of moves a record could really make for ever, if the
//! conditions let it; without one, every record comes to rest. `return` rules are left out: a
//! return is the sanctioned way back, to where the record came from.

use crate::config::ServerRole;

/// What one rule does to ownership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Move {
    /// To the server at this index.
    To(usize),
    /// To the record's property's owner.
    Owner,
}

/// One move on a cycle: from server, to server (indexes), by rule (index).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hop {
    pub from: usize,
    pub to: usize,
    pub rule: usize,
}

/// The moves of one kind's rules so far (nodes: `2 × server + at_owner`).
pub(crate) struct OwnershipGraph {
    /// Per server: may it own records (not an archive), and does it own properties.
    servers: Vec<(bool, bool)>,
    edges: Vec<Vec<(usize, usize)>>,
}

impl OwnershipGraph {
    /// A graph over the servers (role, and whether it owns properties), with no moves yet.
    pub(crate) fn new(servers: &[(ServerRole, bool)]) -> Self {
        Self {
            servers: servers
                .iter()
                .map(|(role, props)| {
                    (
                        *role != ServerRole::Archive,
                        *role == ServerRole::Property && *props,
                    )
                })
                .collect(),
            edges: vec![Vec::new(); servers.len() * 2],
        }
    }

    /// Adds a rule's move. When it would close a cycle the graph is left as it was and the
    /// cycle is returned, starting and ending at one server, with this rule on it.
    pub(crate) fn add(&mut self, rule: usize, mv: Move) -> Result<(), Vec<Hop>> {
        let mut added = Vec::new();
        for (s, &(source, _)) in self.servers.iter().enumerate() {
            if !source {
                continue;
            }
            match mv {
                Move::To(x) if x != s && x < self.servers.len() => {
                    added.push((2 * s, 2 * x));
                    added.push((2 * s + 1, 2 * x));
                }
                Move::To(_) => {}
                Move::Owner => {
                    for (p, &(_, owns)) in self.servers.iter().enumerate() {
                        if owns && p != s {
                            added.push((2 * s, 2 * p + 1));
                        }
                    }
                }
            }
        }
        for &(from, to) in &added {
            self.edges[from].push((to, rule));
        }
        match self.cycle() {
            None => Ok(()),
            Some(c) => {
                for edges in &mut self.edges {
                    edges.retain(|&(_, r)| r != rule);
                }
                Err(c)
            }
        }
    }

    /// A cycle, if any (depth-first, in index order, so the answer is deterministic).
    fn cycle(&self) -> Option<Vec<Hop>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Open,
            Done,
        }
        let n = self.edges.len();
        let mut mark = vec![Mark::New; n];
        // The path of (node, edge taken into it) from the root.
        for root in 0..n {
            if mark[root] != Mark::New {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            let mut via: Vec<Option<usize>> = vec![None; n];
            mark[root] = Mark::Open;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                if let Some(&(to, rule)) = self.edges[node].get(*next) {
                    *next += 1;
                    match mark[to] {
                        Mark::New => {
                            mark[to] = Mark::Open;
                            via[to] = Some(rule);
                            stack.push((to, 0));
                        }
                        Mark::Open => {
                            // Back edge: the path from `to` down to `node`, then back to `to`.
                            let start = stack.iter().position(|(v, _)| *v == to).unwrap_or(0);
                            let path = &stack[start..];
                            let mut hops = Vec::new();
                            for w in path.windows(2) {
                                let rule = via[w[1].0].unwrap_or(rule);
                                hops.push(Hop {
                                    from: w[0].0 / 2,
                                    to: w[1].0 / 2,
                                    rule,
                                });
                            }
                            hops.push(Hop {
                                from: node / 2,
                                to: to / 2,
                                rule,
                            });
                            return Some(hops);
                        }
                        Mark::Done => {}
                    }
                } else {
                    mark[node] = Mark::Done;
                    stack.pop();
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ServerRole::*;

    /// WB, RS, PA (KRL), PB (LDG), AR.
    fn graph() -> OwnershipGraph {
        OwnershipGraph::new(&[
            (Web, false),
            (Reservation, false),
            (Property, true),
            (Property, true),
            (Archive, false),
        ])
    }

    #[test]
    fn moves_towards_rest_are_accepted() {
        let mut g = graph();
        assert_eq!(g.add(0, Move::Owner), Ok(()));
        assert_eq!(g.add(1, Move::To(4)), Ok(()));
        // A second owner rule adds nothing new.
        assert_eq!(g.add(2, Move::Owner), Ok(()));
        // One explicit target on its own: everything ends there.
        let mut g = graph();
        assert_eq!(g.add(0, Move::To(1)), Ok(()));
        assert_eq!(g.add(1, Move::To(4)), Ok(()));
    }

    #[test]
    fn two_explicit_targets_make_a_cycle() {
        let mut g = graph();
        assert_eq!(g.add(0, Move::To(1)), Ok(()));
        let cycle = g.add(1, Move::To(0)).unwrap_err();
        let rules: Vec<usize> = cycle.iter().map(|h| h.rule).collect();
        assert!(rules.contains(&0) && rules.contains(&1), "{cycle:?}");
        // It closes: every hop starts where the previous ended.
        for w in cycle.windows(2) {
            assert_eq!(w[0].to, w[1].from);
        }
        assert_eq!(cycle.last().unwrap().to, cycle[0].from);
        // The refused rule left nothing behind.
        assert_eq!(g.add(2, Move::To(4)), Ok(()));
    }

    #[test]
    fn owner_and_an_explicit_server_make_a_cycle() {
        let mut g = graph();
        assert_eq!(g.add(0, Move::Owner), Ok(()));
        let cycle = g.add(1, Move::To(1)).unwrap_err();
        assert!(cycle.iter().any(|h| h.rule == 0) && cycle.iter().any(|h| h.rule == 1));
        // Moving to a property server is also a way out of its owner for another's record.
        let mut g = graph();
        assert_eq!(g.add(0, Move::Owner), Ok(()));
        assert!(g.add(1, Move::To(2)).is_err());
    }

    #[test]
    fn the_archive_is_a_sink() {
        let mut g = graph();
        assert_eq!(g.add(0, Move::To(4)), Ok(()));
        assert_eq!(g.add(1, Move::Owner), Ok(()));
        // Only archives: nobody else can own, nothing moves.
        let mut g = OwnershipGraph::new(&[(Archive, false), (Archive, false)]);
        assert_eq!(g.add(0, Move::To(0)), Ok(()));
        assert_eq!(g.add(1, Move::To(1)), Ok(()));
    }
}
