//! Login, the caller's own identity, and user administration.

use crate::auth::{
    check_user, hash_password, new_token, token_hash, verify_password, Caller, Permission,
};
use crate::extract::ApiJson;
use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use innsync_core::{Command, Role, ServerCode};
use serde::Deserialize;
use serde_json::json;

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest password accepted (argon2 input bound).
pub const MAX_PASSWORD_LEN: usize = 256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Login {
    username: String,
    password: String,
}

pub(crate) async fn login(
    State(state): State<AppState>,
    crate::auth::ClientAddr(addr): crate::auth::ClientAddr,
    ApiJson(l): ApiJson<Login>,
) -> ApiResult<Json<serde_json::Value>> {
    let wrong = || Problem::unauthorized("wrong username or password");
    let throttle = state.auth.login_throttle(&state.settings);
    if let Err(wait) = throttle.admit(&l.username, addr) {
        let mut p = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            format!("too many failed logins for this account or address; try again in {wait} s"),
        );
        p.retry_after = Some(wait);
        return Err(p);
    }
    if l.password.len() > MAX_PASSWORD_LEN {
        throttle.failed(&l.username, false, addr);
        return Err(wrong());
    }
    let name = l.username.clone();
    let Some(user) = state.read(move |r| r.user(&name)).await? else {
        throttle.failed(&l.username, false, addr);
        return Err(wrong());
    };
    let hash = user.password_hash.clone();
    let password = l.password;
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| Problem::unavailable(e.to_string()))?;
    if !ok {
        throttle.failed(&l.username, true, addr);
        return Err(wrong());
    }
    check_user(&state, &user)?;
    let token = new_token();
    crate::write::add_token(
        &state,
        token_hash(&token),
        user.username.clone(),
        "login".into(),
    )
    .await?;
    Ok(Json(
        json!({ "token": token, "username": user.username, "roles": user.roles }),
    ))
}

/// `POST /api/v1/logout`: revokes the token the request was made with, at once (the auth
/// cache forgets it too).
pub(crate) async fn logout(
    State(state): State<AppState>,
    _caller: Caller,
    headers: axum::http::HeaderMap,
) -> ApiResult<StatusCode> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| Problem::unauthorized("Authorization must be Bearer TOKEN"))?;
    let hash = token_hash(token);
    crate::write::local(
        &state,
        innsync_store::LocalWrite::RevokeToken { hash: hash.clone() },
    )
    .await?;
    state.auth.forget(&hash);
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn me(caller: Caller, State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(
        json!({ "username": caller.username, "roles": caller.roles, "server": state.writer.server() }),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    username: String,
    password: String,
    roles: Vec<Role>,
    #[serde(default)]
    servers: Vec<ServerCode>,
}

pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(u): ApiJson<NewUser>,
) -> ApiResult<Response> {
    caller.require(Permission::Admin)?;
    let len = u.password.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&len) {
        return Err(Problem::invalid(format!(
            "password must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters long"
        )));
    }
    let password = u.password;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| Problem::unavailable(e.to_string()))??;
    let cmd = Command::CreateUser {
        username: u.username,
        password_hash: hash,
        roles: u.roles,
        servers: u.servers,
    };
    let out = crate::write::submit(&state, cmd, &caller.username, None).await?;
    state.auth.clear();
    match crate::write::written(out.outcome())? {
        innsync_core::Record::User(user) => Ok((
            StatusCode::CREATED,
            Json(json!({ "id": user.meta.id, "username": user.username, "roles": user.roles, "servers": user.servers })),
        )
            .into_response()),
        _ => Err(Problem::unavailable("unexpected record written")),
    }
}

pub(crate) async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(Permission::Admin)?;
    let users = state.read(|r| r.users()).await?;
    let shown: Vec<_> = users
        .iter()
        .map(|u| json!({ "id": u.meta.id, "username": u.username, "roles": u.roles, "servers": u.servers, "disabled": u.disabled }))
        .collect();
    Ok(Json(json!({ "users": shown })))
}
