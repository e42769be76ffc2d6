//! The `innsync` binary: runs a server, a demo environment, benchmarks and operator commands.
//! Errors end here as `anyhow` messages with a non-zero exit.

mod cli;
mod client;

use clap::{Parser, Subcommand};

/// innsync: a reservation system for hotels and lodges that keeps several servers in sync.
#[derive(Parser)]
#[command(name = "innsync", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a server.
    Serve(cli::serve::ServeArgs),
    /// Start a demo server on 127.0.0.1 with sample data, until Ctrl-C.
    Demo(cli::demo::DemoArgs),
    /// Measure booking throughput, latency and availability query time.
    Bench(cli::bench::BenchArgs),
    /// Fault harness: real servers, a seeded workload and faults, then every guarantee checked.
    Chaos(cli::chaos::ChaosArgs),
    /// Check a stopped (or running) server's database against every invariant.
    Check(cli::check::CheckArgs),
    /// The PMS link's other side: run a hospitality gateway / PBX simulator.
    #[command(subcommand)]
    Pms(cli::pms::PmsCmd),
    /// The master token: hand it over.
    #[command(subcommand)]
    Master(cli::master::MasterCmd),
    /// Allotments: who holds which rooms, grants and requests.
    #[command(subcommand)]
    Allotment(cli::allotment::AllotmentCmd),
    /// The pending-operation queue: list, retry, cancel.
    #[command(subcommand)]
    Pending(cli::pending::PendingCmd),
    /// Master, epoch, each server's reachability and lag.
    Status(cli::master::Target),
    /// An HA cluster's membership: status, add, remove, replace a node.
    #[command(subcommand)]
    Cluster(cli::cluster::ClusterCmd),
    /// Online backups: create, verify.
    #[command(subcommand)]
    Backup(cli::backup::BackupCmd),
    /// Restore a backup into an empty data directory, optionally up to a point in time.
    Restore(cli::backup::RestoreArgs),
    /// Make a private CA and a TLS certificate for each server of an environment file.
    Cert(cli::cert::CertArgs),
    /// Pull everything from a peer now and print what moved.
    Transfer {
        /// The peer.
        #[arg(long)]
        with: String,
        #[command(flatten)]
        target: cli::master::Target,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("innsync: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Cmd::Serve(a) => cli::serve::run(a).await,
            Cmd::Demo(a) => cli::demo::run(a).await,
            Cmd::Bench(a) => cli::bench::run(a).await,
            Cmd::Chaos(a) => cli::chaos::run(a).await,
            Cmd::Check(a) => cli::check::run(a),
            Cmd::Pms(c) => cli::pms::run(c).await,
            Cmd::Master(c) => cli::master::run(c).await,
            Cmd::Status(t) => cli::master::status(t).await,
            Cmd::Allotment(c) => cli::allotment::run(c).await,
            Cmd::Pending(c) => cli::pending::run(c).await,
            Cmd::Cluster(c) => cli::cluster::run(c).await,
            Cmd::Backup(c) => cli::backup::run(c).await,
            Cmd::Restore(a) => cli::backup::restore(a).await,
            Cmd::Cert(a) => cli::cert::run(a),
            Cmd::Transfer { with, target } => cli::master::transfer(with, target).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("innsync: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
