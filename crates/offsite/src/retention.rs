//! Retention and compaction of the archive in the bucket: only the newest `archive_keep_backups`
//! backups are kept, segments that only older backups needed are removed, and runs of small
//! segments (one per ship round) are merged into segments of up to `archive_segment_changes`.
//!
//! Why it is safe at any moment: a backup's manifest is removed before its file, so a backup is
//! either complete or not listed; a merged segment is written before the small ones it replaces
//! are removed, and a restore accepts overlapping segments (it skips what it already replayed).

use crate::bucket::{backup_object, segment_object};
use crate::{Bucket, OffsiteError};
use innsync_store::backup::{decode_segment, encode_segment, MANIFEST_FILE};

/// What one pass of retention did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Backups removed (older than the newest kept).
    pub backups_removed: usize,
    /// Segments removed because no kept backup needs them.
    pub segments_removed: usize,
    /// Merged segments written.
    pub merged_into: usize,
    /// Small segments replaced by them.
    pub merged_from: usize,
}

/// One pass over the bucket: retention, then merging.
pub async fn apply(
    bucket: &Bucket,
    keep_backups: usize,
    segment_changes: usize,
) -> Result<RetentionReport, OffsiteError> {
    let mut report = RetentionReport::default();
    let backups = bucket.backups().await?;
    let drop = backups.len().saturating_sub(keep_backups.max(1));
    for name in &backups[..drop] {
        bucket.delete(&backup_object(name, MANIFEST_FILE)).await?;
        bucket
            .delete(&backup_object(name, innsync_store::DB_FILE))
            .await?;
        report.backups_removed += 1;
    }
    let floor = match backups.get(drop) {
        Some(oldest_kept) => bucket.manifest(oldest_kept).await?.order_upto,
        None => 0,
    };
    let mut segments = bucket.segments().await?;
    let mut kept = Vec::with_capacity(segments.len());
    for (first, last, name) in segments.drain(..) {
        if last <= floor {
            bucket.delete(&name).await?;
            report.segments_removed += 1;
        } else {
            kept.push((first, last, name));
        }
    }
    for run in runs(&kept, segment_changes) {
        if run.len() < 2 {
            continue;
        }
        merge(bucket, &run, &mut report).await?;
    }
    Ok(report)
}

/// Groups consecutive (or overlapping) segments into runs of at most `limit` changes. The
/// newest segment is left alone (it is the one the shipper wrote last).
fn runs(segments: &[(i64, i64, String)], limit: usize) -> Vec<Vec<(i64, i64, String)>> {
    let mut out: Vec<Vec<(i64, i64, String)>> = Vec::new();
    let older = segments.len().saturating_sub(1);
    let mut span: Option<(i64, i64)> = None;
    for seg in &segments[..older] {
        let (first, last, _) = seg;
        match span {
            Some((a, b)) if *first <= b + 1 && (last.max(&b) - a + 1) as usize <= limit => {
                span = Some((a, *last.max(&b)));
                if let Some(run) = out.last_mut() {
                    run.push(seg.clone());
                }
            }
            _ => {
                span = Some((*first, *last));
                out.push(vec![seg.clone()]);
            }
        }
    }
    out
}

/// Writes one segment holding every change of `run` (each once, in order), then removes the
/// small ones.
async fn merge(
    bucket: &Bucket,
    run: &[(i64, i64, String)],
    report: &mut RetentionReport,
) -> Result<(), OffsiteError> {
    let mut all = Vec::new();
    for (_, _, name) in run {
        let bytes = bucket.get_opened(name).await?;
        for c in decode_segment(&bytes, name)? {
            if all
                .last()
                .is_none_or(|p: &innsync_store::backup::ArchivedChange| c.n > p.n)
            {
                all.push(c);
            }
        }
    }
    let (Some(first), Some(last)) = (all.first().map(|c| c.n), all.last().map(|c| c.n)) else {
        return Ok(());
    };
    let merged = segment_object(first, last);
    bucket.put_sealed(&merged, &encode_segment(&all)?).await?;
    report.merged_into += 1;
    for (_, _, name) in run {
        if *name != merged {
            bucket.delete(name).await?;
            report.merged_from += 1;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(a: i64, b: i64) -> (i64, i64, String) {
        (a, b, format!("{a}-{b}"))
    }

    #[test]
    fn runs_are_consecutive_bounded_and_spare_the_newest() {
        let s = vec![
            seg(1, 3),
            seg(4, 6),
            seg(7, 9),
            seg(10, 12),
            seg(20, 21),
            seg(22, 23),
        ];
        let r = runs(&s, 6);
        let spans: Vec<Vec<i64>> = r.iter().map(|r| r.iter().map(|s| s.0).collect()).collect();
        // 1-6 (6 changes), 7-12, then a gap before 20; 22-23 is the newest and left alone.
        assert_eq!(spans, vec![vec![1, 4], vec![7, 10], vec![20]]);
        // Overlaps (a segment written twice across a leader change) join their run.
        let r = runs(&[seg(1, 5), seg(3, 8), seg(9, 9)], 100);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].len(), 2);
    }
}
