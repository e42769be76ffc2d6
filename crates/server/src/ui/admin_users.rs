//! Users and roles (API-only before), for administrators: every user with roles in words, the
//! servers they may log in on and whether they are disabled, and a form to add a user — the
//! API's `CreateUser`, the password hashed here exactly as `POST /api/v1/users` does. Users are
//! the environment's records, written on the master: elsewhere the page says where to add one
//! instead of offering a form that could only fail. A refusal is shown inline with the form as
//! typed (never the password). Disabling a user and resetting a password have no command in
//! the domain yet, so the page offers neither.

use super::error::UiResult;
use super::layout::{self, Nav};
use super::session::{Posted, UiUser};
use super::words::Names;
use crate::auth::{hash_password, Permission};
use crate::problem::Problem;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use innsync_core::{Authority, Command, Role, ServerCode, User};
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::HashMap;

/// Shortest password accepted: the bound `POST /api/v1/users` applies (kept equal to it).
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest password accepted (the argon2 input bound of `POST /api/v1/users`).
pub const MAX_PASSWORD_LEN: usize = 256;

/// Every role, with its words and what it allows.
pub const ROLES: [(Role, &str, &str, &str); 4] = [
    (
        Role::Admin,
        "admin",
        "Administrator",
        "everything, including users and the environment",
    ),
    (
        Role::Reservations,
        "reservations",
        "Reservations",
        "bookings and rates",
    ),
    (
        Role::FrontDesk,
        "front_desk",
        "Front desk",
        "bookings, check-in and check-out, rooms",
    ),
    (
        Role::ReadOnly,
        "read_only",
        "Read only",
        "looks, changes nothing",
    ),
];

fn role_words(r: Role) -> &'static str {
    ROLES
        .iter()
        .find(|(x, ..)| *x == r)
        .map_or("unknown role", |(_, _, w, _)| w)
}

/// Query of the page.
#[derive(Deserialize, Default)]
pub struct UsersQuery {
    #[serde(default)]
    done: String,
}

/// The form as typed (the password is never shown again).
#[derive(Default)]
struct Draft {
    username: String,
    roles: Vec<String>,
    servers: Vec<String>,
}

/// GET `/ui/users`.
pub async fn page(
    user: UiUser,
    State(state): State<AppState>,
    Query(q): Query<UsersQuery>,
) -> UiResult<Markup> {
    user.require(Permission::Admin)?;
    let notice = (!q.done.is_empty()).then(|| layout::done_box(&q.done));
    render(&state, &user, &Draft::default(), notice).await
}

async fn render(
    state: &AppState,
    user: &UiUser,
    d: &Draft,
    notice: Option<Markup>,
) -> UiResult<Markup> {
    let server = state.writer.server().to_string();
    let names = Names::read(state).await?;
    let mut users: Vec<User> = state.read(|r| r.users()).await?;
    users.sort_by(|a, b| a.username.cmp(&b.username));
    let codes: Vec<String> = state.env.as_ref().map_or_else(
        || vec![server.clone()],
        |c| c.env.servers.iter().map(|s| s.code.to_string()).collect(),
    );
    let here = names.writable_here(&Authority::Env);
    let body = html! {
        h1 { "Users" }
        @if let Some(n) = notice { (n) }
        section.card {
            div.scroll tabindex="0" role="region" aria-label="Users" { table.list data-testid="users" {
                thead { tr { th scope="col" { "User" } th scope="col" { "Roles" } th scope="col" { "May log in on" } th scope="col" { "State" } } }
                tbody { @for u in &users {
                    tr data-user=(u.username) {
                        td { strong { (u.username) } }
                        td { @for (i, r) in u.roles.iter().enumerate() { @if i > 0 { ", " } (role_words(*r)) } }
                        td { @if u.servers.is_empty() { "every server" } @else {
                            @for (i, s) in u.servers.iter().enumerate() { @if i > 0 { ", " } (names.server(s.as_str())) }
                        } }
                        td { @if u.disabled { span.badge.down { "disabled" } } @else { span.badge.ok { "active" } } }
                    }
                } }
            } }
        }
        section.card data-testid="add-user" {
            h2 { "Add a user" }
            @if here {
                form.form-grid method="post" action="/ui/users" {
                    (layout::csrf(user))
                    label { "Username" input name="username" required maxlength="100" autocomplete="off" value=(d.username); }
                    label { "Password (" (MIN_PASSWORD_LEN) " characters or more)"
                        input type="password" name="password" required minlength=(MIN_PASSWORD_LEN) maxlength=(MAX_PASSWORD_LEN) autocomplete="new-password"; }
                    fieldset.wide {
                        legend { "Roles" }
                        @for (_, code, words, what) in &ROLES {
                            label { input type="checkbox" name={ "role_" (code) } value="1" checked[d.roles.iter().any(|r| r == code)]; " " strong { (words) } " — " (what) }
                        }
                    }
                    fieldset.wide {
                        legend { "May log in on (none ticked: every server)" }
                        @for c in &codes {
                            label { input type="checkbox" name={ "server_" (c) } value="1" checked[d.servers.contains(c)]; " " (names.server(c)) }
                        }
                    }
                    p.wide { button type="submit" data-action="add-user" { "Add user" } }
                }
            } @else {
                p.muted data-testid="users-elsewhere" { "Users are added on " (names.authority(&Authority::Env)) "." }
            }
        }
    };
    Ok(layout::page(user, &server, Nav::Users, "Users", body))
}

