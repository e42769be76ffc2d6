//! Who is calling and what they may do: bearer tokens (stored hashed), argon2 passwords,
//! roles, and per-user server restrictions.

use crate::problem::{ApiResult, Problem};
use crate::state::AppState;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use innsync_core::Role;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

/// Most keys (accounts, addresses) a login throttle follows before it drops the idle ones.
const MAX_THROTTLE_KEYS: usize = 10_000;

/// Failed logins, per account and per client address: past its rate a key is refused (429)
/// until the rate allows one more, before any password is checked, so passwords cannot be
/// guessed at argon2's speed from many addresses at one account or at many accounts from one.
pub struct LoginThrottle {
    accounts: DefaultKeyedRateLimiter<String>,
    addresses: DefaultKeyedRateLimiter<IpAddr>,
    blocked: Mutex<HashMap<String, Instant>>,
}

fn quota(per_minute: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN))
}

impl LoginThrottle {
    /// A throttle allowing this many failed logins a minute per account and per address.
    pub fn new(per_account: u32, per_address: u32) -> Self {
        Self {
            accounts: DefaultKeyedRateLimiter::keyed(quota(per_account)),
            addresses: DefaultKeyedRateLimiter::keyed(quota(per_address)),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    fn keys(account: &str, addr: Option<IpAddr>) -> impl Iterator<Item = String> {
        std::iter::once(format!("user:{account}")).chain(addr.map(|a| format!("addr:{a}")))
    }

    /// Whether a login for `account` from `addr` may be tried now; else the seconds to wait.
    pub fn admit(&self, account: &str, addr: Option<IpAddr>) -> Result<(), u64> {
        let now = Instant::now();
        let Ok(blocked) = self.blocked.lock() else {
            return Ok(());
        };
        let wait = Self::keys(account, addr)
            .filter_map(|k| blocked.get(&k).copied())
            .filter(|until| *until > now)
            .max();
        match wait {
            Some(until) => Err((until - now).as_secs().max(1)),
            None => Ok(()),
        }
    }

    /// Counts a failed login; a key past its rate is blocked until the rate allows one more.
    /// `known` says whether the account exists (unknown names are counted per address only,
    /// so invented names cannot grow the table).
    pub fn failed(&self, account: &str, known: bool, addr: Option<IpAddr>) {
        let clock = DefaultClock::default();
        let mut waits: Vec<(String, Duration)> = Vec::new();
        if known {
            if let Err(n) = self.accounts.check_key(&account.to_string()) {
                waits.push((format!("user:{account}"), n.wait_time_from(clock.now())));
            }
        }
        if let Some(a) = addr {
            if let Err(n) = self.addresses.check_key(&a) {
                waits.push((format!("addr:{a}"), n.wait_time_from(clock.now())));
            }
        }
        if self.accounts.len() > MAX_THROTTLE_KEYS {
            self.accounts.retain_recent();
        }
        if self.addresses.len() > MAX_THROTTLE_KEYS {
            self.addresses.retain_recent();
        }
        if let Ok(mut blocked) = self.blocked.lock() {
            let now = Instant::now();
            if blocked.len() > MAX_THROTTLE_KEYS {
                blocked.retain(|_, until| *until > now);
            }
            for (k, w) in waits {
                blocked.insert(k, now + w.max(Duration::from_secs(1)));
            }
        }
    }
}

/// The client's address, as the listener saw it (none in tests that call the router directly).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

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

/// A caller with administrator rights, checked from the headers (403 before any body is
/// read, so a low-privilege caller learns nothing of what the body should hold).
#[derive(Clone, Debug)]
pub struct AdminCaller(pub Caller);

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(Permission::Admin)?;
        Ok(Self(caller))
    }
}

/// Recently authenticated token hashes, so most requests need no database read. Entries are
/// forgotten when their token is revoked (logout) and when their user changes here or arrives
/// changed from another server (disabled, new password, new roles), so the cache never keeps
/// rights a user lost.
#[derive(Default)]
pub struct AuthCache {
    entries: RwLock<HashMap<String, (Caller, Instant)>>,
    login: OnceLock<LoginThrottle>,
}

impl AuthCache {
    /// Forgets every token of one user (the user changed).
    pub fn forget_user(&self, username: &str) {
        if let Ok(mut e) = self.entries.write() {
            e.retain(|_, (c, _)| c.username != username);
        }
    }

    /// The login throttle, made with these rates on first use.
    pub fn login_throttle(&self, settings: &crate::Settings) -> &LoginThrottle {
        self.login.get_or_init(|| {
            LoginThrottle::new(
                settings.login_per_account_per_minute,
                settings.login_per_address_per_minute,
            )
        })
    }

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
