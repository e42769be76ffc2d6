//! The archive in the bucket: where each object goes under `s3://bucket/prefix`, and the typed
//! calls (sealed put, opened get, list, delete), each bounded by a named timeout.
//!
//! Layout under the prefix (one server's history; in a cluster, the leader writes it):
//! - `segments/seg-FIRST-LAST.jsonl.sealed`: changes FIRST..=LAST of the local commit order;
//! - `backups/backup-TIME/innsync.db.sealed` then `backups/backup-TIME/manifest.json.sealed`:
//!   a backup is complete once its manifest is there (it is written last).

use crate::{OffsiteError, OffsiteSettings, SealKey};
use futures::StreamExt;
use innsync_store::backup::{segment_range, Manifest};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, PutPayload, RetryConfig, WriteMultipart};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The suffix of every sealed object.
pub const SEALED: &str = ".sealed";
/// The folder of the change-log segments.
pub const SEGMENTS: &str = "segments";
/// The folder of the backups.
pub const BACKUPS: &str = "backups";

/// Where the archive is and how to reach it.
#[derive(Clone, Debug)]
pub struct Remote {
    /// `s3://bucket/prefix`.
    pub url: String,
    /// The S3 endpoint, if not AWS (else `AWS_ENDPOINT_URL`).
    pub endpoint: Option<String>,
    /// The region (else `AWS_REGION`, else `us-east-1`).
    pub region: Option<String>,
    /// Longest time for one request.
    pub request_timeout: Duration,
    /// Longest time to connect.
    pub connect_timeout: Duration,
    /// Sealed objects larger than this go up in parts.
    pub multipart_threshold: usize,
    /// One part's size.
    pub multipart_part: usize,
    /// Most parts in flight at once.
    pub multipart_concurrency: usize,
}

impl Remote {
    /// The remote a server's settings name, if any.
    pub fn from_settings(s: &OffsiteSettings) -> Option<Self> {
        Some(Self {
            url: s.url.clone()?,
            endpoint: s.endpoint.clone(),
            region: s.region.clone(),
            request_timeout: s.request_timeout,
            connect_timeout: s.connect_timeout,
            multipart_threshold: s.multipart_threshold,
            multipart_part: s.multipart_part,
            multipart_concurrency: s.multipart_concurrency,
        })
    }

    /// A remote at `url` with the default limits (the CLI's).
    pub fn at(url: &str, endpoint: Option<String>) -> Self {
        let d = OffsiteSettings::default();
        Self {
            url: url.to_string(),
            endpoint,
            region: None,
            request_timeout: d.request_timeout,
            connect_timeout: d.connect_timeout,
            multipart_threshold: d.multipart_threshold,
            multipart_part: d.multipart_part,
            multipart_concurrency: d.multipart_concurrency,
        }
    }
}

/// `s3://bucket/prefix` as (bucket, prefix without slashes at its ends).
pub fn split_url(url: &str) -> Result<(String, String), String> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| format!("{url:?}: the archive URL is s3://bucket/prefix"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(format!("{url:?} names no bucket"));
    }
    Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
}

/// One server's archive in a bucket, with the key that seals it.
#[derive(Clone)]
pub struct Bucket {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    key: SealKey,
    /// Bound on one call, retries included.
    limit: Duration,
    url: String,
    /// Threshold, part size and parts in flight of multipart uploads.
    multipart: (usize, usize, usize),
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket").field("url", &self.url).finish()
    }
}

