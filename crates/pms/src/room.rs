//! Validated domain values carried by the link: room extensions, guest names, maid status and the
//! occupancy of one room. Validation happens once, at construction, so printing never fails on
//! content and a parser can only produce values the printer accepts.

use std::fmt;

use thiserror::Error;

use crate::settings::MAX_EXTENSION_WIDTH;

/// Why a string is not a usable extension.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExtensionError {
    /// Empty after trimming blanks.
    #[error("extension is empty")]
    Empty,
    /// Longer than the configured width (at most 7).
    #[error("extension is {len} characters, more than the width {width}")]
    TooLong {
        /// Characters found.
        len: usize,
        /// Width allowed.
        width: usize,
    },
    /// Contains something other than ASCII letters and digits.
    #[error("extension contains a character that is not an ASCII letter or digit")]
    BadCharacter,
}

/// A room's telephone extension: 1 to 7 ASCII letters or digits (usually digits).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Extension(String);

impl Extension {
    /// Validates an extension; blanks are not part of it (justification adds them).
    pub fn new(s: &str) -> Result<Self, ExtensionError> {
        if s.is_empty() {
            return Err(ExtensionError::Empty);
        }
        if s.len() > MAX_EXTENSION_WIDTH {
            return Err(ExtensionError::TooLong {
                len: s.len(),
                width: MAX_EXTENSION_WIDTH,
            });
        }
        if !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ExtensionError::BadCharacter);
        }
        Ok(Extension(s.to_owned()))
    }

    /// The extension as text, without padding.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Extension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A guest name as phones show it: printable ASCII, bounded length, no leading or trailing blanks.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GuestName(String);

impl GuestName {
    /// Makes any name sendable: it is transliterated to printable ASCII (`Müller` → `Mueller`,
    /// see [`crate::encoding`]), blanks at the ends are trimmed, and the result is cut to
    /// `max_len` characters (the phone's field width). Names come from people, so the link
    /// adapts them instead of refusing a check-in.
    pub fn lossy(s: &str, max_len: usize) -> Self {
        let cleaned = crate::encoding::transliterate(s);
        let cut: String = cleaned.trim().chars().take(max_len).collect();
        GuestName(cut.trim_end().to_owned())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when there is nothing to show.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for GuestName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A maid status code as carried by `STS` (one digit). The meaning of each code is configurable
/// on real systems; the constants give the usual Mitel assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MaidStatus(u8);

impl MaidStatus {
    /// Dirty, vacant.
    pub const DIRTY: MaidStatus = MaidStatus(1);
    /// Cleaning in progress.
    pub const CLEANING: MaidStatus = MaidStatus(2);
    /// Clean.
    pub const CLEAN: MaidStatus = MaidStatus(3);
    /// Inspected.
    pub const INSPECTED: MaidStatus = MaidStatus(4);
    /// Out of order.
    pub const OUT_OF_ORDER: MaidStatus = MaidStatus(5);
    /// Out of service.
    pub const OUT_OF_SERVICE: MaidStatus = MaidStatus(6);

    /// A status from its code, 1 to 9 (one digit on the wire).
    pub fn new(code: u8) -> Option<Self> {
        (1..=9).contains(&code).then_some(MaidStatus(code))
    }

    /// The numeric code.
    pub fn code(self) -> u8 {
        self.0
    }
}

/// What the PMS says about one room in a General Reset: the snapshot element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomOccupancy {
    /// The room's extension.
    pub extension: Extension,
    /// Whether a guest is checked in.
    pub occupied: bool,
    /// The guest's name, sent with `NAM` after `CHK1` when present.
    pub name: Option<GuestName>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_validated() {
        assert!(Extension::new("1234").is_ok());
        assert_eq!(Extension::new(""), Err(ExtensionError::Empty));
        assert_eq!(Extension::new("12 4"), Err(ExtensionError::BadCharacter));
        assert!(matches!(
            Extension::new("12345678"),
            Err(ExtensionError::TooLong { .. })
        ));
    }

    #[test]
    fn names_are_made_printable_and_short() {
        assert_eq!(GuestName::lossy("  Müller ", 20).as_str(), "Mueller");
        assert_eq!(GuestName::lossy("Zoë 王🎉", 20).as_str(), "Zoe ??");
        assert_eq!(
            GuestName::lossy("Maximilian von Habsburg-Lothringen", 20).as_str(),
            "Maximilian von Habsb"
        );
        assert_eq!(GuestName::lossy("Abcdef ghij", 7).as_str(), "Abcdef");
    }
}
