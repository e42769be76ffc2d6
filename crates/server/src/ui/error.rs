//! How the UI shows a failure: a redirect to the login page when there is no session, or a
//! page that says in plain words what went wrong (the problem's title and detail, never a
//! stack trace or an internal error chain).

use super::shell;
use crate::problem::Problem;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// A failed UI request.
#[derive(Debug)]
pub enum UiError {
    /// No valid session: go to the login page, then come back to `next`.
    Login {
        /// Where to return after logging in (a `/ui` path).
        next: String,
        /// The request came from htmx (a page fragment): the whole page must go to the login,
        /// not the fragment be replaced by the login form.
        htmx: bool,
    },
    /// A page that explains the failure.
    Page {
        /// HTTP status.
        status: StatusCode,
        /// Short heading ("Not allowed").
        title: String,
        /// What exactly happened, for the operator.
        detail: String,
    },
}

impl UiError {
    /// 403: the user lacks the role, or the form's CSRF check failed.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::Page {
            status: StatusCode::FORBIDDEN,
            title: "Not allowed".into(),
            detail: detail.into(),
        }
    }

    /// 404 for a record that does not exist.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::Page {
            status: StatusCode::NOT_FOUND,
            title: "Not found".into(),
            detail: detail.into(),
        }
    }

    /// 400 for a request the UI's own forms never send.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::Page {
            status: StatusCode::BAD_REQUEST,
            title: "The request is not valid".into(),
            detail: detail.into(),
        }
    }
}

impl From<Problem> for UiError {
    fn from(p: Problem) -> Self {
        Self::Page {
            status: p.status,
            title: shell::problem_title(&p).to_string(),
            detail: p.detail,
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            Self::Login { next, htmx } => {
                let target = if next == super::HOME || next.is_empty() {
                    "/ui/login".to_string()
                } else {
                    format!("/ui/login?next={}", super::format::url_encode(&next))
                };
                if htmx {
                    ([("hx-redirect", "/ui/login")], "").into_response()
                } else {
                    Redirect::to(&target).into_response()
                }
            }
            Self::Page {
                status,
                title,
                detail,
            } => (status, shell::error_page(status, &title, &detail)).into_response(),
        }
    }
}

/// UI handler results.
pub type UiResult<T> = Result<T, UiError>;