/// POST `/ui/users`: adds the user, or the page again with the refusal and the form as typed.
pub async fn create(
    State(state): State<AppState>,
    Posted { user, form }: Posted<HashMap<String, String>>,
) -> UiResult<Response> {
    user.require(Permission::Admin)?;
    let d = Draft {
        username: form
            .get("username")
            .cloned()
            .unwrap_or_default()
            .trim()
            .to_string(),
        roles: ROLES
            .iter()
            .filter(|(_, c, ..)| form.contains_key(&format!("role_{c}")))
            .map(|(_, c, ..)| (*c).to_string())
            .collect(),
        servers: form
            .keys()
            .filter_map(|k| k.strip_prefix("server_").map(str::to_string))
            .collect(),
    };
    let password = form.get("password").cloned().unwrap_or_default();
    let result = submit(&state, &user, &d, password).await;
    match result {
        Ok(()) => Ok(Redirect::to(&format!(
            "/ui/users?{}",
            super::format::query(&[("done", &format!("User {} added.", d.username))])
        ))
        .into_response()),
        Err(p) => {
            let names = Names::read(&state).await?;
            let shown = Problem {
                detail: names.plain(&p.detail),
                ..p
            };
            let status = if shown.status.is_success() {
                StatusCode::CONFLICT
            } else {
                shown.status
            };
            let page = render(&state, &user, &d, Some(layout::problem_box(&shown))).await?;
            Ok((status, page).into_response())
        }
    }
}

async fn submit(
    state: &AppState,
    user: &UiUser,
    d: &Draft,
    password: String,
) -> Result<(), Problem> {
    if d.username.is_empty() {
        return Err(Problem::invalid("username: required"));
    }
    let len = password.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&len) {
        return Err(Problem::invalid(format!(
            "password: {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters long"
        )));
    }
    let roles: Vec<Role> = ROLES
        .iter()
        .filter(|(_, c, ..)| d.roles.iter().any(|r| r == c))
        .map(|(r, ..)| *r)
        .collect();
    if roles.is_empty() {
        return Err(Problem::invalid("roles: tick at least one role"));
    }
    let servers = d
        .servers
        .iter()
        .map(|s| ServerCode::parse(s).map_err(|e| Problem::invalid(format!("server: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| Problem::unavailable(e.to_string()))??;
    let cmd = Command::CreateUser {
        username: d.username.clone(),
        password_hash: hash,
        roles,
        servers,
    };
    crate::write::submit(state, cmd, &user.username, None).await?;
    state.auth.clear();
    Ok(())
}
