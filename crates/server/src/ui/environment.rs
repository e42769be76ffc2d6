//! What the environment dashboard shows, as plain data with the shape of
//! `GET /api/v1/environment` (API.md), kept apart from the HTML so that replication only has
//! to change [`EnvironmentView::read`]. Today a server runs alone: it is its own master, the
//! only server listed, always reachable, with nothing pending and no conflicts.

use crate::problem::ApiResult;
use crate::state::AppState;

/// One server of the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerView {
    /// Two-letter code.
    pub code: String,
    /// `web`, `reservation`, `property` or `archive`.
    pub role: String,
    /// Its base URL, when configured.
    pub url: Option<String>,
    /// Whether this server reached it lately.
    pub reachable: bool,
    /// When data was last exchanged with it (RFC 3339), if ever.
    pub last_sync: Option<String>,
    /// Changes it has that this server has not applied yet.
    pub behind: u64,
    /// Whether this row is the server answering.
    pub this_server: bool,
}

/// The environment as this server sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvironmentView {
    /// Environment name (`standalone` for a server without an environment file).
    pub environment: String,
    /// This server's code.
    pub server: String,
    /// This server's role.
    pub role: String,
    /// The master's code.
    pub master: String,
    /// The master epoch (grows with each handover).
    pub epoch: u64,
    /// `master`, `slave` or `handing_over`.
    pub state: String,
    /// Every server, this one included.
    pub servers: Vec<ServerView>,
    /// Pending operations waiting to be relayed to their owners.
    pub pending: u64,
    /// Age of the oldest pending operation, in seconds.
    pub pending_oldest_age_s: u64,
    /// Pending operations that failed and wait for an operator.
    pub failed: u64,
    /// Replication conflicts waiting for an operator.
    pub conflicts: u64,
}

impl EnvironmentView {
    /// Reads the view: today the standalone answer of `GET /api/v1/environment`.
    pub async fn read(state: &AppState) -> ApiResult<Self> {
        let (master, epoch) = state.read(|r| r.master()).await?;
        let here = state.writer.server().to_string();
        let master = master.to_string();
        Ok(Self {
            environment: "standalone".into(),
            role: "web".into(),
            state: if master == here { "master" } else { "slave" }.into(),
            servers: vec![ServerView {
                code: here.clone(),
                role: "web".into(),
                url: None,
                reachable: true,
                last_sync: None,
                behind: 0,
                this_server: true,
            }],
            server: here,
            master,
            epoch,
            pending: 0,
            pending_oldest_age_s: 0,
            failed: 0,
            conflicts: 0,
        })
    }
}
