//! A deterministic simulation of an environment of servers, built from the sans-I/O cores of
//! `innsync-environment`: each simulated server keeps a change log and cursors, plans every
//! incoming batch with [`plan_batch`] and a [`HoldBuffer`], runs the [`HandoverEngine`] the way
//! the server's driver does (freeze, wait for the target's pulls to cover, grant, thaw; abort
//! on silence or timeout), asks the [`Timetable`] with its own skewed clock, takes over by
//! [`force_takeover`], and learns every claim to be master into the one fencing rule of
//! production, [`Claims`] (`innsync_core::fencing`, which the store runs too). Servers pull each other over
//! a [`SimNet`] that loses, duplicates, delays and reorders, with partitions and crashes.
//!
//! Checked in every schedule: a change is applied once, in its origin's order, never beyond a
//! gap; a server's known epoch only grows; after heal every server holds the same log and
//! token; without takeovers every env write is legitimate (one master per epoch, nothing
//! written after the grant); with takeovers, every server holds the same claims, fences and
//! master, the env writes that count of each epoch come from that epoch's master only, and
//! every server judges them alike.
//!
//! The files: `model.rs` holds what the simulation carries and reports; this file the world
//! and its steps; `judge.rs` the final judgement after heal.

use super::net::{NetFaults, SimNet};
use chrono::{DateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use innsync_core::fencing::{Claim, Claims};
use innsync_core::ServerCode;
use innsync_environment::config::TimetableEntry;
use innsync_environment::cursor::Batch;
use innsync_environment::master::{
    force_takeover, HandoverCommand, HandoverEvent, HandoverSettings, HandoverState,
    TakeoverRequest, TimetableDecision, TimetableSettings,
};
use innsync_environment::{
    cursor::plan_batch, ChangeDecision, CursorMap, Epoch, Fingerprint, HandoverEngine, HoldBuffer,
    MasterToken, Timetable,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};

const FP: Fingerprint = Fingerprint([9; 32]);
/// Simulated milliseconds per tick.
pub const TICK_MS: u64 = 50;
/// Ticks of faults, then at most as many of calm to converge.
pub const FAULT_TICKS: u64 = 400;
/// Most changes in one pull answer.
pub const PULL_BATCH: usize = 16;
/// A handover target that has not pulled for this long is unreachable (ms).
pub const SILENCE_MS: u64 = 1_500;
/// Pull period per peer, in ticks.
pub const PULL_EVERY: u64 = 3;

mod judge;
mod model;

pub use model::{Broken, Mode, Outcome, SimChange};
use model::{Msg, Node};

type R<T> = Result<T, String>;

fn code(s: &str) -> ServerCode {
    // The simulation's codes are constants; a bad one is a bug in this file.
    ServerCode::parse(s).unwrap_or_else(|e| unreachable!("{s}: {e}"))
}

/// A handover grant's claim (no fence: the old master stops writing env records itself).
fn grant_claim(t: &MasterToken) -> Claim {
    Claim {
        epoch: t.epoch.0,
        server: t.server.clone(),
        takeover: false,
        fence: None,
    }
}

/// The master a node obeys: the highest epoch it knows and that epoch's first-ranked claim.
fn current(n: &Node) -> MasterToken {
    match n.claims.current() {
        Some((epoch, server)) => MasterToken {
            server: server.clone(),
            epoch: Epoch(epoch),
        },
        // Every node starts with the initial claim and claims are never forgotten.
        None => unreachable!("{} has no master claim", n.code),
    }
}

struct World {
    seed: u64,
    mode: Mode,
    rng: StdRng,
    nodes: Vec<Node>,
    net: SimNet<Msg>,
    now: u64,
    base: DateTime<Utc>,
    timetable: Timetable,
    out: Outcome,
    reorder: f64,
}

impl World {
    fn new(seed: u64, mode: Mode) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let names = ["WB", "RS", "RA", "PA", "PB"];
        let n = rng.gen_range(3..=names.len());
        let codes: Vec<ServerCode> = names[..n].iter().map(|c| code(c)).collect();
        let first = MasterToken {
            server: codes[0].clone(),
            epoch: Epoch::INITIAL,
        };
        let eligible: BTreeSet<ServerCode> = codes
            .iter()
            .filter(|c| !c.as_str().starts_with('P'))
            .cloned()
            .collect();
        let settings = HandoverSettings {
            timeout: TimeDelta::seconds(3),
        };
        let nodes = codes
            .iter()
            .map(|c| Node {
                code: c.clone(),
                eligible: eligible.contains(c),
                log: Vec::new(),
                applied: BTreeSet::new(),
                cursors: CursorMap::new(),
                holds: HoldBuffer::with_capacity(rng.gen_range(0..64)),
                claims: Claims::from_claims([grant_claim(&first)]),
                engine: HandoverEngine::new(
                    c.clone(),
                    first.clone(),
                    eligible.clone(),
                    settings.clone(),
                ),
                frozen: false,
                timer: None,
                last_pull_from: BTreeMap::new(),
                handover_since: 0,
                last_run: None,
                skew_ms: if mode.timetable {
                    rng.gen_range(-15_000..15_000)
                } else {
                    0
                },
                down_until: 0,
                highest_epoch: 1,
            })
            .collect();
        let faults = if rng.gen_bool(0.8) {
            NetFaults::rough(&mut rng)
        } else {
            NetFaults::calm()
        };
        let eligible: Vec<&ServerCode> = codes.iter().filter(|c| eligible.contains(*c)).collect();
        let entry = |at: &str, m: &ServerCode| TimetableEntry {
            at: NaiveTime::parse_from_str(at, "%H:%M").unwrap_or_default(),
            tz: chrono_tz::UTC,
            master: m.clone(),
        };
        let timetable = if mode.timetable {
            Timetable::new(
                vec![entry("06:00", eligible[1 % eligible.len()])],
                TimetableSettings::default(),
            )
        } else {
            Timetable::new(vec![], TimetableSettings::default())
        };
        let reorder = rng.gen_range(0.0..0.3);
        Self {
            seed,
            mode,
            rng,
            nodes,
            net: SimNet::new(faults),
            now: 0,
            base: Utc
                .with_ymd_and_hms(2026, 6, 2, 5, 59, 50)
                .single()
                .unwrap_or_default(),
            timetable,
            out: Outcome::default(),
            reorder,
        }
    }

    fn clock(&self, i: usize) -> DateTime<Utc> {
        self.base
            + TimeDelta::milliseconds(self.now as i64)
            + TimeDelta::milliseconds(self.nodes[i].skew_ms)
    }

    fn up(&self, i: usize) -> bool {
        self.now >= self.nodes[i].down_until
    }

    /// Applies `c` at node `i`; the cursor must be exactly one behind it.
    fn apply(&mut self, i: usize, c: SimChange) -> R<()> {
        let node = &mut self.nodes[i];
        let at = node.cursors.get(&c.origin);
        if c.seq != at + 1 {
            return Err(format!(
                "{} applied {}#{} with its cursor at {at}",
                node.code, c.origin, c.seq
            ));
        }
        if !node.applied.insert((c.origin.clone(), c.seq)) {
            return Err(format!(
                "{} applied {}#{} twice",
                node.code, c.origin, c.seq
            ));
        }
        node.cursors
            .set(c.origin.clone(), c.seq)
            .map_err(|e| e.to_string())?;
        let token = c.token.clone();
        node.log.push(c);
        if let Some(claim) = token {
            let before = current(node).epoch;
            node.claims.learn(claim);
            let after = current(node);
            if after.epoch < before {
                return Err(format!(
                    "{}'s epoch went from {before} back to {}",
                    node.code, after.epoch
                ));
            }
            if after.epoch.0 > node.highest_epoch {
                node.highest_epoch = after.epoch.0;
            }
            if after.epoch > before {
                let cmds = node
                    .engine
                    .handle(HandoverEvent::MasterLearned { token: after })
                    .unwrap_or_default();
                self.perform(i, cmds)?;
            }
        }
        Ok(())
    }

    /// Node `i` writes a change of its own.
    fn write(&mut self, i: usize, env: bool, token: Option<Claim>) -> R<()> {
        let node = &self.nodes[i];
        let seq = node.cursors.get(&node.code) + 1;
        let c = SimChange {
            origin: node.code.clone(),
            seq,
            epoch: current(node).epoch.0,
            env,
            token,
        };
        self.out.writes += 1;
        self.apply(i, c)
    }

    fn may_write_env(&self, i: usize) -> bool {
        let n = &self.nodes[i];
        !n.frozen && n.claims.may_write_env(&n.code)
    }

    fn perform(&mut self, i: usize, cmds: Vec<HandoverCommand>) -> R<()> {
        for cmd in cmds {
            match cmd {
                HandoverCommand::FreezeEnvWrites => {
                    self.nodes[i].frozen = true;
                    self.nodes[i].handover_since = self.now;
                    // The writer commits what is in flight at once here: frozen now.
                    let local_cursor = self.nodes[i].cursors.clone();
                    let more = self.nodes[i]
                        .engine
                        .handle(HandoverEvent::Frozen { local_cursor })
                        .unwrap_or_default();
                    self.perform(i, more)?;
                }
                HandoverCommand::PushChangesTo(_) => {} // the target pulls
                HandoverCommand::WriteGrant { to, epoch } => {
                    let token = MasterToken {
                        server: to.clone(),
                        epoch,
                    };
                    self.write(i, false, Some(grant_claim(&token)))?;
                    self.out.grants += 1;
                    let more = self.nodes[i]
                        .engine
                        .handle(HandoverEvent::GrantDurable { to, epoch })
                        .unwrap_or_default();
                    self.perform(i, more)?;
                }
                HandoverCommand::UnfreezeEnvWrites => self.nodes[i].frozen = false,
                HandoverCommand::Alert(_) => {
                    if matches!(self.nodes[i].engine.state(), HandoverState::Aborted { .. }) {
                        self.out.aborts += 1;
                    }
                }
                HandoverCommand::SetTimer(t) => self.nodes[i].timer = Some(t),
            }
        }
        Ok(())
    }

    fn request_handover(&mut self, i: usize, to: ServerCode) -> R<()> {
        let now = self.clock(i);
        if let Ok(cmds) = self.nodes[i]
            .engine
            .handle(HandoverEvent::Requested { to, now })
        {
            self.perform(i, cmds)?;
        }
        Ok(())
    }

    fn takeover(&mut self, i: usize) -> R<()> {
        let n = &self.nodes[i];
        let current = current(n);
        let req = TakeoverRequest {
            reason: "simulated storm".into(),
            actor: "ops".into(),
            at: self.clock(i),
        };
        let last = n.cursors.get(&current.server);
        if let Ok(t) = force_takeover(
            &n.code,
            n.eligible,
            &current,
            Epoch(n.highest_epoch),
            last,
            req,
        ) {
            self.out.takeovers += 1;
            self.write(i, false, Some(t.fence.claim(&t.token)))?;
        }
        Ok(())
    }

    fn crash(&mut self, i: usize) {
        self.out.crashes += 1;
        let n = &mut self.nodes[i];
        let token = current(n);
        let eligible = self
            .nodes
            .iter()
            .filter(|x| x.eligible)
            .map(|x| x.code.clone())
            .collect();
        let n = &mut self.nodes[i];
        n.engine = HandoverEngine::new(
            n.code.clone(),
            token,
            eligible,
            HandoverSettings {
                timeout: TimeDelta::seconds(3),
            },
        );
        n.frozen = false;
        n.timer = None;
        n.holds = HoldBuffer::with_capacity(16);
        n.last_run = None;
        n.down_until = self.now + self.rng.gen_range(100..2_000);
    }

    fn on_pull(&mut self, from: usize, to: usize, cursor: CursorMap) -> R<()> {
        let peer = self.nodes[from].code.clone();
        self.nodes[to].last_pull_from.insert(peer.clone(), self.now);
        if let HandoverState::HandingOver { target, .. } = self.nodes[to].engine.state() {
            if *target == peer {
                let cmds = self.nodes[to]
                    .engine
                    .handle(HandoverEvent::TransferProgress {
                        target_cursor: cursor.clone(),
                    })
                    .unwrap_or_default();
                self.perform(to, cmds)?;
            }
        }
        let mut changes: Vec<SimChange> = self.nodes[to]
            .log
            .iter()
            .filter(|c| c.seq > cursor.get(&c.origin))
            .take(PULL_BATCH)
            .cloned()
            .collect();
        if self.rng.gen_bool(self.reorder) && changes.len() >= 2 {
            // The middlebox's reorder: the head of the first origin's run comes later.
            let o = changes[0].origin.clone();
            let run = changes.iter().filter(|c| c.origin == o).count();
            let cut = self.rng.gen_range(0..run);
            let mut dropped = 0;
            changes.retain(|c| {
                if c.origin == o && dropped < cut {
                    dropped += 1;
                    false
                } else {
                    true
                }
            });
        }
        let now = self.now;
        self.net
            .send(&mut self.rng, now, to, from, Msg::Batch(changes));
        Ok(())
    }

    fn on_batch(&mut self, to: usize, changes: Vec<SimChange>) -> R<()> {
        let known: BTreeSet<ServerCode> = self.nodes.iter().map(|n| n.code.clone()).collect();
        let batch = Batch {
            fingerprint: FP,
            changes,
        };
        let plan = plan_batch(&self.nodes[to].cursors, &FP, &known, &batch)
            .map_err(|e| format!("a genuine batch was refused as garbled: {e}"))?;
        for (c, d) in batch.changes.into_iter().zip(plan.decisions) {
            match d {
                ChangeDecision::Apply => self.apply(to, c)?,
                ChangeDecision::SkipDuplicate => self.out.duplicates += 1,
                ChangeDecision::Hold => {
                    self.out.held += 1;
                    self.nodes[to].holds.hold(c);
                }
            }
        }
        let ready = {
            let n = &mut self.nodes[to];
            n.holds.take_ready(&n.cursors)
        };
        for c in ready {
            // Released runs follow on from the cursor; one already applied meanwhile is a bug.
            self.apply(to, c)?;
        }
        if self.nodes[to].cursors != plan.cursors_after
            && !self.nodes[to].cursors.covers(&plan.cursors_after)
        {
            return Err(format!(
                "{}'s cursors fell short of the plan",
                self.nodes[to].code
            ));
        }
        Ok(())
    }

    fn tick_node(&mut self, i: usize, faults: bool) -> R<()> {
        // Timers: the handover deadline on this node's own clock.
        if let Some(t) = self.nodes[i].timer {
            let now = self.clock(i);
            if now >= t {
                self.nodes[i].timer = None;
                let cmds = self.nodes[i]
                    .engine
                    .handle(HandoverEvent::Tick { now })
                    .unwrap_or_default();
                self.perform(i, cmds)?;
            }
        }
        // A silent target aborts the handover.
        if let HandoverState::HandingOver { target, .. } = self.nodes[i].engine.state().clone() {
            let heard = self.nodes[i]
                .last_pull_from
                .get(&target)
                .copied()
                .unwrap_or(0)
                .max(self.nodes[i].handover_since);
            if self.now > heard + SILENCE_MS {
                let cmds = self.nodes[i]
                    .engine
                    .handle(HandoverEvent::TargetUnreachable {
                        detail: "silent".into(),
                    })
                    .unwrap_or_default();
                self.perform(i, cmds)?;
            }
        }
        // The timetable, asked by the master with its own clock.
        if self.mode.timetable && self.nodes[i].engine.token().server == self.nodes[i].code {
            let now = self.clock(i);
            let me = self.nodes[i].code.clone();
            match self.timetable.due(&me, now, self.nodes[i].last_run) {
                TimetableDecision::Handover(slot) => {
                    self.nodes[i].last_run = Some(slot.due);
                    self.out.timetable_handovers += 1;
                    self.request_handover(i, slot.master)?;
                }
                TimetableDecision::AlreadyInPlace(slot) | TimetableDecision::Missed(slot, _) => {
                    self.nodes[i].last_run = Some(slot.due)
                }
                TimetableDecision::Idle { .. } => {}
            }
        }
        // Pulls.
        let n = self.nodes.len();
        if (self.now / TICK_MS + i as u64).is_multiple_of(PULL_EVERY) {
            for j in 0..n {
                if j != i {
                    let cursor = self.nodes[i].cursors.clone();
                    let now = self.now;
                    self.net.send(&mut self.rng, now, i, j, Msg::Pull(cursor));
                }
            }
        }
        if !faults {
            return Ok(());
        }
        // Writes, handovers, takeovers, crashes.
        if self.rng.gen_bool(0.08) {
            let env = self.may_write_env(i) && self.rng.gen_bool(0.6);
            self.write(i, env, None)?;
        }
        if self.rng.gen_bool(0.006) {
            let eligible: Vec<ServerCode> = self
                .nodes
                .iter()
                .filter(|x| x.eligible)
                .map(|x| x.code.clone())
                .collect();
            let to = eligible[self.rng.gen_range(0..eligible.len())].clone();
            self.request_handover(i, to)?;
        }
        if self.mode.takeovers && self.nodes[i].eligible && self.rng.gen_bool(0.002) {
            self.takeover(i)?;
        }
        if self.mode.crashes && self.rng.gen_bool(0.002) {
            self.crash(i);
        }
        Ok(())
    }

    fn step(&mut self, faults: bool) -> R<()> {
        if faults && self.rng.gen_bool(0.03) {
            let n = self.nodes.len();
            let (a, b) = (self.rng.gen_range(0..n), self.rng.gen_range(0..n));
            if self.rng.gen_bool(0.5) {
                self.net.cut(a, b);
            } else {
                self.net.uncut(a, b);
            }
        }
        while let Some((from, to, msg)) = self.net.next_due(self.now) {
            if !self.up(to) {
                continue; // a crashed server hears nothing
            }
            match msg {
                Msg::Pull(cursor) => self.on_pull(from, to, cursor)?,
                Msg::Batch(changes) => self.on_batch(to, changes)?,
            }
        }
        for i in 0..self.nodes.len() {
            if self.up(i) {
                self.tick_node(i, faults)?;
            }
        }
        self.now += TICK_MS;
        Ok(())
    }

    fn quiet(&self) -> bool {
        let first = &self.nodes[0];
        self.nodes.iter().all(|n| {
            n.cursors == first.cursors && !n.engine.is_frozen() && self.now >= n.down_until
        })
    }
}

/// Runs one schedule; `Err` names the broken invariant with the seed.
pub fn run_schedule(seed: u64, mode: Mode) -> Result<Outcome, Broken> {
    let mut w = World::new(seed, mode);
    let broke = |what: String| Broken { seed, what };
    for _ in 0..FAULT_TICKS {
        w.step(true).map_err(broke)?;
    }
    w.net.heal();
    for n in &mut w.nodes {
        n.down_until = n.down_until.min(w.now);
    }
    let mut calm = 0;
    while !w.quiet() {
        w.step(false).map_err(broke)?;
        calm += 1;
        if calm > FAULT_TICKS * 4 {
            let state: Vec<String> = w
                .nodes
                .iter()
                .map(|n| {
                    format!(
                        "{} cursors {:?} token {} frozen {} state {:?}",
                        n.code,
                        n.cursors,
                        current(n),
                        n.frozen,
                        n.engine.state()
                    )
                })
                .collect();
            return Err(broke(format!(
                "no convergence {} simulated seconds after heal: {}",
                calm * TICK_MS / 1000,
                state.join("; ")
            )));
        }
    }
    let _ = w.seed;
    w.judge().map_err(broke)?;
    Ok(w.out)
}
