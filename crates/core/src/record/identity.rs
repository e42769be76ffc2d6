//! A record's identity: id, owner, version, and where a copy came from.
//!
//! Every kind carries the same [`Meta`], so replication can order versions and check
//! authority without knowing the kind.

use crate::ids::{Authority, RecordId, ServerCode};
use serde::{Deserialize, Serialize};

/// Identity and authority of a record, shared by every kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Unique id, prefixed by the creating server's code.
    pub id: RecordId,
    /// Who may write this record.
    pub owner: Authority,
    /// Grows by one with every write; replication never applies an older version over a newer.
    pub version: u64,
    /// Where the record came from when it is a copy or changed owner; absent for a record
    /// still held where it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Box<Provenance>>,
}

impl Meta {
    /// The identity of a record created here (no provenance).
    pub fn new(id: RecordId, owner: Authority, version: u64) -> Self {
        Self {
            id,
            owner,
            version,
            provenance: None,
        }
    }

    /// Whether this is a linked copy: kept in step by its source and never edited or deleted
    /// here.
    pub fn is_linked_copy(&self) -> bool {
        self.provenance
            .as_ref()
            .is_some_and(|p| p.copy == CopyKind::Linked)
    }
}

/// How a record relates to the one it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyKind {
    /// The record itself, whose ownership moved: still the master copy.
    Transferred,
    /// A copy in another environment that its source keeps up to date; read-only there.
    Linked,
    /// A copy that lives its own life: editable and deletable, never updated from its source.
    Independent,
}

/// Most steps a record's provenance remembers; older ones are dropped (the first stays).
pub const MAX_PROVENANCE_STEPS: usize = 32;

/// Where a copy or a transferred record came from, so a chain can be followed back to the
/// master copy: the server and id it had there, and every step it took.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The environment it came from, when it is a copy from another environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_environment: Option<String>,
    /// The server it came from (the old owner's writer, or the exporting server).
    pub from_server: ServerCode,
    /// Who owned it there: where a `return` sends it.
    pub from_owner: Authority,
    /// Its id there.
    pub from_id: RecordId,
    /// What it is to its source.
    pub copy: CopyKind,
    /// The steps it took (rule, mapping, when), oldest first, at most [`MAX_PROVENANCE_STEPS`].
    pub history: Vec<String>,
}

impl Provenance {
    /// Adds a step, keeping the first and the most recent ones within the limit.
    pub fn push(&mut self, step: String) {
        self.history.push(step);
        if self.history.len() > MAX_PROVENANCE_STEPS {
            self.history.remove(1);
        }
    }
}
