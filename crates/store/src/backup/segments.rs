//! The change-log archive: every change in local commit order, in checksummed segment files,
//! appended as the server commits and read back (checked) by a point-in-time restore.

use super::{write_durably, BackupError, SEGMENT_LIMIT};
use crate::change::Change;
use crate::error::StoreError;
use crate::read::ReadPool;
use innsync_core::ServerCode;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// One archived change, as a line of a segment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ArchivedChange {
    /// Its position in the local commit order.
    pub n: i64,
    /// The time of the batch that committed it here (RFC 3339).
    pub committed_at: String,
    /// It was logged but quarantined (not applied to its record).
    #[serde(default)]
    pub quarantined: bool,
    /// The change.
    pub change: Change,
}

#[derive(Serialize, Deserialize)]
struct SegmentEnd {
    sha256: String,
    count: usize,
}

/// The file (or object) name of the segment holding changes `first..=last` of the commit order:
/// zero-padded so names sort in commit order.
pub fn segment_name(first: i64, last: i64) -> String {
    format!("seg-{first:012}-{last:012}.jsonl")
}

/// The range of the commit order a segment's name says it holds.
pub fn segment_range(name: &str) -> Option<(i64, i64)> {
    let rest = name.strip_prefix("seg-")?.strip_suffix(".jsonl")?;
    let (a, b) = rest.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The segments in an archive directory, in order.
pub(super) fn segments(archive: &Path) -> Result<Vec<(i64, i64, PathBuf)>, std::io::Error> {
    let mut out = Vec::new();
    if !archive.exists() {
        return Ok(out);
    }
    for e in std::fs::read_dir(archive)? {
        let e = e?;
        if let Some((a, b)) = e.file_name().to_str().and_then(segment_range) {
            out.push((a, b, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// One segment ready to be written somewhere (a file, an object): its range in the commit order
/// and its bytes (one change a line, then the closing checksum line).
#[derive(Clone, Debug)]
pub struct SegmentBytes {
    /// The first change's position in the commit order.
    pub first: i64,
    /// The last change's position.
    pub last: i64,
    /// The segment as written.
    pub bytes: Vec<u8>,
}

/// The changes committed after position `after` of the commit order, at most `limit` of them,
/// as one segment; `None` when there are none. Shared by the local archive and the off-site
/// shipper so both write the same format.
pub fn next_segment(
    pool: &ReadPool,
    after: i64,
    limit: usize,
) -> Result<Option<SegmentBytes>, BackupError> {
    let rows = pool.with(|c| {
        let mut st = c.prepare_cached(
            "SELECT o.n, o.committed_at, c.origin, c.seq, c.epoch, c.authority, c.at,
                    c.actor, c.action, c.detail, c.body,
                    EXISTS (SELECT 1 FROM conflicts k WHERE k.origin = c.origin AND k.seq = c.seq)
             FROM change_order o JOIN changes c ON c.origin = o.origin AND c.seq = o.seq
             WHERE o.n > ?1 ORDER BY o.n LIMIT ?2",
        )?;
        let mut rows = st.query(params![after, limit as i64])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let body: String = r.get(10)?;
            let authority: String = r.get(5)?;
            out.push(ArchivedChange {
                n: r.get(0)?,
                committed_at: r.get(1)?,
                quarantined: r.get(11)?,
                change: Change {
                    origin: ServerCode::parse(&r.get::<_, String>(2)?)
                        .map_err(StoreError::Corrupt)?,
                    seq: r.get::<_, i64>(3)? as u64,
                    epoch: r.get::<_, i64>(4)? as u64,
                    authority: innsync_core::Authority::parse(&authority)
                        .map_err(StoreError::Corrupt)?,
                    at: r.get(6)?,
                    actor: r.get(7)?,
                    action: r.get(8)?,
                    detail: r.get(9)?,
                    record: serde_json::from_str(&body)?,
                },
            });
        }
        Ok(out)
    })?;
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok(None);
    };
    let (first, last) = (first.n, last.n);
    Ok(Some(SegmentBytes {
        first,
        last,
        bytes: encode_segment(&rows)?,
    }))
}

/// Writes changes as a segment: one a line, then the closing line with their SHA-256 and count.
pub fn encode_segment(rows: &[ArchivedChange]) -> Result<Vec<u8>, BackupError> {
    let mut text = Vec::new();
    for r in rows {
        serde_json::to_writer(&mut text, r).map_err(StoreError::from)?;
        text.push(b'\n');
    }
    let end = SegmentEnd {
        sha256: hex::encode(Sha256::digest(&text)),
        count: rows.len(),
    };
    serde_json::to_writer(&mut text, &end).map_err(StoreError::from)?;
    text.push(b'\n');
    Ok(text)
}

/// Where the commit order stands: its newest position, the commit time of position `n` if it
/// exists (what an archive's lag is measured against), and whether changes are numbered at all
/// yet (`meta.commit_order`: an archive started before that would miss changes).
#[derive(Clone, Debug)]
pub struct OrderHead {
    /// The newest position (0: none).
    pub head: i64,
    /// When position `n` was committed.
    pub at: Option<String>,
    /// Changes are being numbered.
    pub tracking: bool,
}

/// The commit order's [`OrderHead`], with the commit time of position `n`.
pub fn commit_order_head(pool: &ReadPool, n: i64) -> Result<OrderHead, BackupError> {
    Ok(pool.with(|c| {
        let head: i64 = c.query_row("SELECT COALESCE(MAX(n), 0) FROM change_order", [], |r| {
            r.get(0)
        })?;
        let at = c
            .query_row(
                "SELECT committed_at FROM change_order WHERE n = ?1",
                [n],
                |r| r.get(0),
            )
            .optional()?;
        let tracking = c
            .query_row("SELECT 1 FROM meta WHERE key = 'commit_order'", [], |_| {
                Ok(())
            })
            .optional()?
            .is_some();
        Ok(OrderHead { head, at, tracking })
    })?)
}

/// Appends to `archive` every change committed since the last segment, as new segments
/// (at most [`SEGMENT_LIMIT`] changes each). Returns how many changes were archived.
pub fn archive(pool: &ReadPool, archive: &Path) -> Result<usize, BackupError> {
    std::fs::create_dir_all(archive)?;
    let mut after = segments(archive)?.last().map_or(0, |s| s.1);
    let mut total = 0;
    while let Some(seg) = next_segment(pool, after, SEGMENT_LIMIT)? {
        write_durably(&archive.join(segment_name(seg.first, seg.last)), &seg.bytes)?;
        total += (seg.last - seg.first + 1) as usize;
        after = seg.last;
    }
    Ok(total)
}

/// Reads one segment, checking its checksum.
pub(super) fn read_segment(path: &Path) -> Result<Vec<ArchivedChange>, BackupError> {
    let text = std::fs::read(path)?;
    decode_segment(&text, &path.display().to_string())
}

/// Reads a segment's bytes (`what` names it in errors), checking the closing checksum and count.
pub fn decode_segment(text: &[u8], what: &str) -> Result<Vec<ArchivedChange>, BackupError> {
    let damaged = |why: String| BackupError::Damaged {
        dir: what.to_string(),
        why,
    };
    let body_end = text[..text.len().saturating_sub(1)]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let (body, tail) = text.split_at(body_end);
    let end: SegmentEnd = serde_json::from_slice(tail)
        .map_err(|_| damaged("the segment has no closing checksum line (truncated?)".into()))?;
    if hex::encode(Sha256::digest(body)) != end.sha256 {
        return Err(damaged(
            "checksum mismatch: the segment is corrupted".into(),
        ));
    }
    let mut out = Vec::with_capacity(end.count);
    for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        out.push(serde_json::from_slice(line).map_err(|e| damaged(e.to_string()))?);
    }
    if out.len() != end.count {
        return Err(damaged(format!(
            "{} changes, the closing line says {}",
            out.len(),
            end.count
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_sort_and_parse() {
        let n = segment_name(1, 10_000);
        assert_eq!(segment_range(&n), Some((1, 10_000)));
        assert!(segment_name(9, 9) < segment_name(10, 12));
        assert_eq!(segment_range("manifest.json"), None);
    }

    #[test]
    fn a_damaged_segment_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let body = b"{\"not\":\"a change\"}\n".to_vec();
        let mut text = body.clone();
        let end = SegmentEnd {
            sha256: hex::encode(Sha256::digest(&body)),
            count: 1,
        };
        text.extend(serde_json::to_vec(&end).unwrap());
        text.push(b'\n');
        let p = dir.path().join(segment_name(1, 1));
        std::fs::write(&p, &text).unwrap();
        // Checksum right, content not a change: refused with the reason.
        assert!(matches!(read_segment(&p), Err(BackupError::Damaged { .. })));
        // One byte flipped: the checksum catches it.
        text[3] ^= 1;
        std::fs::write(&p, &text).unwrap();
        let err = read_segment(&p).unwrap_err().to_string();
        assert!(err.contains("checksum"), "{err}");
        // Truncated: no closing line.
        std::fs::write(&p, &body).unwrap();
        assert!(read_segment(&p).is_err());
    }
}
