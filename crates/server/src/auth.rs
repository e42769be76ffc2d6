//! Who is calling and what they may do: bearer tokens (stored hashed), argon2 passwords,
//! roles, and per-user server restrictions.

use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use innsync_core::Role;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Instant;

/// The name of the user every server starts with.
pub const ADMIN_USER: &str = "admin";
/// The file, in the data directory, where a generated admin token is written once.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Login name.
    pub username: String,
    /// Roles.
    pub roles: Vec<Role>,
}

/// What an endpoint needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Any read.
    Read,
    /// Create, confirm, cancel bookings; guests.
    Book,
    /// Check-in/out, rooms, out-of-order.
    FrontDesk,
    /// Rates.
    Rates,
    /// Reference data, users, the environment.
    Admin,
}

impl Caller {
    /// Whether the caller's roles grant `p`.
    pub fn may(&self, p: Permission) -> bool {
        self.roles.iter().any(|r| {
            matches!(
                (r, p),
                (Role::Admin, _)
                    | (_, Permission::Read)
                    | (Role::Reservations, Permission::Book | Permission::Rates)
                    | (Role::FrontDesk, Permission::Book | Permission::FrontDesk)
            )
        })
    }

    /// Refuses with 403 unless the caller may `p`.
    pub fn require(&self, p: Permission) -> ApiResult<()> {
        if self.may(p) {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "user {} (roles {:?}) may not do this; it needs {:?} rights",
                self.username, self.roles, p
            )))
        }
    }
}

/// Recently authenticated token hashes, so most requests need no database read.
#[derive(Default)]
pub struct AuthCache {
    entries: RwLock<HashMap<String, (Caller, Instant)>>,
}

impl AuthCache {
    /// Forgets one token (it was revoked).
    pub fn forget(&self, hash: &str) {
        if let Ok(mut e) = self.entries.write() {
            e.remove(hash);
        }
    }

    /// Forgets every entry (after a user changes).
    pub fn clear(&self) {
        if let Ok(mut e) = self.entries.write() {
            e.clear();
        }
    }
}

/// The hash under which a token is stored: tokens are never kept in clear.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh random token.
pub fn new_token() -> String {
    let mut b = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("isk_{}", hex::encode(b))
}

/// Hashes a password with argon2 (slow on purpose; call off the async threads).
pub fn hash_password(password: &str) -> Result<String, Problem> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Problem::invalid(format!("password cannot be hashed: {e}")))
}

/// Checks a password against a stored argon2 hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checks that `user` may use this server at all.
pub fn check_user(state: &AppState, user: &innsync_core::User) -> ApiResult<()> {
    if user.disabled {
        return Err(Problem::unauthorized(format!(
            "user {} is disabled",
            user.username
        )));
    }
    let here = state.writer.server();
    if !user.servers.is_empty() && !user.servers.contains(here) {
        return Err(Problem::forbidden(format!(
            "user {} may not log in on server {here}; allowed: {}",
            user.username,
            user.servers
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| Problem::unauthorized("missing Authorization: Bearer token"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .ok_or_else(|| Problem::unauthorized("Authorization must be Bearer TOKEN"))?;
        let hash = token_hash(token);
        let ttl = state.settings.auth_cache_ttl;
        if let Ok(cache) = state.auth.entries.read() {
            if let Some((caller, at)) = cache.get(&hash) {
                if at.elapsed() < ttl {
                    return Ok(caller.clone());
                }
            }
        }
        let h = hash.clone();
        let user = state
            .read(move |r| {
                let Some(name) = r.token_user(&h)? else {
                    return Ok(None);
                };
                r.user(&name)
            })
            .await?
            .ok_or_else(|| Problem::unauthorized("unknown or revoked token"))?;
        check_user(state, &user)?;
        let caller = Caller {
            username: user.username.clone(),
            roles: user.roles.clone(),
        };
        if let Ok(mut cache) = state.auth.entries.write() {
            if cache.len() >= state.settings.auth_cache_limit {
                cache.clear();
            }
            cache.insert(hash, (caller.clone(), Instant::now()));
        }
        Ok(caller)
    }
}
