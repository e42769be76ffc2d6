//! `innsync check`: verifies a database against every invariant, from the records up.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

/// Options of `innsync check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The server's data directory.
    #[arg(long)]
    pub data_dir: PathBuf,
}

pub fn run(a: CheckArgs) -> anyhow::Result<()> {
    let path = a.data_dir.join(innsync_store::DB_FILE);
    if !path.exists() {
        anyhow::bail!("no database at {}", path.display());
    }
    let pool = innsync_store::ReadPool::new(path);
    pool.check_invariants()
        .map_err(anyhow::Error::msg)
        .context("invariant violated")?;
    let counts = pool.record_counts()?;
    println!("ok: every invariant holds");
    for (kind, n) in counts {
        println!("{kind}: {n}");
    }
    println!("digest: {}", pool.digest()?);
    for d in pool.double_billed()? {
        println!(
            "warning: entry {} of booking {} is billed on {} invoices ({}); credit all but one",
            d.entry,
            d.booking,
            d.invoices.len(),
            d.invoices.join(", ")
        );
    }
    Ok(())
}
