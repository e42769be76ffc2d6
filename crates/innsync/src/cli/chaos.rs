//! `innsync chaos`: the fault harness (`innsync-chaos`) against real servers started from this
//! binary. One seed, a few seeds, or — in long mode — seed after seed for as many minutes as
//! asked. Exits non-zero when a guarantee broke, after printing how to replay that seed.

use anyhow::{bail, Context};
use clap::Args;
use innsync_chaos::{FaultMix, Knobs, RunConfig};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Options of `innsync chaos`.
#[derive(Args, Debug)]
pub struct ChaosArgs {
    /// The (first) seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How many seeds to run, one after another (seed, seed + 1, …).
    #[arg(long, default_value_t = 1)]
    pub seeds: u64,
    /// Long mode: keep running seeds until this many minutes have passed.
    #[arg(long)]
    pub minutes: Option<u64>,
    /// Operations per seed, over every client.
    #[arg(long, default_value_t = 240)]
    pub steps: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// The servers (first: initial master; `P…`: property servers; `WB`: web; others:
    /// reservation offices).
    #[arg(long, default_value = "WB,RS,PA")]
    pub servers: String,
    /// Fault kinds: `all`, `none`, or a list of kill, pause, partition, delay, drop, mangle,
    /// skew, takeover.
    #[arg(long, default_value = "all")]
    pub faults: String,
    /// Mean pause of a client between two operations (ms).
    #[arg(long, default_value_t = 40)]
    pub think_ms: u64,
    /// Give the env property two rooms only, so that the offices fight over them.
    #[arg(long)]
    pub contended_env: bool,
    /// Count nights sold beyond their rooms by several authorities together as the gap before
    /// allotments (issue 4) — reported, not failed — to compare with builds from before them.
    #[arg(long)]
    pub lenient_stock: bool,
    /// Run this server (one of `--servers`) as a three-node Raft cluster behind one address:
    /// kill -9 of its leader and partitions between its nodes join the faults.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Where runs go (a directory per seed: history, plan, and the databases of failing runs).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Keep the databases of passing runs too.
    #[arg(long)]
    pub keep: bool,
}

pub async fn run(a: ChaosArgs) -> anyhow::Result<()> {
    super::init_logging("warn");
    let knobs = Knobs {
        steps: a.steps,
        clients: a.clients,
        servers: a.servers.split(',').map(|s| s.trim().to_string()).collect(),
        faults: FaultMix::parse(&a.faults).map_err(anyhow::Error::msg)?,
        contended_env: a.contended_env,
        think_ms: a.think_ms,
        lenient_stock: a.lenient_stock,
        cluster: a.cluster.clone(),
    };
    knobs.validate().map_err(anyhow::Error::msg)?;
    let binary = std::env::current_exe().context("finding the innsync executable")?;
    let work_dir = a.work_dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("innsync-chaos-{}", std::process::id()))
    });
    let until = a
        .minutes
        .map(|m| Instant::now() + Duration::from_secs(m * 60));
    let (mut passed, mut failed) = (0u64, Vec::new());
    let mut seed = a.seed;
    loop {
        let cfg = RunConfig {
            seed,
            knobs: knobs.clone(),
            binary: binary.clone(),
            work_dir: work_dir.clone(),
            keep: a.keep,
        };
        let report = innsync_chaos::run(&cfg)
            .await
            .with_context(|| format!("seed {seed} could not run"))?;
        print!("{}", report.summary());
        if report.passed() {
            passed += 1;
        } else {
            failed.push((seed, report.replay.clone()));
        }
        seed += 1;
        let more = match until {
            Some(t) => Instant::now() < t,
            None => seed < a.seed + a.seeds,
        };
        if !more {
            break;
        }
    }
    println!(
        "{} passed, {} failed (work directory {})",
        passed,
        failed.len(),
        work_dir.display()
    );
    if !failed.is_empty() {
        for (s, replay) in &failed {
            eprintln!("seed {s} failed; replay with: {replay}");
        }
        bail!("{} seed(s) broke a guarantee", failed.len());
    }
    Ok(())
}
