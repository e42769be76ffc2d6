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
        // By `get`, never by index: a URL may carry any UTF-8, and slicing inside a character
        // would panic (schemathesis found `/guests/0\u{80}…`).
        let ok = s.len() >= 4
            && s.len() <= 24
            && s.get(..2).is_some_and(|c| ServerCode::parse(c).is_ok())
            && s.as_bytes()[2] == b'-'
            && s.get(3..)
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
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

/// How many reservation numbers each server code owns: ten million, so that every code's
/// range is disjoint and the largest number still fits FIAS's 10-digit `G#`.
pub const RESERVATIONS_PER_SERVER: u64 = 10_000_000;

/// A booking's numeric reservation number, as PMS interfaces (FIAS `G#`) store it: at most 10
/// digits, unique across the environment although servers create bookings offline. The
/// server code picks a range — index = (first letter − A)·26 + (second − A), number =
/// index·10⁷ + sequence, sequence from 1 — so no two servers can ever hand out one number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReservationNumber(u64);

/// Why no reservation number could be handed out; the booking is refused, nothing written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReservationNumberError {
    /// The server used every number of its range.
    #[error("server {server} has used all {} reservation numbers of its range", RESERVATIONS_PER_SERVER - 1)]
    Exhausted {
        /// The server.
        server: ServerCode,
    },
    /// The store could not read or advance the counter.
    #[error("the reservation number counter failed: {0}")]
    Counter(String),
}

impl ReservationNumber {
    /// Largest number any server can hand out (`ZZ`'s last): 10 digits.
    pub const MAX: u64 = 675 * RESERVATIONS_PER_SERVER + RESERVATIONS_PER_SERVER - 1;

    /// The `seq`th number of `server` (from 1); refused past the server's range.
    pub fn new(server: &ServerCode, seq: u64) -> Result<Self, ReservationNumberError> {
        if seq == 0 || seq >= RESERVATIONS_PER_SERVER {
            return Err(ReservationNumberError::Exhausted {
                server: server.clone(),
            });
        }
        Ok(Self(Self::base(server) + seq))
    }

    /// The first and last number of `server`'s range.
    pub fn range(server: &ServerCode) -> (u64, u64) {
        let base = Self::base(server);
        (base + 1, base + RESERVATIONS_PER_SERVER - 1)
    }

    /// The sequence of this number within its server's range.
    pub fn seq(self) -> u64 {
        self.0 % RESERVATIONS_PER_SERVER
    }

    /// Reads a number typed by a person or sent by an interface: 1 to 10 digits, in range.
    pub fn parse(s: &str) -> Result<Self, String> {
        let n = (!s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
            .filter(|n| *n <= Self::MAX && n % RESERVATIONS_PER_SERVER != 0);
        n.map(Self)
            .ok_or_else(|| format!("not a reservation number (1 to 10 digits): {s:?}"))
    }

    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }

    fn base(server: &ServerCode) -> u64 {
        let b = server.as_str().as_bytes();
        let letter = |i: usize| u64::from(b.get(i).map_or(0, |c| c.saturating_sub(b'A')));
        (letter(0) * 26 + letter(1)) * RESERVATIONS_PER_SERVER
    }
}

impl fmt::Display for ReservationNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Hands out fresh record ids; injected so the core never owns a counter.
pub trait IdSource {
    /// The next unused id of this server.
    fn next_id(&mut self) -> RecordId;

    /// The next unused reservation number of this server, for a new booking; refused with
    /// [`ReservationNumberError::Exhausted`] past the server's range.
    fn next_reservation_number(&mut self) -> Result<ReservationNumber, ReservationNumberError>;
}

/// A plain counter, for tests and the in-memory model.
#[derive(Debug, Clone)]
pub struct CounterIds {
    /// The server whose ids are produced.
    pub server: ServerCode,
    /// The last number handed out.
    pub last: u64,
    /// The last reservation sequence handed out (a counter of its own, as in the store).
    pub last_reservation: u64,
}

