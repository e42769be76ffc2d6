//! The UI's session and its guard against cross-site requests.
//!
//! A session is an API token (made and stored exactly like `POST /api/v1/login`'s, hashed in
//! the `tokens` table) carried in an `HttpOnly; SameSite=Strict` cookie (and `Secure` when the
//! `ui_tls` setting says the UI is served over TLS), so scripts cannot read it and other sites
//! cannot send it. The cookie is named per environment and server ([`cookie_name`]): browsers
//! keep cookies per host, not per port, so servers sharing one host must not overwrite each
//! other's session. Every POST additionally carries a per-session CSRF token
//! (a hash of the session token, so it needs no storage) and, when the browser sends one, an
//! `Origin` that must be this server's. [`UiUser`] authenticates a request; [`Posted`] does
//! that plus the CSRF checks plus parsing the form, so a handler that takes it cannot forget
//! any of them.

use super::error::UiError;
use crate::auth::{check_user, token_hash, Caller, Permission};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use innsync_core::Role;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Prefix of the session cookie's name (the environment and server follow).
pub const SESSION_COOKIE: &str = "innsync_session";
/// How long a browser keeps the session cookie, in seconds (a working day and a bit).
pub const SESSION_MAX_AGE_S: u64 = 12 * 3600;
/// Name of the hidden CSRF field every UI form carries.
pub const CSRF_FIELD: &str = "_csrf";

/// A signed-in operator.
#[derive(Clone, Debug)]
pub struct UiUser {
    /// Login name.
    pub username: String,
    /// Roles, which decide what the pages show.
    pub roles: Vec<Role>,
    /// The token every form of this session must echo.
    pub csrf: String,
    /// The installation's date convention, for every date this user sees or types.
    pub dates: super::format::DateStyle,
}

impl UiUser {
    /// The same caller the API would see, so permissions are decided in one place.
    pub fn caller(&self) -> Caller {
        Caller {
            username: self.username.clone(),
            roles: self.roles.clone(),
        }
    }

    /// Whether the user's roles grant `p` (decides which buttons a page shows).
    pub fn may(&self, p: Permission) -> bool {
        self.caller().may(p)
    }

    /// Refuses with a 403 page unless the user may `p`, saying which roles would do.
    pub fn require(&self, p: Permission) -> Result<(), UiError> {
        if self.may(p) {
            return Ok(());
        }
        let needs = match p {
            Permission::Read => "any role",
            Permission::Book => "the reservations, front desk or admin role",
            Permission::FrontDesk => "the front desk or admin role",
            Permission::Rates => "the reservations or admin role",
            Permission::Admin => "the admin role",
        };
        Err(UiError::forbidden(format!(
            "{} ({}) may not do this: it needs {needs}. Nothing was changed.",
            self.username,
            self.roles_text()
        )))
    }

    /// The roles as words, for the header.
    pub fn roles_text(&self) -> String {
        self.roles
            .iter()
            .map(|r| match r {
                Role::Admin => "admin",
                Role::Reservations => "reservations",
                Role::FrontDesk => "front desk",
                Role::ReadOnly => "read only",
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The CSRF token of the session whose token is `session_token`.
pub fn csrf_of(session_token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"innsync-ui-csrf\0");
    h.update(session_token.as_bytes());
    hex::encode(h.finalize())
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The session cookie's name on this server: `innsync_session_ENV_SERVER`, with every character
/// a cookie name may not hold replaced, so logging in on one server of a host never logs the
/// browser out of another.
pub fn cookie_name(environment: Option<&str>, server: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .take(40)
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect()
    };
    match environment {
        Some(env) => format!("{SESSION_COOKIE}_{}_{}", clean(env), clean(server)),
        None => format!("{SESSION_COOKIE}_{}", clean(server)),
    }
}

/// This server's session cookie name.
pub fn cookie_name_of(state: &AppState) -> String {
    cookie_name(
        state.env.as_ref().map(|e| e.env.name.as_str()),
        &state.writer.server().to_string(),
    )
}

/// The `Set-Cookie` value that starts a session (`Secure` when served over TLS).
pub fn session_cookie(name: &str, token: &str, tls: bool) -> String {
    let secure = if tls { "; Secure" } else { "" };
    format!(
        "{name}={token}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={SESSION_MAX_AGE_S}{secure}"
    )
}

/// The `Set-Cookie` value that ends a session in the browser.
pub fn clear_cookie(name: &str, tls: bool) -> String {
    let secure = if tls { "; Secure" } else { "" };
    format!("{name}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

/// Where to go after logging in: only a path of this UI, never another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/ui")
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.starts_with("/ui/login")
                && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => super::HOME.to_string(),
    }
}

/// Refuses a request whose `Origin` (or, without one, `Referer`) names another site. Browsers
/// send `Origin` on every form POST; a request with neither comes from a tool, which still
/// needs the CSRF token. This server's name is the `Host` header (HTTP/1.1) or the request's
/// authority (HTTP/2 carries it as `:authority`, and no `Host`).
pub fn check_origin(headers: &HeaderMap, uri: &axum::http::Uri) -> Result<(), UiError> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(axum::http::uri::Authority::as_str))
        .unwrap_or("");
    let from = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|h| h.to_str().ok());
    let Some(from) = from else {
        return Ok(());
    };
    let authority = from
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(""))
        .unwrap_or("");
    if !host.is_empty() && authority.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(UiError::forbidden(format!(
            "this form was sent from {from}, not from this server ({host}); \
             open the page on this server and try again"
        )))
    }
}

