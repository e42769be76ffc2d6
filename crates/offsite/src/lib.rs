//! The off-site archive (issue 21): a server's change log and its backups shipped, sealed with
//! a key the operator holds, to S3-compatible object storage as they are written, and a whole
//! server restored from there on a new machine.
//!
//! Why a crate of its own: it is the one place that talks to object storage (through the
//! `object_store` crate of the Arrow project, never hand-written HTTP) and the one place that
//! encrypts. The store keeps writing the formats it already had — segments of the change log in
//! local commit order with a closing SHA-256, backups with a manifest — and this crate only moves
//! those bytes, so a restore from the bucket is the local restore fed with downloaded files.
//!
//! - [`seal`]: client-side encryption (XChaCha20-Poly1305; the object's name is bound to it).
//! - [`bucket`]: the layout under `s3://bucket/prefix` and the typed calls with their timeouts.
//! - [`ship`]: the shipper a server runs: segments every `archive_ship_interval`, a base backup
//!   and then one every `archive_backup_interval`, the lag it measures.
//! - [`retention`]: old backups and the segments only they needed removed, small segments merged.
//! - [`fetch`]: what a restore or `backup verify` downloads and checks.
//! - [`settings`]: the named settings.

pub mod bucket;
pub mod fetch;
pub mod retention;
pub mod seal;
pub mod settings;
pub mod ship;

pub use bucket::{Bucket, Remote};
pub use fetch::{fetch, verify_remote, Fetched, RemoteReport};
pub use seal::SealKey;
pub use settings::OffsiteSettings;
pub use ship::{ArchiveLag, ShipReport, Shipper};

/// Why an off-site step failed or was refused.
#[derive(Debug, thiserror::Error)]
pub enum OffsiteError {
    /// The archive URL, the key or another setting is wrong.
    #[error("off-site archive configuration: {0}")]
    Config(String),
    /// The object store answered with an error or could not be reached.
    #[error("object storage: {0}")]
    Storage(#[from] object_store::Error),
    /// A request took longer than its named timeout.
    #[error("object storage: {what} took longer than {limit:?}")]
    Timeout {
        /// What was being done.
        what: String,
        /// The timeout that ran out.
        limit: std::time::Duration,
    },
    /// An object could not be opened with the key (wrong key, or altered or renamed object).
    #[error("{0}: cannot be decrypted with this key (wrong key, or the object was altered)")]
    Sealed(String),
    /// The archive in the bucket is incomplete or damaged.
    #[error("the archive in the bucket is not usable: {0}")]
    Damaged(String),
    /// A backup, segment or restore step of the store failed.
    #[error(transparent)]
    Backup(#[from] innsync_store::backup::BackupError),
    /// The local file system failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The bucket holds changes past this store's newest (the store was restored to an
    /// earlier point in time, or another server ships to this prefix): shipping on would mix
    /// two histories under one prefix, so nothing is written.
    #[error(
        "the bucket holds the change log up to position {bucket} but this store ends at {store}: \
         it belongs to another history (after a point-in-time restore, archive to a new prefix)"
    )]
    Ahead {
        /// The last position the bucket holds.
        bucket: i64,
        /// This store's newest position.
        store: i64,
    },
    /// A background task died.
    #[error("background task: {0}")]
    Task(String),
}
