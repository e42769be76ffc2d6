//! The admin bootstrap at start: the first admin user (on the master) and a working admin token.

use crate::auth::{hash_password, new_token, token_hash, ADMIN_TOKEN_FILE, ADMIN_USER};
use crate::state::AppState;
use innsync_core::{Command, Role};
use std::path::Path;

/// Makes sure the admin user exists and that an admin token works. A token given on the
/// command line is registered; with none given on a fresh data directory, one is generated,
/// written to `DATA_DIR/admin-token` and returned so the caller can print it. A given token is
/// not returned: the caller already knows it.
pub async fn bootstrap_admin(
    state: &AppState,
    data_dir: &Path,
    given: Option<String>,
) -> Result<Option<String>, crate::ServeError> {
    let fail = |e: String| crate::ServeError::Bootstrap(e);
    let reads = state.reads.clone();
    let existing = tokio::task::spawn_blocking(move || reads.user(ADMIN_USER))
        .await
        .map_err(|e| fail(e.to_string()))?
        .map_err(|e| fail(e.to_string()))?;
    let mut token = given.clone();
    let reads = state.reads.clone();
    let (master, _) = tokio::task::spawn_blocking(move || reads.master())
        .await
        .map_err(|e| fail(e.to_string()))?
        .map_err(|e| fail(e.to_string()))?;
    // Users are shared data: only the master creates the admin; elsewhere it arrives by
    // replication, and the token registered below works from then on.
    if existing.is_none() && &master == state.writer.server() {
        // The admin logs in with a token; the password is random until set through the API.
        let hash = tokio::task::spawn_blocking(|| hash_password(&new_token()))
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(|p| fail(p.detail))?;
        crate::write::submit(
            state,
            Command::CreateUser {
                username: ADMIN_USER.into(),
                password_hash: hash,
                roles: vec![Role::Admin],
                servers: vec![],
            },
            "system",
            None,
        )
        .await
        .map_err(|e| fail(e.to_string()))?;
        if token.is_none() {
            let t = new_token();
            let path = data_dir.join(ADMIN_TOKEN_FILE);
            std::fs::write(&path, format!("{t}\n")).map_err(|e| fail(e.to_string()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
            }
            token = Some(t);
        }
    } else if token.is_none() && existing.is_none() {
        let t = new_token();
        std::fs::write(data_dir.join(ADMIN_TOKEN_FILE), format!("{t}\n"))
            .map_err(|e| fail(e.to_string()))?;
        token = Some(t);
    }
    if let Some(t) = &token {
        let h = token_hash(t);
        let reads = state.reads.clone();
        let h2 = h.clone();
        let known = tokio::task::spawn_blocking(move || reads.token_user(&h2))
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(|e| fail(e.to_string()))?;
        if known.is_none() {
            crate::write::add_token(state, h, ADMIN_USER.into(), "admin token".into())
                .await
                .map_err(|e| fail(e.to_string()))?;
        }
    }
    Ok(token.filter(|_| given.is_none()))
}
