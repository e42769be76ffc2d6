//! One run from a seed: plan, deploy, drive the workload while the nemesis injects faults,
//! heal, wait for quiescence, check, report. A failing run's report carries the command that
//! replays it.

use crate::check::{check, read_db, Final, StockRule, Verdict};
use crate::deployment::{Deployment, Digests};
use crate::history::{Event, History, Outcome};
use crate::plan::{plan, FaultMix, Knobs, Plan};
use crate::workload::{run_client, Shared};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long, after heal, the servers may take to converge and drain their queues.
pub const QUIESCENCE_TIMEOUT: Duration = Duration::from_secs(90);

/// What a run needs besides its knobs.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// The seed.
    pub seed: u64,
    /// The plan's shape.
    pub knobs: Knobs,
    /// The `innsync` binary to start servers from.
    pub binary: PathBuf,
    /// Where the run's data directories, environment file and history go.
    pub work_dir: PathBuf,
    /// Keep the work directory after a passing run too.
    pub keep: bool,
}

impl RunConfig {
    /// The command that replays this run exactly (same plan, same faults).
    pub fn replay_command(&self) -> String {
        let k = &self.knobs;
        format!(
            "innsync chaos --seed {} --steps {} --clients {} --servers {} --faults {} --think-ms {}{}",
            self.seed,
            k.steps,
            k.clients,
            k.servers.join(","),
            k.faults.to_list(),
            k.think_ms,
            if k.contended_env { " --contended-env" } else { "" },
        ) + if k.lenient_stock { " --lenient-stock" } else { "" }
            + &k.cluster
                .as_ref()
                .map_or(String::new(), |c| format!(" --cluster {c}"))
    }
}

/// Why a run could not be carried out (as opposed to a run that found a violation).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad knobs.
    #[error("{0}")]
    Invalid(String),
    /// Deployment.
    #[error(transparent)]
    Deploy(#[from] crate::deployment::DeployError),
    /// The history file.
    #[error(transparent)]
    History(#[from] crate::history::HistoryError),
    /// A database could not be read.
    #[error(transparent)]
    Read(#[from] crate::check::ReadError),
}

/// What a run did and found.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Operations by kind and outcome (`ok`, `fail:CODE`, `info`).
    pub operations: BTreeMap<String, BTreeMap<String, usize>>,
    /// Faults performed, by kind.
    pub faults: BTreeMap<String, usize>,
    /// What the links did.
    pub links: crate::mesh::MeshStats,
    /// Milliseconds of workload, and from heal to quiescence.
    pub workload_ms: u64,
    /// From heal until the servers agreed and their queues drained (or the timeout).
    pub quiescence_ms: u64,
    /// The checker's verdict.
    pub verdict: Verdict,
    /// The history file.
    pub history: PathBuf,
    /// How to replay it.
    pub replay: String,
}

impl Report {
    /// Whether every guarantee held.
    pub fn passed(&self) -> bool {
        self.verdict.violations.is_empty()
    }

    /// A human summary: counts, then each violation, then the replay command.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "seed {}: {} after {} ms of workload, {} ms to quiesce\n",
            self.seed,
            if self.passed() { "PASS" } else { "FAIL" },
            self.workload_ms,
            self.quiescence_ms
        );
        for (kind, outcomes) in &self.operations {
            let parts: Vec<String> = outcomes.iter().map(|(o, n)| format!("{o} {n}")).collect();
            s.push_str(&format!("  {kind}: {}\n", parts.join(", ")));
        }
        let faults: Vec<String> = self
            .faults
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        s.push_str(&format!("  faults: {}\n", faults.join(", ")));
        let m = &self.links.mangled;
        s.push_str(&format!(
            "  links: {} connections cut, {} dropped; middlebox {} replayed, {} reordered, {} relays duplicated\n",
            self.links.cut_connections, self.links.dropped_connections, m.replayed, m.reordered, m.duplicated
        ));
        let c = &self.verdict.checked;
        s.push_str(&format!(
            "  checked: {} acknowledged bookings ({} writes fenced), {} env writes ({} fenced), {} pending operations, {} epochs ({} disputed), {} conflicts, {} nights oversold by several authorities together, {} grants\n",
            c.acknowledged_bookings, c.fenced_booking_writes, c.acknowledged_env_writes, c.fenced_env_writes, c.pending_operations, c.epochs, c.disputed_epochs, c.conflicts, c.cross_authority_oversold_nights, c.acknowledged_grants
        ));
        for v in &self.verdict.violations {
            s.push_str(&format!("  VIOLATION {}: {}\n", v.check, v.detail));
        }
        s.push_str(&format!("  history: {}\n", self.history.display()));
        if !self.passed() {
            s.push_str(&format!("  replay: {}\n", self.replay));
        }
        s
    }
}

fn outcome_label(o: &Outcome) -> String {
    match o {
        Outcome::Ok { status: 202 } => "queued".into(),
        Outcome::Ok { .. } => "ok".into(),
        Outcome::Fail { code, .. } => format!("fail:{code}"),
        Outcome::Info { .. } => "unknown".into(),
        Outcome::Invoke => "invoke".into(),
    }
}

