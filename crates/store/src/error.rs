//! Store failures, kept apart from the domain's refusals.

use innsync_core::DomainError;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored body could not be read back.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The data directory belongs to another server or is otherwise unusable.
    #[error("{0}")]
    Setup(String),
    /// The writer thread is gone or its queue is full.
    #[error("the writer is unavailable: {0}")]
    Unavailable(String),
    /// The domain refused the command; nothing was written.
    #[error(transparent)]
    Refused(#[from] DomainError),
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        Self::Corrupt(e.to_string())
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        Self::Setup(e.to_string())
    }
}
