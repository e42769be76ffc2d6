//! Distribution rules at work on this server (DESIGN.md §5): the rules of environment.toml
//! look at every change this server writes, and on a schedule at the records it owns, and
//! queue the operations they ask for; the queue's worker carries them out.

use crate::state::AppState;

/// A partner environment's URL and the token it gave us.
pub fn partner(state: &AppState, name: &str) -> Option<(String, String)> {
    // PLACEHOLDER until the rules engine lands: no partners.
    let _ = (state, name);
    None
}

/// How this server serves one peer's pulls: everything, or — for a peer that receives only
/// its own properties (partial replication) — only the changes meant for it, saying how far it
/// looked so the peer moves past the rest.
#[derive(Clone)]
pub struct Serving {
    partial: bool,
    only_origin: Option<String>,
}

impl Serving {
    /// How to serve `peer`.
    pub fn for_peer(state: &AppState, peer: &innsync_core::ServerCode) -> Self {
        // PLACEHOLDER until the rules engine lands: everyone receives everything.
        let _ = (state, peer);
        Self {
            partial: false,
            only_origin: None,
        }
    }

    /// Whether the peer receives part of the data.
    pub fn partial(&self) -> bool {
        self.partial
    }

    /// The changes beyond `cursor` for this peer, and how far each origin was looked at.
    #[allow(
        clippy::type_complexity,
        reason = "the changes and how far each origin was looked at"
    )]
    pub fn changes_after(
        &self,
        r: &innsync_store::ReadPool,
        cursor: &std::collections::BTreeMap<String, u64>,
        limit: usize,
    ) -> Result<
        (
            Vec<innsync_store::Change>,
            std::collections::BTreeMap<String, u64>,
        ),
        innsync_store::StoreError,
    > {
        r.changes_after_filtered(cursor, limit, self.only_origin.as_deref(), &|_, _| Ok(true))
    }
}
