//! The environment as this server sees it, as plain data: the one source of both
//! `GET /api/v1/environment` (API.md, [`EnvironmentView::to_json`]) and the UI's dashboard, so
//! the data's source changes in one place, [`EnvironmentView::read`]. A server without an environment file is
//! alone: its own master, the only server listed. In an environment the servers come from the
//! replication context. Pending operations and conflicts are zero until they exist.

use super::link_meter::LinkFigures;
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
    /// Why the last exchange with it failed, if it did.
    pub last_error: Option<String>,
    /// Whether this row is the server answering.
    pub this_server: bool,
    /// What the link to it carries and how it behaves (peers only).
    pub link: Option<LinkFigures>,
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
    /// Reads the view the way `GET /api/v1/environment` builds its answer: from the
    /// environment context when the server runs in one, else the standalone answer.
    pub async fn read(state: &AppState) -> ApiResult<Self> {
        let (master, epoch, conflicts, queue) = state
            .read(|r| {
                let (m, e) = r.master()?;
                Ok((m, e, r.open_conflicts()?, r.pending_summary()?))
            })
            .await?;
        let now = (state.clock)();
        let pending_oldest_age_s = queue
            .oldest_created_at
            .as_deref()
            .map_or(0, |t| crate::json_views::age_seconds(now, t) as u64);
        let (pending, failed) = (queue.depth, queue.failed);
        let here = state.writer.server().clone();
        let handing_over = state.env.as_ref().is_some_and(|e| e.is_handing_over());
        let role_state = match (master == here, handing_over) {
            (true, true) => "handing_over",
            (true, false) => "master",
            _ => "slave",
        };
        let (environment, role, servers) = match &state.env {
            Some(ctx) => {
                let mut servers = vec![ServerView {
                    code: here.to_string(),
                    role: ctx.me.role.as_str().to_string(),
                    url: ctx.url_of(&here),
                    reachable: true,
                    last_sync: None,
                    behind: 0,
                    last_error: None,
                    this_server: true,
                    link: None,
                }];
                let now = std::time::Instant::now();
                let batch = state.settings.pull_batch;
                servers.extend(ctx.peer_statuses().into_iter().map(|p| ServerView {
                    link: Some(p.link.figures(now, p.behind, batch)),
                    code: p.code,
                    role: p.role,
                    url: Some(p.url),
                    reachable: p.reachable,
                    last_sync: p.last_sync.map(|t| t.to_rfc3339()),
                    behind: p.behind,
                    last_error: p.last_error,
                    this_server: false,
                }));
                (
                    ctx.env.name.clone(),
                    ctx.me.role.as_str().to_string(),
                    servers,
                )
            }
            None => (
                "standalone".to_string(),
                "web".to_string(),
                vec![ServerView {
                    code: here.to_string(),
                    role: "web".into(),
                    url: None,
                    reachable: true,
                    last_sync: None,
                    behind: 0,
                    last_error: None,
                    this_server: true,
                    link: None,
                }],
            ),
        };
        Ok(Self {
            environment,
            server: here.to_string(),
            role,
            master: master.to_string(),
            epoch,
            state: role_state.into(),
            servers,
            pending,
            pending_oldest_age_s,
            failed,
            conflicts,
        })
    }

    /// The answer of `GET /api/v1/environment`, in API.md's shape.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "environment": self.environment,
            "server": self.server,
            "role": self.role,
            "master": { "server": self.master, "epoch": self.epoch },
            "state": self.state,
            "servers": self.servers.iter().map(|s| serde_json::json!({
                "code": s.code, "role": s.role, "url": s.url, "reachable": s.reachable,
                "last_sync": s.last_sync, "behind": s.behind, "last_error": s.last_error,
                "this": s.this_server, "link": s.link,
            })).collect::<Vec<_>>(),
            "pending": { "count": self.pending, "oldest_age_s": self.pending_oldest_age_s, "failed": self.failed },
            "conflicts": self.conflicts,
        })
    }

    /// Whether this server is the master and has peers to hand the master token to.
    pub fn can_hand_over(&self) -> bool {
        self.state == "master" && self.servers.iter().any(|s| !s.this_server)
    }
}
