//! The off-site archive's named settings (`--setting archive_url=s3://bucket/prefix`, …), with
//! their defaults. Endpoint and credentials may instead come from the usual `AWS_*` variables.

use std::path::PathBuf;
use std::time::Duration;

/// Where and how often a server ships its archive, and the limits of each request.
#[derive(Clone, Debug)]
pub struct OffsiteSettings {
    /// `s3://bucket/prefix`: where this server's archive goes (none: off).
    pub url: Option<String>,
    /// File with the operator's 256-bit key, 64 hex digits (required with `url`).
    pub key_file: Option<PathBuf>,
    /// S3 endpoint (an S3-compatible service); else `AWS_ENDPOINT_URL` or AWS itself.
    pub endpoint: Option<String>,
    /// Region; else `AWS_REGION` or `us-east-1`.
    pub region: Option<String>,
    /// How often new changes are shipped: the bound on the data at risk (RPO) when the
    /// object store keeps up. Default 250 ms.
    pub ship_interval: Duration,
    /// Time between two backups shipped as new restore bases (the first is taken at once when
    /// the bucket holds none). Default 6 h.
    pub backup_interval: Duration,
    /// Backups kept in the bucket; older ones, and segments only they needed, are removed.
    pub keep_backups: usize,
    /// How often retention and the merging of small segments run. Default 10 min.
    pub compact_interval: Duration,
    /// Longest time one request to the object store may take (then it is retried). Default 10 s.
    pub request_timeout: Duration,
    /// Longest time to connect to the object store. Default 3 s.
    pub connect_timeout: Duration,
    /// Most segments shipped in one round, so one round ends and the lag is measured even
    /// after a long outage (the backlog goes in the next rounds). Default 16.
    pub max_segments_per_round: usize,
    /// Most changes in one shipped segment. Default 10 000 (the local archive's limit).
    pub segment_changes: usize,
    /// Objects larger than this (sealed bytes) go up as a multipart upload: a large backup
    /// is sent in parts, each retried alone, and is not held to S3's 5 GiB limit of one PUT.
    /// Default 64 MiB.
    pub multipart_threshold: usize,
    /// Size of one part of a multipart upload (S3 needs 5 MiB at least). Default 16 MiB.
    pub multipart_part: usize,
    /// Most parts of one upload in flight at once. Default 4.
    pub multipart_concurrency: usize,
}

/// The smallest part S3 accepts (but the last).
pub const MIN_PART: usize = 5 * 1024 * 1024;

impl Default for OffsiteSettings {
    fn default() -> Self {
        Self {
            url: None,
            key_file: None,
            endpoint: None,
            region: None,
            ship_interval: Duration::from_millis(250),
            backup_interval: Duration::from_secs(6 * 3600),
            keep_backups: 7,
            compact_interval: Duration::from_secs(600),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            max_segments_per_round: 16,
            segment_changes: innsync_store::backup::SEGMENT_LIMIT,
            multipart_threshold: 64 * 1024 * 1024,
            multipart_part: 16 * 1024 * 1024,
            multipart_concurrency: 4,
        }
    }
}

impl OffsiteSettings {
    /// Every setting name this struct answers to.
    pub const NAMES: &'static [&'static str] = &[
        "archive_url",
        "archive_key_file",
        "archive_endpoint",
        "archive_region",
        "archive_ship_interval",
        "archive_backup_interval",
        "archive_keep_backups",
        "archive_compact_interval",
        "archive_request_timeout",
        "archive_connect_timeout",
        "archive_max_segments_per_round",
        "archive_segment_changes",
        "archive_multipart_threshold",
        "archive_multipart_part",
        "archive_multipart_concurrency",
    ];

    /// Sets one by name; `duration` is the server's parser of `250ms`, `6h`…
    pub fn set(
        &mut self,
        name: &str,
        value: &str,
        duration: impl Fn(&str) -> Result<Duration, String>,
    ) -> Result<(), String> {
        let count = |v: &str| {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{v:?} is not a count above zero"))
        };
        let positive = |v: &str| {
            duration(v).and_then(|d| {
                if d.is_zero() {
                    Err(format!("{name} must be more than zero"))
                } else {
                    Ok(d)
                }
            })
        };
        match name {
            "archive_url" => {
                crate::bucket::split_url(value)?;
                self.url = Some(value.to_string());
            }
            "archive_key_file" => self.key_file = Some(value.into()),
            "archive_endpoint" => self.endpoint = Some(value.to_string()),
            "archive_region" => self.region = Some(value.to_string()),
            "archive_ship_interval" => self.ship_interval = positive(value)?,
            "archive_backup_interval" => self.backup_interval = positive(value)?,
            "archive_keep_backups" => self.keep_backups = count(value)?,
            "archive_compact_interval" => self.compact_interval = positive(value)?,
            "archive_request_timeout" => self.request_timeout = positive(value)?,
            "archive_connect_timeout" => self.connect_timeout = positive(value)?,
            "archive_max_segments_per_round" => self.max_segments_per_round = count(value)?,
            "archive_segment_changes" => self.segment_changes = count(value)?,
            "archive_multipart_threshold" => self.multipart_threshold = count(value)?,
            "archive_multipart_part" => {
                let n = count(value)?;
                if n < MIN_PART {
                    return Err(format!("{name}: a part is {MIN_PART} bytes at least (S3)"));
                }
                self.multipart_part = n;
            }
            "archive_multipart_concurrency" => self.multipart_concurrency = count(value)?,
            other => return Err(format!("no setting named {other:?}")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &str) -> Result<Duration, String> {
        v.strip_suffix("ms")
            .and_then(|n| n.parse().ok())
            .map(Duration::from_millis)
            .ok_or_else(|| format!("{v:?} is not a duration"))
    }

    #[test]
    fn settings_are_checked_by_name() {
        let mut s = OffsiteSettings::default();
        s.set("archive_url", "s3://bucket/site/wb", ms).unwrap();
        s.set("archive_ship_interval", "100ms", ms).unwrap();
        assert_eq!(s.ship_interval, Duration::from_millis(100));
        assert!(s.set("archive_url", "http://bucket", ms).is_err());
        assert!(s.set("archive_url", "s3://", ms).is_err());
        assert!(s.set("archive_ship_interval", "0ms", ms).is_err());
        assert!(s.set("archive_keep_backups", "0", ms).is_err());
        assert!(s.set("archive_nonsense", "1", ms).is_err());
        assert!(s.set("archive_multipart_part", "1048576", ms).is_err());
        s.set("archive_multipart_part", "5242880", ms).unwrap();
        for n in OffsiteSettings::NAMES {
            assert!(n.starts_with("archive_"));
        }
    }
}