impl IdSource for CounterIds {
    fn next_id(&mut self) -> RecordId {
        self.last += 1;
        RecordId::new(&self.server, self.last)
    }

    fn next_reservation_number(&mut self) -> Result<ReservationNumber, ReservationNumberError> {
        let number = ReservationNumber::new(&self.server, self.last_reservation + 1)?;
        self.last_reservation += 1;
        Ok(number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_id_of_any_text_is_refused_not_a_panic() {
        assert!(RecordId::parse("WB-000123").is_ok());
        for bad in [
            "0\u{80}00",
            "W\u{e9}-0001",
            "WB-\u{e9}12",
            "\u{1F600}-1234",
            "WB-12a4",
        ] {
            assert!(RecordId::parse(bad).is_err(), "{bad}");
        }
    }

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
    fn reservation_numbers_have_disjoint_ranges_of_at_most_ten_digits() {
        let code = |s: &str| ServerCode::parse(s).unwrap();
        assert_eq!(ReservationNumber::new(&code("AA"), 1).unwrap().get(), 1);
        assert_eq!(
            ReservationNumber::new(&code("WB"), 12).unwrap().get(),
            (22 * 26 + 1) * RESERVATIONS_PER_SERVER + 12
        );
        let (_, zz_last) = ReservationNumber::range(&code("ZZ"));
        assert_eq!(zz_last, ReservationNumber::MAX);
        assert_eq!(zz_last, 6_759_999_999);
        assert!(zz_last.to_string().len() <= 10);
        // Neighbouring codes never overlap.
        let (_, ab_last) = ReservationNumber::range(&code("AB"));
        let (ac_first, _) = ReservationNumber::range(&code("AC"));
        assert!(ab_last < ac_first);
        let (_, az_last) = ReservationNumber::range(&code("AZ"));
        let (ba_first, _) = ReservationNumber::range(&code("BA"));
        assert!(az_last < ba_first);
        let n = ReservationNumber::new(&code("PA"), 42).unwrap();
        assert_eq!(n.seq(), 42);
        assert_eq!(ReservationNumber::parse(&n.to_string()), Ok(n));
        for bad in [
            "",
            "12a",
            "12345678901",
            "6760000000",
            "-1",
            "0",
            "10000000",
        ] {
            assert!(ReservationNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn no_reservation_number_past_the_range() {
        let zz = ServerCode::parse("ZZ").unwrap();
        let last = ReservationNumber::new(&zz, RESERVATIONS_PER_SERVER - 1).unwrap();
        assert_eq!(last.get(), ReservationNumber::MAX);
        assert_eq!(
            ReservationNumber::new(&zz, RESERVATIONS_PER_SERVER),
            Err(ReservationNumberError::Exhausted { server: zz.clone() })
        );
        let mut ids = CounterIds {
            server: zz.clone(),
            last: 0,
            last_reservation: RESERVATIONS_PER_SERVER - 2,
        };
        assert_eq!(ids.next_reservation_number(), Ok(last));
        assert_eq!(
            ids.next_reservation_number(),
            Err(ReservationNumberError::Exhausted { server: zz })
        );
    }

    proptest::proptest! {
        #[test]
        fn every_reservation_number_fits_ten_digits(a in b'A'..=b'Z', b in b'A'..=b'Z', seq in 0u64..=2 * RESERVATIONS_PER_SERVER) {
            let code = ServerCode::parse(std::str::from_utf8(&[a, b]).unwrap()).unwrap();
            match ReservationNumber::new(&code, seq) {
                Ok(n) => {
                    proptest::prop_assert!(n.get() <= 9_999_999_999);
                    proptest::prop_assert!(n.to_string().len() <= 10);
                    let (first, last) = ReservationNumber::range(&code);
                    proptest::prop_assert!(first <= n.get() && n.get() <= last);
                }
                Err(e) => proptest::prop_assert_eq!(e, ReservationNumberError::Exhausted { server: code }),
            }
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
