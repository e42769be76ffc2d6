//! The login page and logout. Login checks the password exactly as `POST /api/v1/login` does
//! (argon2, disabled users, per-user server restrictions) and stores the session token the
//! same way; the browser gets it only as an HttpOnly cookie.

use super::error::UiResult;
use super::layout;
use super::session::{
    check_origin, clear_cookie, parse_form, safe_next, session_cookie, NoFields, Posted,
};
use crate::auth::{check_user, new_token, token_hash, verify_password};
use crate::problem::Problem;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

/// Longest password checked, as the API's login (argon2 input bound).
pub const MAX_PASSWORD_LEN: usize = 256;

/// Query of the login page.
#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// The fields of the login form.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

fn login_page(server: &str, next: &str, username: &str, error: Option<&str>) -> Markup {
    layout::bare(
        "Log in",
        html! {
            section.card {
                h1 { "Log in to " (server) }
                @if let Some(e) = error {
                    div.notice.bad role="alert" data-testid="problem" { (e) }
                }
                form method="post" action="/ui/login" {
                    input type="hidden" name="next" value=(next);
                    div.form-grid {
                        label.wide { "Username"
                            input name="username" autocomplete="username" required autofocus value=(username);
                        }
                        label.wide { "Password"
                            input name="password" type="password" autocomplete="current-password" required;
                        }
                    }
                    p { button type="submit" { "Log in" } }
                }
            }
        },
    )
}

/// GET `/ui/login`.
pub async fn page(State(state): State<AppState>, Query(q): Query<LoginQuery>) -> Markup {
    let next = safe_next(q.next.as_deref());
    login_page(&state.writer.server().to_string(), &next, "", None)
}

/// POST `/ui/login`: checks the password, starts a session, goes where the user was going.
pub async fn submit(
    State(state): State<AppState>,
    crate::auth::ClientAddr(addr): crate::auth::ClientAddr,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> UiResult<Response> {
    check_origin(&headers, &uri)?;
    let form: LoginForm = parse_form(&body)?;
    let next = safe_next(form.next.as_deref());
    let server = state.writer.server().to_string();
    let refuse = |status: StatusCode, msg: &str| {
        (
            status,
            login_page(&server, &next, &form.username, Some(msg)),
        )
            .into_response()
    };
    let wrong = "Wrong username or password.";
    // The same throttle as the API's login: per account and per address, before the password.
    let throttle = state.auth.login_throttle(&state.settings);
    if let Err(wait) = throttle.admit(&form.username, addr) {
        return Ok(refuse(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many failed logins for this account or address; try again in {wait} s."),
        ));
    }
    if form.username.is_empty() || form.password.len() > MAX_PASSWORD_LEN {
        throttle.failed(&form.username, false, addr);
        return Ok(refuse(StatusCode::UNAUTHORIZED, wrong));
    }
    let name = form.username.clone();
    let Some(user) = state.read(move |r| r.user(&name)).await? else {
        throttle.failed(&form.username, false, addr);
        return Ok(refuse(StatusCode::UNAUTHORIZED, wrong));
    };
    let hash = user.password_hash.clone();
    let password = form.password.clone();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| Problem::unavailable(e.to_string()))?;
    if !ok {
        throttle.failed(&form.username, true, addr);
        return Ok(refuse(StatusCode::UNAUTHORIZED, wrong));
    }
    if let Err(p) = check_user(&state, &user) {
        return Ok(refuse(p.status, &format!("{}.", p.detail)));
    }
    let token = new_token();
    crate::write::add_token(
        &state,
        token_hash(&token),
        user.username.clone(),
        "ui session".into(),
    )
    .await
    .map_err(Problem::from)?;
    Ok((
        [(
            header::SET_COOKIE,
            session_cookie(
                &super::session::cookie_name_of(&state),
                &token,
                state.settings.ui_tls,
            ),
        )],
        Redirect::to(&next),
    )
        .into_response())
}

/// POST `/ui/logout`: forgets the session in the browser.
pub async fn logout(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
    _posted: Posted<NoFields>,
) -> Response {
    // The session's token stops working everywhere, not only in this browser.
    let name = super::session::cookie_name_of(&state);
    if let Some(token) = super::session::cookie(&headers, &name) {
        let hash = crate::auth::token_hash(token);
        if let Err(e) = crate::write::local(
            &state,
            innsync_store::LocalWrite::RevokeToken { hash: hash.clone() },
        )
        .await
        {
            tracing::warn!(error = %e, "logout could not revoke the session token");
        }
        state.auth.forget(&hash);
    }
    (
        [(
            header::SET_COOKIE,
            clear_cookie(&name, state.settings.ui_tls),
        )],
        Redirect::to("/ui/login"),
    )
        .into_response()
}
