//! `innsync restore --from s3://bucket/prefix` and `innsync backup verify s3://bucket/prefix`:
//! the off-site archive (issue 21) downloaded, opened with the operator's key, checked and fed
//! to the local restore. Endpoint and credentials come from `AWS_ENDPOINT_URL`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`.

use anyhow::Context;
use innsync_offsite::{Bucket, Remote, SealKey};
use std::path::{Path, PathBuf};

/// Whether a `--from` or verify argument names the off-site archive.
pub fn is_remote(p: &Path) -> bool {
    p.to_str().is_some_and(|s| s.starts_with("s3://"))
}

fn bucket(url: &Path, key_file: Option<&Path>) -> anyhow::Result<Bucket> {
    let key_file = key_file
        .context("the off-site archive is sealed: give --key-file (or INNSYNC_ARCHIVE_KEY_FILE)")?;
    let key = SealKey::from_file(key_file)?;
    let url = url.to_str().context("the archive URL is not text")?;
    Ok(Bucket::connect(&Remote::at(url, None), key)?)
}

/// Restores the server archived at `url` into `data_dir`, up to `until`.
pub async fn restore(
    url: &Path,
    data_dir: &Path,
    until: Option<chrono::DateTime<chrono::Utc>>,
    key_file: Option<&Path>,
) -> anyhow::Result<()> {
    let bucket = bucket(url, key_file)?;
    let started = std::time::Instant::now();
    let scratch = scratch_beside(data_dir);
    let fetched = innsync_offsite::fetch(&bucket, until, &scratch).await?;
    let fetch_secs = started.elapsed().as_secs_f64();
    let (b, a, d) = (
        fetched.backup_dir.clone(),
        fetched.archive_dir.clone(),
        data_dir.to_path_buf(),
    );
    let r = tokio::task::spawn_blocking(move || {
        innsync_store::backup::restore(&b, &d, until, Some(&a))
    })
    .await??;
    let _ = std::fs::remove_dir_all(&scratch);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "restored {} from {} (backup {}, {} segments, {} bytes in {:.2}s: {:.1} MB/s) into {}: \
         {} archived changes replayed; lands at {}",
        r.manifest.server,
        bucket.url(),
        fetched.backup,
        fetched.segments,
        fetched.bytes,
        fetch_secs,
        fetched.bytes as f64 / 1e6 / fetch_secs.max(1e-9),
        data_dir.display(),
        r.replayed,
        r.lands_at.as_deref().unwrap_or("the backup")
    );
    println!("total {secs:.2}s");
    Ok(())
}

/// Verifies everything in the archive at `url`.
pub async fn verify(url: &Path, key_file: Option<&Path>) -> anyhow::Result<()> {
    let bucket = bucket(url, key_file)?;
    let scratch = std::env::temp_dir().join(format!("innsync-verify-{}", std::process::id()));
    let r = innsync_offsite::verify_remote(&bucket, &scratch).await?;
    for (name, m) in &r.backups {
        println!(
            "ok: backup {name} of {} taken {}, {} bytes: checksum, integrity and invariants verified",
            m.server, m.created_at, m.bytes
        );
    }
    println!(
        "ok: {} segments opened and checksummed, commit order {}..{} without a gap",
        r.segments, r.covers.0, r.covers.1
    );
    Ok(())
}

fn scratch_beside(data_dir: &Path) -> PathBuf {
    let name = data_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("data");
    data_dir.with_file_name(format!("{name}.offsite-fetch"))
}
