//! Plain words for what the system calls by internal names: servers by what they are
//! ("Kraal Lodge's server", "the web"), authorities by who sells or writes for them, audit
//! actions as past-tense verbs ("checked in"), statuses in the detail text, and times in the
//! property's own timezone. Codes stay on screen only as secondary text.

use super::error::UiResult;
use crate::state::AppState;
use chrono::{DateTime, Utc};
use innsync_core::dates::parse_tz;
use innsync_core::{Authority, BookingStatus};
use innsync_environment::config::ServerRole;

/// What each server of the environment is called, and which one is the master and this one.
#[derive(Clone, Debug)]
pub struct Names {
    /// `(code, name)` of every known server.
    servers: Vec<(String, String)>,
    /// The master's code.
    pub master: String,
    /// This server's code.
    pub me: String,
}

/// A server's name from its role and the properties it owns (their display names).
pub fn server_name(code: &str, role: Option<ServerRole>, property_names: &[String]) -> String {
    match role {
        Some(ServerRole::Property) if !property_names.is_empty() => {
            format!("{}'s server", property_names.join(" & "))
        }
        Some(ServerRole::Property) => format!("lodge server {code}"),
        Some(ServerRole::Web) => "the web".into(),
        Some(ServerRole::Reservation) => format!("office {code}"),
        Some(ServerRole::Archive) => format!("the archive ({code})"),
        None => format!("server {code}"),
    }
}

impl Names {
    /// Reads the environment file's servers, the properties' names and the master.
    pub async fn read(state: &AppState) -> UiResult<Self> {
        let (properties, (master, _)) = state.read(|r| Ok((r.properties()?, r.master()?))).await?;
        let me = state.writer.server().to_string();
        let servers = match &state.env {
            Some(ctx) => ctx
                .env
                .servers
                .iter()
                .map(|s| {
                    let owned: Vec<String> = s
                        .properties
                        .iter()
                        .map(|code| {
                            properties
                                .iter()
                                .find(|p| &p.code == code)
                                .map_or_else(|| code.clone(), |p| p.name.clone())
                        })
                        .collect();
                    let code = s.code.to_string();
                    let name = server_name(&code, Some(s.role), &owned);
                    (code, name)
                })
                .collect(),
            None => vec![(me.clone(), "this server".to_string())],
        };
        Ok(Self {
            servers,
            master: master.to_string(),
            me,
        })
    }

    /// Names built from a list, for tests and pages that already hold the facts.
    pub fn from_parts(servers: Vec<(String, String)>, master: &str, me: &str) -> Self {
        Self {
            servers,
            master: master.into(),
            me: me.into(),
        }
    }

    /// A server's name (its code when unknown).
    pub fn server(&self, code: &str) -> String {
        self.servers
            .iter()
            .find(|(c, _)| c == code)
            .map_or_else(|| format!("server {code}"), |(_, n)| n.clone())
    }

    /// A domain message with internal names replaced by plain ones: `server:PA` and a bare
    /// `PA` become the server's name, `env` the master's shared stock.
    pub fn plain(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (code, name) in &self.servers {
            out = out.replace(&format!("server:{code}"), name);
        }
        let shared = format!("the shared stock (sold by {})", self.server(&self.master));
        out = out
            .replace("Env holds", &format!("{} holds", capitalised(&shared)))
            .replace("env holds", &format!("{shared} holds"))
            .replace(
                "owned by env",
                &format!("owned by {}", self.authority(&Authority::Env)),
            );
        out
    }

    /// Who writes records of `a`, in words: a server's name, or for the environment's shared
    /// records the master's ("the web, the master").
    pub fn authority(&self, a: &Authority) -> String {
        match a {
            Authority::Server(s) => self.server(s.as_str()),
            Authority::Env => format!("{}, the master", self.server(&self.master)),
        }
    }

    /// Who holds units of an allotment, in words: the environment's shared units are sold by
    /// the master.
    pub fn holder(&self, a: &Authority) -> String {
        match a {
            Authority::Server(s) => self.server(s.as_str()),
            Authority::Env => format!("shared stock (sold by {})", self.server(&self.master)),
        }
    }

    /// The server that carries out writes of `a`'s records now.
    pub fn writer_of(&self, a: &Authority) -> String {
        match a {
            Authority::Server(s) => s.to_string(),
            Authority::Env => self.master.clone(),
        }
    }

    /// Whether records owned by `a` are written on this server.
    pub fn writable_here(&self, a: &Authority) -> bool {
        self.writer_of(a) == self.me
    }