impl FromRequestParts<AppState> for UiUser {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, UiError> {
        let login = || UiError::Login {
            next: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .filter(|_| parts.method == axum::http::Method::GET)
                .unwrap_or_default(),
            htmx: parts.headers.contains_key("hx-request"),
        };
        let name = cookie_name_of(state);
        let Some(token) = cookie(&parts.headers, &name)
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .map(str::to_string)
        else {
            return Err(login());
        };
        let hash = token_hash(&token);
        let user = state
            .read(move |r| match r.token_user(&hash)? {
                Some(name) => r.user(&name),
                None => Ok(None),
            })
            .await?;
        let Some(user) = user else {
            return Err(login());
        };
        match check_user(state, &user) {
            Ok(()) => {}
            Err(p) if p.status == StatusCode::UNAUTHORIZED => return Err(login()),
            Err(p) => return Err(UiError::forbidden(p.detail)),
        }
        Ok(UiUser {
            username: user.username,
            roles: user.roles,
            csrf: csrf_of(&token),
            dates: super::format::DateStyle::from_setting(&state.settings.ui_date_format),
        })
    }
}

/// A form POSTed by a signed-in user from this server's own page: session, `Origin` and
/// CSRF token checked, body parsed as `application/x-www-form-urlencoded`.
pub struct Posted<T> {
    /// Who sent it.
    pub user: UiUser,
    /// The form's fields.
    pub form: T,
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(rename = "_csrf", default)]
    csrf: String,
}

/// Parses a urlencoded body into `T`, with the field named on failure.
pub fn parse_form<T: DeserializeOwned>(body: &[u8]) -> Result<T, UiError> {
    serde_urlencoded::from_bytes(body)
        .map_err(|e| UiError::bad_request(format!("the form could not be read: {e}")))
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for Posted<T> {
    type Rejection = UiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, UiError> {
        let (mut parts, body) = req.into_parts();
        let user = UiUser::from_request_parts(&mut parts, state).await?;
        check_origin(&parts.headers, &parts.uri)?;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| UiError::bad_request(format!("the form could not be read: {e}")))?;
        let CsrfOnly { csrf } = parse_form(&bytes)?;
        if !constant_time_eq(csrf.as_bytes(), user.csrf.as_bytes()) {
            return Err(UiError::forbidden(
                "the form's security token is missing or out of date (it belongs to another \
                 session); reload the page and try again",
            ));
        }
        let form = parse_form(&bytes)?;
        Ok(Posted { user, form })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A form with no fields besides the CSRF token.
#[derive(Deserialize)]
pub struct NoFields {}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; innsync_session=isk_x ; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("isk_x"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn cookies_are_named_per_server_and_marked() {
        assert_eq!(
            cookie_name(Some("demo env"), "WB"),
            "innsync_session_demo-env_WB"
        );
        assert_eq!(cookie_name(None, "WB"), "innsync_session_WB");
        assert_ne!(cookie_name(Some("e"), "WB"), cookie_name(Some("e"), "PA"));
        let c = session_cookie("n", "t", false);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"));
        assert!(session_cookie("n", "t", true).ends_with("; Secure"));
        assert!(clear_cookie("n", true).contains("Max-Age=0"));
    }

    #[test]
    fn next_stays_inside_the_ui() {
        assert_eq!(safe_next(Some("/ui/bookings?x=1")), "/ui/bookings?x=1");
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/api/v1/users",
            "/ui/login",
            "/ui\\x",
        ] {
            assert_eq!(safe_next(Some(bad)), super::super::HOME, "{bad}");
        }
        assert_eq!(safe_next(None), super::super::HOME);
    }

    #[test]
    fn origin_must_be_this_server() {
        let plain = axum::http::Uri::from_static("/ui/x");
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:7000"));
        assert!(
            check_origin(&h, &plain).is_ok(),
            "no Origin: left to the CSRF token"
        );
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:7000"),
        );
        assert!(check_origin(&h, &plain).is_ok());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(check_origin(&h, &plain).is_err());
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(check_origin(&h, &plain).is_err());
        // HTTP/2: no Host header, the authority is the request's.
        let h2 = axum::http::Uri::from_static("https://127.0.0.1:7000/ui/x");
        let mut h = HeaderMap::new();
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://127.0.0.1:7000"),
        );
        assert!(check_origin(&h, &h2).is_ok());
        assert!(check_origin(&h, &plain).is_err(), "no name for this server");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(check_origin(&h, &h2).is_err());
    }

    #[test]
    fn csrf_depends_on_the_session_and_compares_exactly() {
        assert_ne!(csrf_of("a"), csrf_of("b"));
        assert_eq!(csrf_of("a"), csrf_of("a"));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
