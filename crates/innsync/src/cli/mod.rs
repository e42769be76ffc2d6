//! One module per subcommand.

pub mod allotment;
pub mod backup;
pub mod backup_remote;
pub mod bench;
pub mod bench_all;
pub mod bench_cluster;
pub mod bench_links;
pub mod bench_looktobook;
pub mod bench_queue;
pub mod bench_quote;
pub mod bench_regions;
pub mod bench_replication;
pub mod bench_scale;
pub mod cert;
pub mod chaos;
pub mod check;
pub mod cluster;
pub mod demo;
pub mod demo_drill;
pub mod demo_guests;
pub mod demo_history;
pub mod demo_money;
pub mod demo_rates;
pub mod demo_resv;
pub mod master;
pub mod pending;
pub mod pms;
pub mod serve;

/// Logs to stderr at `default` level unless `RUST_LOG` says otherwise.
pub fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