    /// What this server sells from now: the shared stock when it is the master, its own
    /// allotment always.
    pub fn here(&self) -> Authority {
        match innsync_core::ServerCode::parse(&self.me) {
            Ok(c) if self.master != self.me => Authority::Server(c),
            _ => Authority::Env,
        }
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// An audit action as a past-tense phrase (`booking.check_in` → "checked in").
pub fn action(a: &str) -> String {
    let known = match a {
        "booking.create" => "booked",
        "booking.confirm" => "confirmed",
        "booking.cancel" => "cancelled",
        "booking.check_in" => "checked in",
        "booking.check_out" => "checked out",
        "booking.no_show" => "marked as a no-show",
        "booking.assign_room" => "room assigned",
        "booking.move_room" => "moved to another room",
        "booking.edit" => "changed",
        "reservation.add_line" => "line added",
        "booking.expire_holds" => "hold lapsed",
        "note.add" => "note added",
        "record.transfer" => "handed to another server",
        "record.import_copy" => "copied in",
        "folio.charge" => "charge posted",
        "folio.payment" => "payment taken",
        "folio.correction" => "entry corrected",
        "folio.transfer" => "moved between folios",
        "invoice.issue" => "invoiced",
        "invoice.credit_note" => "credit note issued",
        "conflict.apply" => "conflict settled",
        "allotment.grant" => "units granted",
        "master.grant" => "master handed over",
        "master.takeover" => "master taken over",
        _ => "",
    };
    if known.is_empty() {
        a.replace(['.', '_'], " ")
    } else {
        known.to_string()
    }
}

/// Audit detail text with status names in words (`confirmed -> checked_in` → "Confirmed →
/// Checked in").
pub fn detail(d: &str) -> String {
    let mut out = d.replace(" -> ", " → ");
    for s in [
        BookingStatus::CheckedIn,
        BookingStatus::CheckedOut,
        BookingStatus::NoShow,
        BookingStatus::Provisional,
        BookingStatus::Confirmed,
        BookingStatus::Cancelled,
    ] {
        out = out.replace(s.as_str(), super::format::status_label(s));
    }
    out
}

/// A role of this server in words (`slave` → "not the master").
pub fn role_state(s: &str) -> &'static str {
    match s {
        "master" => "the master",
        "handing_over" => "handing the master role over",
        _ => "not the master (follows it)",
    }
}

/// A time in the property's timezone, `2026-11-23 14:05 SAST`; UTC when the zone is unknown.
pub fn local_time(t: DateTime<Utc>, tz: &str, dates: super::format::DateStyle) -> String {
    match parse_tz(tz) {
        Ok(z) => {
            let l = t.with_timezone(&z);
            format!("{} {}", dates.show(l.date_naive()), l.format("%H:%M %Z"))
        }
        Err(_) => format!("{} {} UTC", dates.show(t.date_naive()), t.format("%H:%M")),
    }
}

/// An RFC 3339 audit time in the property's timezone (as stored when unparsable).
pub fn local_audit_time(s: &str, tz: &str, dates: super::format::DateStyle) -> String {
    DateTime::parse_from_rfc3339(s)
        .map(|t| local_time(t.with_timezone(&Utc), tz, dates))
        .unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::format::DateStyle;
    use super::*;

    fn names() -> Names {
        Names::from_parts(
            vec![
                ("WB".into(), "the web".into()),
                ("PA".into(), "Kraal Lodge's server".into()),
            ],
            "WB",
            "RS",
        )
    }

    #[test]
    fn servers_and_authorities_read_as_names() {
        let n = names();
        let pa = Authority::Server(innsync_core::ServerCode::parse("PA").unwrap());
        assert_eq!(n.authority(&pa), "Kraal Lodge's server");
        assert_eq!(n.authority(&Authority::Env), "the web, the master");
        assert_eq!(n.holder(&Authority::Env), "shared stock (sold by the web)");
        assert!(!n.writable_here(&pa) && !n.writable_here(&Authority::Env));
        assert_eq!(n.writer_of(&Authority::Env), "WB");
        assert_eq!(n.server("ZZ"), "server ZZ");
        assert_eq!(
            n.plain("The record is owned by server:PA; change it there"),
            "The record is owned by Kraal Lodge's server; change it there"
        );
        assert_eq!(
            n.plain("Env holds 0 units"),
            "The shared stock (sold by the web) holds 0 units"
        );
        assert_eq!(
            server_name("PA", Some(ServerRole::Property), &["Kraal Lodge".into()]),
            "Kraal Lodge's server"
        );
        assert_eq!(server_name("WB", Some(ServerRole::Web), &[]), "the web");
    }

    #[test]
    fn actions_and_details_are_words() {
        assert_eq!(action("booking.check_in"), "checked in");
        assert_eq!(action("weird.thing_x"), "weird thing x");
        assert_eq!(detail("confirmed -> checked_in"), "Confirmed → Checked in");
    }

    #[test]
    fn times_are_shown_in_the_property_zone() {
        let t: DateTime<Utc> = "2026-11-23T12:05:00Z".parse().unwrap();
        assert_eq!(
            local_time(t, "Africa/Johannesburg", DateStyle::Iso),
            "2026-11-23 14:05 SAST"
        );
        assert_eq!(
            local_time(t, "Nowhere/X", DateStyle::Dmy),
            "23/11/2026 12:05 UTC"
        );
    }
}
