//! Server codes, record ids and authorities: who may write a record is part of its identity.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The code of a server in an environment (`WB`, `RS`, `PA`): two upper-case ASCII letters.
///
/// It prefixes every record id the server creates, so ids from different servers never collide.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServerCode(String);

impl ServerCode {
    /// Parses a server code, refusing anything but two upper-case letters.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(s.to_string()))
        } else {
            Err(format!(
                "server code must be two upper-case letters (like WB or PA), got {s:?}"
            ))
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ServerCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<ServerCode> for String {
    fn from(c: ServerCode) -> String {
        c.0
    }
}

impl fmt::Display for ServerCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A record id such as `WB-000123`: the creating server's code and its counter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordId(String);

impl RecordId {
    /// Builds the id of the `n`th record created by `server`.
    pub fn new(server: &ServerCode, n: u64) -> Self {
        Self(format!("{server}-{n:06}"))
    }

    /// Wraps an id read back from storage or a URL; only its shape is checked.
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = s.len() >= 4
            && s.len() <= 24
            && ServerCode::parse(&s[..2]).is_ok()
            && s.as_bytes()[2] == b'-'
            && s[3..].bytes().all(|b| b.is_ascii_digit());
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(format!("not a record id (like WB-000123): {s:?}"))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who may write a record: the environment's master (`env`) or one named server (`server:PA`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Authority {
    /// Shared data, writable only by the master at the current epoch.
    Env,
    /// Data owned by one server, writable only there.
    Server(ServerCode),
}

impl Authority {
    /// Parses `env` or `server:XX`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s == "env" {
            return Ok(Self::Env);
        }
        match s.strip_prefix("server:") {
            Some(code) => Ok(Self::Server(ServerCode::parse(code)?)),
            None => Err(format!("authority must be env or server:XX, got {s:?}")),
        }
    }
}

impl TryFrom<String> for Authority {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<Authority> for String {
    fn from(a: Authority) -> String {
        a.to_string()
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env => f.write_str("env"),
            Self::Server(c) => write!(f, "server:{c}"),
        }
    }
}

/// Hands out fresh record ids; injected so the core never owns a counter.
pub trait IdSource {
    /// The next unused id of this server.
    fn next_id(&mut self) -> RecordId;
}

/// A plain counter, for tests and the in-memory model.
#[derive(Debug, Clone)]
pub struct CounterIds {
    /// The server whose ids are produced.
    pub server: ServerCode,
    /// The last number handed out.
    pub last: u64,
}

impl IdSource for CounterIds {
    fn next_id(&mut self) -> RecordId {
        self.last += 1;
        RecordId::new(&self.server, self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_codes_are_two_upper_case_letters() {
        assert!(ServerCode::parse("WB").is_ok());
        for bad in ["", "W", "wb", "WBX", "W1", "ÄB"] {
            assert!(ServerCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn record_ids_carry_the_server_code() {
        let wb = ServerCode::parse("WB").unwrap();
        assert_eq!(RecordId::new(&wb, 1).as_str(), "WB-000001");
        assert_eq!(RecordId::new(&wb, 1_234_567).as_str(), "WB-1234567");
        assert!(RecordId::parse("WB-000001").is_ok());
        for bad in ["WB000001", "wb-1", "WB-", "WB-12a", "W-1"] {
            assert!(RecordId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn authorities_round_trip() {
        for s in ["env", "server:PA"] {
            assert_eq!(Authority::parse(s).unwrap().to_string(), s);
        }
        assert!(Authority::parse("server:pa").is_err());
        assert!(Authority::parse("master").is_err());
    }
}