impl Bucket {
    /// Connects (lazily: nothing is sent until the first call) to the archive at `remote`.
    pub fn connect(remote: &Remote, key: SealKey) -> Result<Self, OffsiteError> {
        let (bucket, prefix) = split_url(&remote.url).map_err(OffsiteError::Config)?;
        // Credentials are given, never looked up from an instance metadata service: a server
        // must not reach out to addresses nobody configured.
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none()
            || std::env::var_os("AWS_SECRET_ACCESS_KEY").is_none()
        {
            return Err(OffsiteError::Config(
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the archive's bucket".into(),
            ));
        }
        let endpoint = remote.endpoint.clone().or_else(|| {
            std::env::var("AWS_ENDPOINT_URL")
                .or_else(|_| std::env::var("AWS_ENDPOINT"))
                .ok()
        });
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(remote.request_timeout)
                    .with_connect_timeout(remote.connect_timeout)
                    .with_allow_http(
                        endpoint
                            .as_deref()
                            .is_some_and(|e| e.starts_with("http://")),
                    ),
            )
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: remote.request_timeout * 3,
                ..RetryConfig::default()
            });
        if let Some(e) = &endpoint {
            b = b.with_endpoint(e);
        }
        let region = remote
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .unwrap_or_else(|| "us-east-1".into());
        let store = b.with_region(region).build()?;
        Ok(Self {
            store: Arc::new(store),
            prefix,
            key,
            limit: remote.request_timeout * 4 + remote.connect_timeout,
            url: remote.url.clone(),
            multipart: (
                remote.multipart_threshold,
                remote.multipart_part.max(crate::settings::MIN_PART),
                remote.multipart_concurrency.max(1),
            ),
        })
    }

    /// A bucket in memory (object_store's own `InMemory`), for this crate's tests of what the
    /// archive's readers do with the objects they find.
    #[cfg(test)]
    pub(crate) fn in_memory(key: SealKey) -> Self {
        Self {
            store: Arc::new(object_store::memory::InMemory::new()),
            prefix: "site/test".into(),
            key,
            limit: Duration::from_secs(5),
            url: "s3://memory/site/test".into(),
            multipart: (usize::MAX, crate::settings::MIN_PART, 1),
        }
    }

    /// The archive's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn path(&self, name: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(name)
        } else {
            ObjectPath::from(format!("{}/{name}", self.prefix))
        }
    }

    async fn bounded<T>(
        &self,
        what: String,
        f: impl Future<Output = Result<T, object_store::Error>>,
    ) -> Result<T, OffsiteError> {
        match tokio::time::timeout(self.limit, f).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(OffsiteError::Timeout {
                what,
                limit: self.limit,
            }),
        }
    }

    /// Seals `plain` and writes it as `name` (relative to the prefix, without `.sealed`).
    pub async fn put_sealed(&self, name: &str, plain: &[u8]) -> Result<usize, OffsiteError> {
        let sealed = self.key.seal(name, plain)?;
        let n = sealed.len();
        let path = self.path(&format!("{name}{SEALED}"));
        let (threshold, part, concurrency) = self.multipart;
        if n <= threshold {
            self.bounded(
                format!("writing {name}"),
                self.store.put(&path, PutPayload::from(sealed)),
            )
            .await?;
            return Ok(n);
        }
        // In parts: each part and the completion under the timeout of one request, at most
        // `concurrency` parts in flight; on any failure the upload is aborted (no orphan parts).
        let upload = self
            .bounded(
                format!("starting the upload of {name}"),
                self.store.put_multipart(&path),
            )
            .await?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, part);
        let mut sent = Ok(());
        for chunk in sealed.chunks(part) {
            sent = self
                .bounded(
                    format!("writing a part of {name}"),
                    w.wait_for_capacity(concurrency),
                )
                .await;
            if sent.is_err() {
                break;
            }
            w.write(chunk);
        }
        match sent {
            Ok(()) => {
                self.bounded(format!("completing {name}"), w.finish())
                    .await?;
                Ok(n)
            }
            Err(e) => {
                if let Err(a) = w.abort().await {
                    tracing::warn!(error = %a, object = %name, "could not abort a multipart upload");
                }
                Err(e)
            }
        }
    }

    /// The object's ETag as the store reports it (a multipart upload's ends in `-PARTS`).
    pub async fn etag(&self, name: &str) -> Result<Option<String>, OffsiteError> {
        let path = self.path(&format!("{name}{SEALED}"));
        let meta = self
            .bounded(format!("looking up {name}"), self.store.head(&path))
            .await?;
        Ok(meta.e_tag)
    }

    /// Reads `name` and opens it with the key.
    pub async fn get_opened(&self, name: &str) -> Result<Vec<u8>, OffsiteError> {
        let path = self.path(&format!("{name}{SEALED}"));
        let what = format!("reading {name}");
        let bytes = self
            .bounded(what, async { self.store.get(&path).await?.bytes().await })
            .await?;
        self.key.open(name, &bytes)
    }

    /// Removes `name`.
    pub async fn delete(&self, name: &str) -> Result<(), OffsiteError> {
        let path = self.path(&format!("{name}{SEALED}"));
        self.bounded(format!("deleting {name}"), self.store.delete(&path))
            .await
    }

    /// Every sealed object under `dir`, as names relative to the prefix (without `.sealed`).
    pub async fn list(&self, dir: &str) -> Result<Vec<String>, OffsiteError> {
        let base = self.path(dir);
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let metas = self
            .bounded(format!("listing {dir}"), async {
                let mut out = Vec::new();
                let mut s = self.store.list(Some(&base));
                while let Some(m) = s.next().await {
                    out.push(m?);
                }
                Ok(out)
            })
            .await?;
        let mut names: Vec<String> = metas
            .into_iter()
            .filter_map(|m| {
                let full = m.location.to_string();
                full.strip_prefix(&strip)?
                    .strip_suffix(SEALED)
                    .map(str::to_string)
            })
            .collect();
        names.sort();
        Ok(names)
    }

    /// The segments in the bucket, as (first, last, name), in commit order.
    pub async fn segments(&self) -> Result<Vec<(i64, i64, String)>, OffsiteError> {
        let mut out: Vec<(i64, i64, String)> = self
            .list(SEGMENTS)
            .await?
            .into_iter()
            .filter_map(|n| {
                let file = n.rsplit('/').next()?;
                let (a, b) = segment_range(file)?;
                Some((a, b, n))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// The complete backups (those with a manifest), oldest first, as their folder names.
    pub async fn backups(&self) -> Result<Vec<String>, OffsiteError> {
        let mut out: Vec<String> = self
            .list(BACKUPS)
            .await?
            .into_iter()
            .filter_map(|n| {
                n.strip_suffix(&format!("/{}", innsync_store::backup::MANIFEST_FILE))
                    .and_then(|d| d.strip_prefix(&format!("{BACKUPS}/")))
                    .map(str::to_string)
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// The manifest of the backup `name`.
    pub async fn manifest(&self, name: &str) -> Result<Manifest, OffsiteError> {
        let obj = backup_object(name, innsync_store::backup::MANIFEST_FILE);
        let bytes = self.get_opened(&obj).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| OffsiteError::Damaged(format!("{obj}: not a manifest: {e}")))
    }
}

/// The object name of `file` in the backup folder `backup`.
pub fn backup_object(backup: &str, file: &str) -> String {
    format!("{BACKUPS}/{backup}/{file}")
}

/// The object name of the segment holding `first..=last`.
pub fn segment_object(first: i64, last: i64) -> String {
    format!(
        "{SEGMENTS}/{}",
        innsync_store::backup::segment_name(first, last)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_urls_name_a_bucket_and_a_prefix() {
        assert_eq!(
            split_url("s3://b/site/wb/").unwrap(),
            ("b".into(), "site/wb".into())
        );
        assert_eq!(split_url("s3://b").unwrap(), ("b".into(), String::new()));
        assert!(split_url("s3:///x").is_err());
        assert!(split_url("gs://b/x").is_err());
    }
}
