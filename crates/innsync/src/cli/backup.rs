//! `innsync backup create|verify` and `innsync restore` (DESIGN.md §11; the runbook is
//! docs/disaster-recovery.md).

use anyhow::Context;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `innsync backup` subcommands.
#[derive(Subcommand, Debug)]
pub enum BackupCmd {
    /// Take an online, consistent backup of a server's database (running or stopped).
    Create {
        /// The server's data directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// A new directory for the backup.
        #[arg(long)]
        to: PathBuf,
    },
    /// Check a backup: checksum, SQLite integrity, every invariant.
    Verify {
        /// The backup directory, or the off-site archive `s3://bucket/prefix`.
        dir: PathBuf,
        /// The off-site archive's key file (64 hex digits), for `s3://`.
        #[arg(long, env = "INNSYNC_ARCHIVE_KEY_FILE")]
        key_file: Option<PathBuf>,
    },
}

/// Options of `innsync restore`.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The backup directory, or the off-site archive `s3://bucket/prefix` (its newest backup
    /// not after `--until`, and the change log after it).
    #[arg(long)]
    pub from: PathBuf,
    /// The off-site archive's key file (64 hex digits), for `--from s3://…`.
    #[arg(long, env = "INNSYNC_ARCHIVE_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// The data directory to restore into (must hold no database; the server stopped).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Replay the archived change log up to this time (RFC 3339, e.g. 2026-12-01T10:15:00Z).
    #[arg(long)]
    pub until: Option<String>,
    /// The change-log archive (the server's `archive_dir` setting) to replay from.
    #[arg(long)]
    pub archive: Option<PathBuf>,
}

pub async fn run(cmd: BackupCmd) -> anyhow::Result<()> {
    match cmd {
        BackupCmd::Create { data_dir, to } => {
            let started = std::time::Instant::now();
            let m = innsync_store::backup::create(
                &data_dir.join(innsync_store::DB_FILE),
                &to,
                chrono::Utc::now(),
            )
            .with_context(|| format!("backing up {}", data_dir.display()))?;
            println!(
                "backup of {} in {}: {} bytes, last seq {}, sha256 {} ({:.2}s)",
                m.server,
                to.display(),
                m.bytes,
                m.last_seq,
                m.sha256,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        BackupCmd::Verify { dir, key_file } if super::backup_remote::is_remote(&dir) => {
            super::backup_remote::verify(&dir, key_file.as_deref()).await
        }
        BackupCmd::Verify { dir, .. } => {
            let m = innsync_store::backup::verify(&dir)?;
            println!(
                "ok: backup of {} taken {}, {} bytes, checksum, integrity and invariants verified",
                m.server, m.created_at, m.bytes
            );
            Ok(())
        }
    }
}

pub async fn restore(a: RestoreArgs) -> anyhow::Result<()> {
    let until = a
        .until
        .as_deref()
        .map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|_| {
                    anyhow::anyhow!("--until {t:?} is not an RFC 3339 time (2026-12-01T10:15:00Z)")
                })
        })
        .transpose()?;
    if super::backup_remote::is_remote(&a.from) {
        return super::backup_remote::restore(&a.from, &a.data_dir, until, a.key_file.as_deref())
            .await;
    }
    let r = innsync_store::backup::restore(&a.from, &a.data_dir, until, a.archive.as_deref())?;
    println!(
        "restored {} into {}: {} archived changes replayed; lands at {}",
        r.manifest.server,
        a.data_dir.display(),
        r.replayed,
        r.lands_at.as_deref().unwrap_or("the backup")
    );
    println!("on start it recovers its own later changes from its peers before taking writes");
    Ok(())
}
