//! `[[partners]]`: other innsync environments that rules may copy records to. A partner is
//! reached at one of its servers with an API token it issued to us; the token is never printed
//! and is not part of the fingerprint (like the secret, it is checked where it is used).
//!
//! ```toml
//! [[partners]]
//! name = "safari"                  # rules name it as partner:safari
//! url = "http://127.0.0.1:7100"    # a server of the partner environment
//! token = "isk_..."                # a token of a user there
//! ```

use super::error::{Position, Problem};
use super::parse::{required_str, At, DraftServer, Problems};
use super::rule_problem::RuleProblem;
use crate::limits::{MAX_PARTNERS, MAX_TOKEN_CHARS};
use crate::rules::{Partner, PartnerToken};
use std::collections::BTreeMap;
use toml_edit::TableLike;
use url::Url;

const PARTNER_KEYS: &[&str] = &["name", "url", "token"];
pub(super) const PARTNERS: &str = "[[partners]]";

/// A partner as read; `None` where a value was missing or bad (already reported).
#[derive(Debug)]
pub(super) struct DraftPartner {
    pub pos: Position,
    pub name: Option<At<String>>,
    pub url: Option<At<Url>>,
    pub token: Option<String>,
}

/// Reads one entry.
pub(super) fn read(t: &dyn TableLike, pos: Position, p: &mut Problems<'_>) -> DraftPartner {
    super::parse::check_keys(t, PARTNER_KEYS, PARTNERS, p);
    let name = super::parse::required_name(t, "name", PARTNERS, pos, p);
    let url = required_str(t, "url", PARTNERS, pos, p).and_then(|s| super::parse::server_url(s, p));
    let token = required_str(t, "token", PARTNERS, pos, p).and_then(|s| {
        let chars = s.value.chars().count();
        let clean = !s.value.chars().any(|c| c.is_whitespace() || c.is_control());
        if chars == 0 || chars > MAX_TOKEN_CHARS || !clean {
            // The token itself is never echoed.
            p.add(
                s.pos,
                Problem::BadText {
                    key: "token",
                    rule: "must be 1 to 1024 characters without spaces or control characters",
                    got: format!("{chars} characters"),
                },
            );
            return None;
        }
        Some(s.value)
    });
    DraftPartner {
        pos,
        name,
        url,
        token,
    }
}

/// Unique names and URLs, none of them one of our servers'.
pub(super) fn check(partners: &[DraftPartner], servers: &[DraftServer], p: &mut Problems<'_>) {
    if partners.len() > MAX_PARTNERS {
        p.add(
            partners[MAX_PARTNERS].pos,
            Problem::TooMany {
                what: "partners",
                max: MAX_PARTNERS,
            },
        );
    }
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut urls: BTreeMap<&str, &str> = BTreeMap::new();
    for partner in partners {
        let label = partner.name.as_ref().map_or("?", |n| n.value.as_str());
        if let Some(n) = &partner.name {
            match names.get(n.value.as_str()) {
                Some(first_line) => p.add(
                    n.pos,
                    RuleProblem::DuplicatePartner {
                        name: n.value.clone(),
                        first_line: *first_line,
                    }
                    .into(),
                ),
                None => {
                    names.insert(&n.value, n.pos.line);
                }
            }
        }
        let Some(url) = &partner.url else {
            continue;
        };
        if let Some(server) = servers
            .iter()
            .find(|s| s.url.as_ref().is_some_and(|u| u.value == url.value))
        {
            p.add(
                url.pos,
                RuleProblem::PartnerUrlIsServer {
                    url: url.value.to_string(),
                    server: server
                        .code
                        .as_ref()
                        .map_or("?".to_string(), |c| c.value.to_string()),
                }
                .into(),
            );
        }
        match urls.get(url.value.as_str()) {
            Some(first) => p.add(
                url.pos,
                Problem::DuplicateUrl {
                    url: url.value.to_string(),
                    first: first.to_string(),
                    second: label.to_string(),
                },
            ),
            None => {
                urls.insert(url.value.as_str(), label);
            }
        }
    }
}

/// The partner when every value was read.
pub(super) fn build(d: DraftPartner) -> Option<Partner> {
    Some(Partner {
        name: d.name?.value,
        url: d.url?.value,
        token: PartnerToken(d.token?),
    })
}
