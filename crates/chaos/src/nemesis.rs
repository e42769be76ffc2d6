//! The nemesis: performs the plan's faults at their times and undoes each after its hold, in
//! one timeline (applies and undos merged by time, so the order is the plan's). A fault on a
//! server that is not running as expected (killed while paused…) is skipped and noted.

use crate::deployment::Deployment;
use crate::history::History;
use crate::member::Member;
use crate::plan::{FaultKind, MangleMode, PlannedFault};
use crate::process::Liveness;
use serde_json::json;
use std::time::Duration;

#[derive(Clone, Debug)]
enum Step {
    Apply(usize),
    Undo(usize),
}

/// Runs `faults` against `d` until they are all applied and undone, or `stop` is set (then
/// what is left is undone by [`heal`]).
pub async fn run(
    d: &mut Deployment,
    faults: &[PlannedFault],
    history: &History,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut timeline: Vec<(u64, usize, Step)> = Vec::new();
    for (i, f) in faults.iter().enumerate() {
        timeline.push((f.at_ms, 2 * i + 1, Step::Apply(i)));
        timeline.push((f.at_ms + f.hold_ms, 2 * i, Step::Undo(i)));
    }
    timeline.sort_by_key(|(at, tie, _)| (*at, *tie));
    let mut applied = vec![false; faults.len()];
    for (at, _, step) in timeline {
        if *stop.borrow() {
            return;
        }
        let now = history.now_ms();
        if at > now {
            let mut stop = stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(at - now)) => {}
                _ = stop.changed() => return,
            }
        }
        match step {
            Step::Apply(i) => applied[i] = apply(d, &faults[i], history),
            Step::Undo(i) if applied[i] => undo(d, &faults[i], history),
            Step::Undo(_) => {}
        }
    }
}

fn name(d: &Deployment, i: usize) -> String {
    d.codes.get(i).cloned().unwrap_or_default()
}

fn link(d: &Deployment, from: usize, to: usize) -> String {
    format!("{}->{}", name(d, from), name(d, to))
}

/// Performs a fault; false when it was skipped.
fn apply(d: &mut Deployment, f: &PlannedFault, h: &History) -> bool {
    match &f.kind {
        FaultKind::Kill { server, .. } => {
            if d.servers[*server].liveness() != Liveness::Running {
                h.note(
                    "kill-skipped",
                    &name(d, *server),
                    json!({"why": "not running"}),
                );
                return false;
            }
            let what = d.servers[*server].kill9();
            h.note(
                "kill",
                &name(d, *server),
                json!({"hold_ms": f.hold_ms, "killed": what}),
            );
        }
        FaultKind::Pause { server } => {
            if let Err(e) = d.servers[*server].pause() {
                h.note(
                    "pause-failed",
                    &name(d, *server),
                    json!({"error": e.to_string()}),
                );
                return false;
            }
            if d.servers[*server].liveness() != Liveness::Paused {
                h.note(
                    "pause-skipped",
                    &name(d, *server),
                    json!({"why": "not running"}),
                );
                return false;
            }
            h.note("pause", &name(d, *server), json!({"hold_ms": f.hold_ms}));
        }
        FaultKind::Isolate { server } => {
            for (a, b) in d.mesh.touching(*server) {
                d.mesh.cut(a, b);
            }
            h.note("isolate", &name(d, *server), json!({"hold_ms": f.hold_ms}));
        }
        FaultKind::Cut { from, to } => {
            d.mesh.cut(*from, *to);
            h.note("cut", &link(d, *from, *to), json!({"hold_ms": f.hold_ms}));
        }
        FaultKind::Delay { from, to, ms } => {
            d.mesh.delay(*from, *to, Duration::from_millis(*ms));
            h.note(
                "delay",
                &link(d, *from, *to),
                json!({"ms": ms, "hold_ms": f.hold_ms}),
            );
        }
        FaultKind::Drops { from, to, percent } => {
            d.mesh
                .drops(*from, *to, f64::from(*percent) / 100.0, f.seed);
            h.note(
                "drops",
                &link(d, *from, *to),
                json!({"percent": percent, "hold_ms": f.hold_ms}),
            );
        }
        FaultKind::NodeIsolate { server, node } => {
            let Some(Member::Cluster(c)) = d.servers.get_mut(*server) else {
                return false;
            };
            c.isolate(*node);
            h.note(
                "node-isolate",
                &name(d, *server),
                json!({"node": node + 1, "hold_ms": f.hold_ms}),
            );
        }
        FaultKind::Mangle { from, to, mode } => {
            d.mesh.mangle(*from, *to, Some((*mode, f.seed)));
            h.note(
                "mangle",
                &link(d, *from, *to),
                json!({"mode": mode, "hold_ms": f.hold_ms}),
            );
        }
    }
    true
}

