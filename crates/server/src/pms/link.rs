//! A PMS link's settings, as configured through the API and stored with the server.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The longest link name.
pub const MAX_LINK_NAME: usize = 32;
/// Most extension mappings one link may carry.
pub const MAX_EXTENSION_MAPPINGS: usize = 20_000;

/// The protocol spoken on the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// Mitel-style (SX-2000 / 3300 and PBXs that copy them).
    Mitel,
    /// Oracle Hospitality FIAS.
    Fias,
}

/// Who opens the TCP connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// innsync connects to the system.
    Connect,
    /// innsync listens and the system connects.
    Listen,
}

/// How guest names travel on the link (see `innsync_pms::encoding` for the transliteration).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Encoding {
    /// Printable ASCII with transliteration (`Zoë Müller` → `Zoe Mueller`): what FIAS vendors
    /// and PBXs expect, so the default.
    #[default]
    #[serde(rename = "ascii")]
    Ascii,
    /// IBM code page 850.
    #[serde(rename = "cp850")]
    Cp850,
    /// ISO-8859-1 (Latin-1).
    #[serde(rename = "iso-8859-1")]
    Iso8859_1,
    /// UTF-8.
    #[serde(rename = "utf-8")]
    Utf8,
}

impl Encoding {
    /// The link library's encoding.
    pub fn text_encoding(self) -> innsync_pms::TextEncoding {
        match self {
            Encoding::Ascii => innsync_pms::TextEncoding::Ascii,
            Encoding::Cp850 => innsync_pms::TextEncoding::Cp850,
            Encoding::Iso8859_1 => innsync_pms::TextEncoding::Iso8859_1,
            Encoding::Utf8 => innsync_pms::TextEncoding::Utf8,
        }
    }
}

/// The longest FIAS record accepted by default (between `STX` and `ETX`).
pub const DEFAULT_MAX_RECORD_LEN: usize = 256;

/// One link's settings (`PUT /api/v1/pms/links/{name}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSettings {
    /// The property whose rooms the link serves.
    pub property: String,
    /// Protocol.
    pub dialect: Dialect,
    /// Connect or listen.
    pub role: Role,
    /// `host:port` to connect to or listen on.
    pub address: String,
    /// Run a General Reset whenever the link (re)starts.
    #[serde(default = "yes")]
    pub reset_on_connect: bool,
    /// Run a General Reset every day at this local time of the property (`HH:MM`).
    #[serde(default)]
    pub reset_at: Option<String>,
    /// Room number → extension, where they differ (default: the room number).
    #[serde(default)]
    pub extensions: BTreeMap<String, String>,
    /// How names travel (FIAS; the Mitel dialect always transliterates to ASCII).
    #[serde(default)]
    pub encoding: Encoding,
    /// FIAS: the longest record the other side accepts; a longer one is skipped and reported.
    #[serde(default = "default_max_record_len")]
    pub max_record_len: usize,
}

fn default_max_record_len() -> usize {
    DEFAULT_MAX_RECORD_LEN
}

fn yes() -> bool {
    true
}

impl LinkSettings {
    /// Checks everything that can be checked without the store; the reason names the field.
    pub fn validate(&self, name: &str) -> Result<(), String> {
        if name.is_empty()
            || name.len() > MAX_LINK_NAME
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "link name must be 1 to {MAX_LINK_NAME} letters, digits, - or _; got {name:?}"
            ));
        }
        if self.dialect == Dialect::Fias && self.role != Role::Listen {
            return Err("role: over TCP the FIAS PMS side is the server; use role listen".into());
        }
        self.address.parse::<std::net::SocketAddr>().map_err(|_| {
            format!(
                "address must be IP:port like 127.0.0.1:5010; got {:?}",
                self.address
            )
        })?;
        if let Some(t) = &self.reset_at {
            chrono::NaiveTime::parse_from_str(t, "%H:%M")
                .map_err(|_| format!("reset_at must be HH:MM; got {t:?}"))?;
        }
        if !(32..=65_536).contains(&self.max_record_len) {
            return Err(format!(
                "max_record_len must be 32 to 65536 bytes; got {}",
                self.max_record_len
            ));
        }
        if self.extensions.len() > MAX_EXTENSION_MAPPINGS {
            return Err(format!(
                "at most {MAX_EXTENSION_MAPPINGS} extension mappings"
            ));
        }
        for (room, ext) in &self.extensions {
            innsync_pms::Extension::new(ext).map_err(|e| format!("extensions.{room}: {e}"))?;
        }
        Ok(())
    }

    /// The extension of a room.
    pub fn extension_of<'a>(&'a self, room: &'a str) -> &'a str {
        self.extensions.get(room).map_or(room, String::as_str)
    }

    /// The room of an extension.
    pub fn room_of(&self, ext: &str) -> String {
        self.extensions
            .iter()
            .find(|(_, e)| e.as_str() == ext)
            .map_or_else(|| ext.to_string(), |(r, _)| r.clone())
    }
}