/// Carries out one run.
pub async fn run(cfg: &RunConfig) -> Result<Report, RunError> {
    cfg.knobs.validate().map_err(RunError::Invalid)?;
    let plan: Plan = plan(cfg.seed, &cfg.knobs);
    let work = cfg.work_dir.join(format!("seed-{}", cfg.seed));
    let _ = std::fs::remove_dir_all(&work);
    let timetable = cfg.knobs.faults.skew;
    let mut d = Deployment::start(
        &cfg.binary,
        &work,
        &cfg.knobs.servers,
        &plan,
        timetable,
        cfg.knobs.cluster.as_deref(),
    )
    .await?;
    let history_path = work.join("history.jsonl");
    let history = History::to_file(&history_path)?;
    std::fs::write(
        work.join("plan.json"),
        serde_json::to_vec_pretty(&plan).unwrap_or_default(),
    )
    .map_err(|e| crate::deployment::DeployError::Io(e.to_string()))?;
    let shared = Shared {
        client: d.client.clone(),
        bases: Arc::new((0..d.servers.len()).map(|i| d.base(i)).collect()),
        codes: Arc::new(d.codes.clone()),
        master: Arc::new(AtomicUsize::new(0)),
        history: history.clone(),
        seed: cfg.seed,
        env_rooms: plan.env_rooms,
        today: chrono::Utc::now().date_naive(),
    };
    let started = Instant::now();
    let clients: Vec<_> = plan
        .clients
        .iter()
        .enumerate()
        .map(|(i, ops)| tokio::spawn(run_client(shared.clone(), i, ops.clone())))
        .collect();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let all_clients = async {
        for c in clients {
            let _ = c.await;
        }
        let _ = stop_tx.send(true);
    };
    let nemesis = crate::nemesis::run(&mut d, &plan.faults, &history, stop_rx);
    tokio::join!(all_clients, nemesis);
    let workload_ms = started.elapsed().as_millis() as u64;
    crate::nemesis::heal(&mut d, &history);
    let healed = Instant::now();
    let digests = quiesce(&d).await;
    let quiescence_ms = healed.elapsed().as_millis() as u64;
    history.flush();
    let report = judge(
        cfg,
        &d,
        &history.events(),
        digests,
        &history_path,
        workload_ms,
        quiescence_ms,
    )?;
    let links = d.mesh.stats();
    drop(d);
    let report = Report { links, ..report };
    if report.passed() && !cfg.keep {
        // Keep the history for the record; the databases are what is large.
        for code in &cfg.knobs.servers {
            let _ = std::fs::remove_dir_all(work.join(code));
        }
    }
    Ok(report)
}

/// Waits until every server has the same digest, no pending operation is waiting and no
/// handover runs, or [`QUIESCENCE_TIMEOUT`]; returns the last digests.
async fn quiesce(d: &Deployment) -> Digests {
    let deadline = Instant::now() + QUIESCENCE_TIMEOUT;
    loop {
        let digests = d.digests().await;
        let mut quiet = digests.converged();
        if quiet {
            for i in 0..d.servers.len() {
                let e = d.client.get(&d.base(i), "/api/v1/environment").await;
                let waiting = e.body["pending"]["count"].as_u64().unwrap_or(1);
                if !e.ok() || waiting > 0 || e.body["state"] == "handing_over" {
                    quiet = false;
                    break;
                }
            }
        }
        if quiet {
            // Equal twice in a row, a moment apart: nothing was still in flight.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let again = d.digests().await;
            if again == digests {
                return again;
            }
        }
        if Instant::now() > deadline {
            return digests;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn invariants(binary: &Path, dir: &Path) -> Result<(), String> {
    let out = std::process::Command::new(binary)
        .args(["check", "--data-dir"])
        .arg(dir)
        .output()
        .map_err(|e| format!("running innsync check: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn judge(
    cfg: &RunConfig,
    d: &Deployment,
    events: &[Event],
    digests: Digests,
    history_path: &Path,
    workload_ms: u64,
    quiescence_ms: u64,
) -> Result<Report, RunError> {
    let mut finals = Vec::new();
    let mut states = Vec::new();
    for (i, m) in d.servers.iter().enumerate() {
        let dirs = m.data_dirs();
        let Some(first) = dirs.first() else {
            continue;
        };
        let db = first.join("innsync.db");
        states.push(read_db(&db)?);
        // A cluster's every node is checked: one node's broken invariant is the server's.
        let broken: Vec<String> = dirs
            .iter()
            .filter_map(|dir| invariants(&cfg.binary, dir).err())
            .collect();
        finals.push(Final {
            code: d.codes[i].clone(),
            invariants: if broken.is_empty() {
                Ok(())
            } else {
                Err(broken.join("; "))
            },
            db,
            digest: digests.0.get(i).cloned().unwrap_or_default(),
        });
    }
    let rule = if cfg.knobs.lenient_stock {
        StockRule::WholeInventoryPerAuthority
    } else {
        StockRule::Strict
    };
    let verdict = check(events, &finals, &states, &d.codes[0], rule);
    let mut operations: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut faults: BTreeMap<String, usize> = BTreeMap::new();
    for e in events {
        if e.process == "nemesis" {
            *faults.entry(e.kind.clone()).or_default() += 1;
        } else if e.outcome != Outcome::Invoke {
            *operations
                .entry(e.kind.clone())
                .or_default()
                .entry(outcome_label(&e.outcome))
                .or_default() += 1;
        }
    }
    Ok(Report {
        seed: cfg.seed,
        operations,
        faults,
        links: Default::default(),
        workload_ms,
        quiescence_ms,
        verdict,
        history: history_path.to_path_buf(),
        replay: cfg.replay_command(),
    })
}

/// The knobs of the short pass CI runs: three servers, every fault, a few hundred operations.
pub fn short_knobs() -> Knobs {
    Knobs {
        steps: 240,
        clients: 4,
        servers: vec!["WB".into(), "RS".into(), "PA".into()],
        faults: FaultMix::all(),
        contended_env: false,
        think_ms: 40,
        lenient_stock: false,
        cluster: None,
    }
}
