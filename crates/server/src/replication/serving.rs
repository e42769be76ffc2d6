//! How this server serves one peer's pulls: everything, or, for a peer that receives only its
//! own properties (partial replication), only the changes the environment's rules keep for it.

use crate::state::AppState;
use innsync_core::{Record, ServerCode};
use innsync_environment::rules::{self, Receive};
use innsync_store::{Change, ReadPool, StoreError};
use std::collections::BTreeMap;

/// How this server serves one peer's pulls: everything, or — for a peer that receives only
/// its own properties (partial replication) — only the changes meant for it, saying how far it
/// looked so the peer moves past the rest. A server that itself receives only part re-serves
/// only its own changes (its copy of the others' logs has holes).
#[derive(Clone)]
pub struct Serving {
    partial: Option<(std::sync::Arc<crate::replication::EnvContext>, ServerCode)>,
    only_origin: Option<String>,
}

impl Serving {
    /// How to serve `peer`.
    pub fn for_peer(state: &AppState, peer: &ServerCode) -> Self {
        let Some(ctx) = &state.env else {
            return Self {
                partial: None,
                only_origin: None,
            };
        };
        let partial = ctx
            .env
            .server(peer)
            .is_some_and(|s| s.receive == Receive::Own)
            .then(|| (ctx.clone(), peer.clone()));
        let only_origin = (ctx.me.receive == Receive::Own).then(|| ctx.me.code.to_string());
        Self {
            partial,
            only_origin,
        }
    }

    /// Whether the peer receives part of the data.
    pub fn partial(&self) -> bool {
        self.partial.is_some() || self.only_origin.is_some()
    }

    /// The changes beyond `cursor` for this peer, and how far each origin was looked at.
    #[allow(
        clippy::type_complexity,
        reason = "the changes and how far each origin was looked at"
    )]
    pub fn changes_after(
        &self,
        r: &ReadPool,
        cursor: &BTreeMap<String, u64>,
        limit: usize,
    ) -> Result<(Vec<Change>, BTreeMap<String, u64>), StoreError> {
        let Some((ctx, peer)) = &self.partial else {
            return r.changes_after_filtered(
                cursor,
                limit,
                self.only_origin.as_deref(),
                &|_, _| Ok(true),
            );
        };
        let entry = ctx.env.server(peer);
        let own: Vec<String> = entry.map(|e| e.properties.clone()).unwrap_or_default();
        let keep = |c: &rusqlite::Connection, ch: &Change| -> Result<bool, StoreError> {
            let json = serde_json::to_value(&ch.record)?;
            let referenced = match &ch.record {
                Record::Guest(g) => {
                    innsync_store::partial::guest_booked_at(c, g.meta.id.as_str(), &own)?
                }
                Record::Note(n) => innsync_store::partial::booking_at(c, n.booking.as_str(), &own)?,
                _ => false,
            };
            Ok(rules::receives(
                &ctx.env,
                peer,
                ch.record.kind(),
                &json,
                referenced,
            ))
        };
        r.changes_after_filtered(cursor, limit, self.only_origin.as_deref(), &keep)
    }
}