fn restart(d: &mut Deployment, server: usize, skew_ms: i64, h: &History) {
    let result = tokio::task::block_in_place(|| d.servers[server].restart(skew_ms));
    match result {
        Ok(()) => h.note("restart", &name(d, server), json!({"skew_ms": skew_ms})),
        Err(e) => h.note(
            "restart-failed",
            &name(d, server),
            json!({"error": e.to_string()}),
        ),
    }
}

/// The links a mangling fault touches: its own for pulls; for relays — few, and carried by
/// whichever link leads to a record's owner — every link.
fn mangled_links(d: &Deployment, from: usize, to: usize, mode: MangleMode) -> Vec<(usize, usize)> {
    if mode == MangleMode::DuplicateRelays {
        (0..d.servers.len())
            .flat_map(|a| {
                (0..d.servers.len())
                    .filter(move |b| *b != a)
                    .map(move |b| (a, b))
            })
            .collect()
    } else {
        vec![(from, to)]
    }
}

/// Undoes a fault that was applied.
fn undo(d: &mut Deployment, f: &PlannedFault, h: &History) {
    match &f.kind {
        FaultKind::Kill {
            server,
            restart_skew_ms,
        } => {
            if d.servers[*server].liveness() == Liveness::Dead {
                restart(d, *server, *restart_skew_ms, h);
            }
        }
        FaultKind::Pause { server } => {
            let _ = d.servers[*server].resume();
            h.note("resume", &name(d, *server), json!({}));
        }
        FaultKind::Isolate { server } => {
            for (a, b) in d.mesh.touching(*server) {
                d.mesh.uncut(a, b);
            }
            h.note("rejoin", &name(d, *server), json!({}));
        }
        FaultKind::Cut { from, to } => {
            d.mesh.uncut(*from, *to);
            h.note("uncut", &link(d, *from, *to), json!({}));
        }
        FaultKind::Delay { from, to, .. } => {
            d.mesh.delay(*from, *to, Duration::ZERO);
            h.note("undelay", &link(d, *from, *to), json!({}));
        }
        FaultKind::Drops { from, to, .. } => {
            d.mesh.drops(*from, *to, 0.0, 0);
            h.note("undrops", &link(d, *from, *to), json!({}));
        }
        FaultKind::NodeIsolate { server, node } => {
            if let Some(Member::Cluster(c)) = d.servers.get_mut(*server) {
                c.rejoin(*node);
            }
            h.note("node-rejoin", &name(d, *server), json!({"node": node + 1}));
        }
        FaultKind::Mangle { from, to, mode } => {
            for (a, b) in mangled_links(d, *from, *to, *mode) {
                d.mesh.mangle(a, b, None);
            }
            h.note("unmangle", &link(d, *from, *to), json!({}));
        }
    }
}

/// Ends every fault: links clean, paused servers resumed, dead ones restarted (keeping their
/// skew).
pub fn heal(d: &mut Deployment, h: &History) {
    d.mesh.heal_all();
    for i in 0..d.servers.len() {
        if let Member::Cluster(c) = &mut d.servers[i] {
            c.heal_links();
        }
        // A cluster may have a paused node and a dead one: resume first, then restart.
        if d.servers[i].liveness() == Liveness::Paused {
            let _ = d.servers[i].resume();
        }
        if d.servers[i].liveness() == Liveness::Dead {
            let skew = d.servers[i].skew_ms();
            restart(d, i, skew, h);
        }
    }
    h.note("heal", "all", json!({}));
}
