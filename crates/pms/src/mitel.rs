//! Mitel-style messages (the text between `STX` and `ETX`): parser and printer. Extensions are
//! fixed-width fields, right-justified with blanks when the PMS sends and left-justified when the
//! system sends. Unknown function or status codes are typed errors, which the link answers `NAK`.

use thiserror::Error;

use crate::charge::{ChargeFieldError, ChargeRecord};
use crate::room::{Extension, ExtensionError, GuestName, MaidStatus};

/// One Mitel-style message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `CHK1 EEEEE`: check-in (PMS → system).
    CheckIn(Extension),
    /// `CHK0 EEEEE`: check-out (PMS → system).
    CheckOut(Extension),
    /// `NAM EEEEE name`: guest name for the room's phone (PMS → system).
    Name {
        /// The room.
        extension: Extension,
        /// The name to show.
        name: GuestName,
    },
    /// `MW 1 EEEEE` / `MW 0 EEEEE`: message-waiting lamp (both directions).
    MessageWaiting {
        /// Lamp on.
        on: bool,
        /// The room.
        extension: Extension,
    },
    /// `STS S EEEEE`: maid status (system → PMS).
    MaidStatus {
        /// The status code.
        status: MaidStatus,
        /// The room.
        extension: Extension,
    },
    /// `GRS`: start of a General Reset cycle (PMS → system).
    GeneralReset,
    /// `END`: end of a General Reset cycle (PMS → system).
    End,
    /// `CNL`: cancel the running cycle (PMS → system).
    Cancel,
    /// `RTI`: the system asks the PMS for a General Reset (system → PMS).
    RequestInit,
    /// `AYT`: keep-alive (both directions).
    AreYouThere,
    /// `CHG S K A EEEEE`: a charge for the guest in a room (system → PMS; see
    /// [`crate::charge`]).
    Charge(ChargeRecord),
}

/// Which way a field is padded; the side that sends decides (PMS right, system left).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Justify {
    /// Blanks first: how the PMS sends.
    Right,
    /// Blanks after: how the system sends.
    Left,
}

/// Why a text is not a message we accept; every variant leads to a `NAK`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// Nothing between `STX` and `ETX`.
    #[error("empty message")]
    Empty,
    /// A byte outside printable ASCII.
    #[error("message contains a byte that is not printable ASCII")]
    NotPrintable,
    /// The function code is not one we know (`XYZ`).
    #[error("unknown function code {0:?}")]
    UnknownFunction(String),
    /// A known function with an unknown status (`CHK3`, `MW 7`, `STS 0`).
    #[error("unknown status {status:?} for {function}")]
    UnknownStatus {
        /// The function.
        function: &'static str,
        /// The status found.
        status: String,
    },
    /// A field is missing.
    #[error("missing {0}")]
    Missing(&'static str),
    /// The extension field is wrong.
    #[error("bad extension: {0}")]
    Extension(#[from] ExtensionError),
    /// Something follows a message that takes no fields.
    #[error("unexpected data after {0}")]
    Trailing(&'static str),
    /// A field of a charge record is missing or wrong.
    #[error("charge record: {0}")]
    Charge(ChargeFieldError),
}

/// Why a message cannot be printed with the configured width.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PrintError {
    /// The extension is wider than the field.
    #[error("extension {extension} is wider than the field width {width}")]
    ExtensionTooWide {
        /// The extension.
        extension: String,
        /// The configured width.
        width: usize,
    },
    /// A charge record whose fields the record does not allow (only built by hand).
    #[error("charge record {0:?} has a field outside the record's format")]
    BadCharge(String),
}

impl Message {
    /// True for messages the PMS may send; the system refuses the others.
    pub fn is_from_pms(&self) -> bool {
        !matches!(
            self,
            Message::MaidStatus { .. } | Message::RequestInit | Message::Charge(_)
        )
    }

    /// True for messages the system may send; the PMS refuses the others.
    pub fn is_from_system(&self) -> bool {
        matches!(
            self,
            Message::MessageWaiting { .. }
                | Message::MaidStatus { .. }
                | Message::RequestInit
                | Message::AreYouThere
                | Message::Charge(_)
        )
    }

    /// The room a message is about, if any.
    pub fn extension(&self) -> Option<&Extension> {
        match self {
            Message::CheckIn(e) | Message::CheckOut(e) => Some(e),
            Message::Name { extension, .. }
            | Message::MessageWaiting { extension, .. }
            | Message::MaidStatus { extension, .. } => Some(extension),
            Message::Charge(c) => Some(&c.extension),
            _ => None,
        }
    }

    /// Prints the text (without `STX`/`ETX`) with extensions padded to `width`.
    pub fn print(&self, width: usize, justify: Justify) -> Result<Vec<u8>, PrintError> {
        let pad = |e: &Extension| -> Result<String, PrintError> {
            if e.as_str().len() > width {
                return Err(PrintError::ExtensionTooWide {
                    extension: e.to_string(),
                    width,
                });
            }
            Ok(match justify {
                Justify::Right => format!("{:>width$}", e.as_str()),
                Justify::Left => format!("{:<width$}", e.as_str()),
            })
        };
        let text = match self {
            Message::CheckIn(e) => format!("CHK1 {}", pad(e)?),
            Message::CheckOut(e) => format!("CHK0 {}", pad(e)?),
            Message::Name { extension, name } if name.is_empty() => {
                format!("NAM {}", pad(extension)?)
            }
            Message::Name { extension, name } => format!("NAM {} {}", pad(extension)?, name),
            Message::MessageWaiting { on, extension } => {
                format!("MW {} {}", u8::from(*on), pad(extension)?)
            }
            Message::MaidStatus { status, extension } => {
                format!("STS {} {}", status.code(), pad(extension)?)
            }
            Message::GeneralReset => "GRS".to_owned(),
            Message::End => "END".to_owned(),
            Message::Cancel => "CNL".to_owned(),
            Message::RequestInit => "RTI".to_owned(),
            Message::AreYouThere => "AYT".to_owned(),
            Message::Charge(c) if !c.is_printable() => {
                return Err(PrintError::BadCharge(c.sequence.chars().take(16).collect()))
            }
            Message::Charge(c) => format!("{} {}", c.head(), pad(&c.extension)?),
        };
        Ok(text.into_bytes())
    }

    /// Parses a text (without `STX`/`ETX`); `width` is the extension field width. Lenient about
    /// justification and trailing blanks, strict about codes and extensions.
    pub fn parse(text: &[u8], width: usize) -> Result<Message, ParseError> {
        if !text.iter().all(|b| (0x20..0x7f).contains(b)) {
            return Err(ParseError::NotPrintable);
        }
        // Printable ASCII is valid UTF-8.
        let text = std::str::from_utf8(text).map_err(|_| ParseError::NotPrintable)?;
        let text = text.trim_end();
        if text.trim_start().is_empty() {
            return Err(ParseError::Empty);
        }
        let (function, rest) = match text.find(' ') {
            Some(i) => (&text[..i], &text[i + 1..]),
            None => (text, ""),
        };
        match function {
            "GRS" => no_fields(Message::GeneralReset, "GRS", rest),
            "END" => no_fields(Message::End, "END", rest),
            "CNL" => no_fields(Message::Cancel, "CNL", rest),
            "RTI" => no_fields(Message::RequestInit, "RTI", rest),
            "AYT" => no_fields(Message::AreYouThere, "AYT", rest),
            "CHK1" => Ok(Message::CheckIn(extension_field(rest, width)?)),
            "CHK0" => Ok(Message::CheckOut(extension_field(rest, width)?)),
            f if f.starts_with("CHK") => Err(ParseError::UnknownStatus {
                function: "CHK",
                status: short(&f[3..]),
            }),
            "NAM" => parse_name(rest, width),
            "CHG" => {
                let (sequence, kind, amount, ext) =
                    ChargeRecord::fields(rest).map_err(ParseError::Charge)?;
                Ok(Message::Charge(ChargeRecord {
                    sequence,
                    kind,
                    amount,
                    extension: extension_field(ext, width)?,
                }))
            }
            "MW" => {
                let (status, ext) = status_field(rest)?;
                let on = match status {
                    "1" => true,
                    "0" => false,
                    s => {
                        return Err(ParseError::UnknownStatus {
                            function: "MW",
                            status: short(s),
                        })
                    }
                };
                Ok(Message::MessageWaiting {
                    on,
                    extension: extension_field(ext, width)?,
                })
            }
            "STS" => {
                let (status, ext) = status_field(rest)?;
                let code = match status.as_bytes() {
                    [d] if d.is_ascii_digit() => MaidStatus::new(d - b'0'),
                    _ => None,
                };
                let Some(status) = code else {
                    return Err(ParseError::UnknownStatus {
                        function: "STS",
                        status: short(status),
                    });
                };
                Ok(Message::MaidStatus {
                    status,
                    extension: extension_field(ext, width)?,
                })
            }
            other => Err(ParseError::UnknownFunction(short(other))),
        }
    }
}

/// Keeps error payloads small whatever the peer sends.
fn short(s: &str) -> String {
    s.chars().take(16).collect()
}

fn no_fields(m: Message, name: &'static str, rest: &str) -> Result<Message, ParseError> {
    if rest.trim().is_empty() {
        Ok(m)
    } else {
        Err(ParseError::Trailing(name))
    }
}

fn status_field(rest: &str) -> Result<(&str, &str), ParseError> {
    match rest.find(' ') {
        Some(i) => Ok((&rest[..i], &rest[i + 1..])),
        None if rest.is_empty() => Err(ParseError::Missing("status")),
        None => Err(ParseError::Missing("extension")),
    }
}

fn extension_field(field: &str, width: usize) -> Result<Extension, ParseError> {
    let trimmed = field.trim();
    if trimmed.is_empty() {
        return Err(ParseError::Missing("extension"));
    }
    if trimmed.len() > width {
        return Err(ExtensionError::TooLong {
            len: trimmed.len(),
            width,
        }
        .into());
    }
    Ok(Extension::new(trimmed)?)
}

fn parse_name(rest: &str, width: usize) -> Result<Message, ParseError> {
    // The extension is a fixed-width field (it may contain padding blanks), then a blank and the
    // name. A shorter text carries only the extension.
    let (field, tail) = if rest.len() > width {
        rest.split_at(width)
    } else {
        (rest, "")
    };
    let extension = extension_field(field, width)?;
    let name = match tail.strip_prefix(' ') {
        Some(name) => name,
        None if tail.is_empty() => "",
        None => {
            return Err(ExtensionError::TooLong {
                len: width + 1,
                width,
            }
            .into())
        }
    };
    Ok(Message::Name {
        extension,
        name: GuestName::lossy(name, usize::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ext(s: &str) -> Extension {
        Extension::new(s).unwrap()
    }

    #[test]
    fn pms_prints_right_justified_system_left_justified() {
        let m = Message::CheckIn(ext("123"));
        assert_eq!(m.print(5, Justify::Right).unwrap(), b"CHK1   123");
        let m = Message::MaidStatus {
            status: MaidStatus::CLEAN,
            extension: ext("123"),
        };
        assert_eq!(m.print(5, Justify::Left).unwrap(), b"STS 3 123  ");
        let m = Message::Name {
            extension: ext("1234"),
            name: GuestName::lossy("Rogers", 20),
        };
        assert_eq!(m.print(5, Justify::Right).unwrap(), b"NAM  1234 Rogers");
        assert_eq!(
            Message::MessageWaiting {
                on: true,
                extension: ext("1234567")
            }
            .print(7, Justify::Right)
            .unwrap(),
            b"MW 1 1234567"
        );
    }

    #[test]
    fn parses_both_justifications() {
        assert_eq!(
            Message::parse(b"CHK0  1234", 5),
            Ok(Message::CheckOut(ext("1234")))
        );
        assert_eq!(
            Message::parse(b"MW 0 1234 ", 5),
            Ok(Message::MessageWaiting {
                on: false,
                extension: ext("1234")
            })
        );
        assert_eq!(
            Message::parse(b"NAM 12    Ann Lee", 5),
            Ok(Message::Name {
                extension: ext("12"),
                name: GuestName::lossy("Ann Lee", 20)
            })
        );
        assert_eq!(Message::parse(b"GRS", 5), Ok(Message::GeneralReset));
    }

    fn charge(seq: &str, kind: char, amount: u32, e: &str) -> Message {
        Message::Charge(ChargeRecord {
            sequence: seq.into(),
            kind,
            amount,
            extension: ext(e),
        })
    }

    #[test]
    fn a_charge_record_prints_and_parses_with_the_extension_last() {
        let m = charge("000042", 'M', 1250, "101");
        assert_eq!(
            m.print(5, Justify::Left).unwrap(),
            b"CHG 000042 M 1250 101  "
        );
        assert_eq!(Message::parse(b"CHG 000042 M 1250 101  ", 5), Ok(m.clone()));
        assert_eq!(
            Message::parse(b"CHG 000042 M 01250   101", 5),
            Ok(m.clone())
        );
        assert!(m.is_from_system() && !m.is_from_pms());
        assert_eq!(m.extension(), Some(&ext("101")));
        assert_eq!(
            charge("1", 'M', 0, "101").print(5, Justify::Left),
            Err(PrintError::BadCharge("1".into()))
        );
    }

    #[test]
    fn a_charge_record_with_a_bad_field_is_a_typed_error() {
        let bad = |t: &[u8]| Message::parse(t, 5).unwrap_err();
        assert_eq!(
            bad(b"CHG"),
            ParseError::Charge(ChargeFieldError::Missing("sequence"))
        );
        assert_eq!(
            bad(b"CHG 12 M"),
            ParseError::Charge(ChargeFieldError::Missing("amount"))
        );
        assert_eq!(
            bad(b"CHG 1x M 100 101"),
            ParseError::Charge(ChargeFieldError::Bad("sequence"))
        );
        assert_eq!(
            bad(b"CHG 1234567890 M 100 101"),
            ParseError::Charge(ChargeFieldError::Bad("sequence"))
        );
        assert_eq!(
            bad(b"CHG 12 m 100 101"),
            ParseError::Charge(ChargeFieldError::Bad("kind"))
        );
        assert_eq!(
            bad(b"CHG 12 M 0 101"),
            ParseError::Charge(ChargeFieldError::Bad("amount"))
        );
        assert_eq!(
            bad(b"CHG 12 M -5 101"),
            ParseError::Charge(ChargeFieldError::Bad("amount"))
        );
        assert_eq!(bad(b"CHG 12 M 100"), ParseError::Missing("extension"));
        assert!(matches!(
            bad(b"CHG 12 M 100 123456"),
            ParseError::Extension(_)
        ));
    }

    #[test]
    fn unknown_codes_are_typed_errors() {
        assert_eq!(
            Message::parse(b"CHK3  1234", 5),
            Err(ParseError::UnknownStatus {
                function: "CHK",
                status: "3".into()
            })
        );
        assert_eq!(
            Message::parse(b"XYZ 1", 5),
            Err(ParseError::UnknownFunction("XYZ".into()))
        );
        assert!(matches!(
            Message::parse(b"STS 0 1234", 5),
            Err(ParseError::UnknownStatus { .. })
        ));
        assert!(matches!(
            Message::parse(b"CHK1 123456", 5),
            Err(ParseError::Extension(_))
        ));
        assert_eq!(
            Message::parse(b"GRS x", 5),
            Err(ParseError::Trailing("GRS"))
        );
        assert_eq!(Message::parse(b"   ", 5), Err(ParseError::Empty));
        assert_eq!(
            Message::parse(b"CHK1", 5),
            Err(ParseError::Missing("extension"))
        );
    }

    fn arb_extension(width: usize) -> BoxedStrategy<Extension> {
        proptest::string::string_regex(&format!("[0-9A-Z]{{1,{width}}}"))
            .unwrap()
            .prop_map(|s| Extension::new(&s).unwrap())
            .boxed()
    }

    fn arb_message(width: usize) -> impl Strategy<Value = Message> {
        let e = arb_extension(width);
        prop_oneof![
            e.clone().prop_map(Message::CheckIn),
            e.clone().prop_map(Message::CheckOut),
            (e.clone(), "[ -~]{0,20}").prop_map(|(extension, n): (Extension, String)| {
                Message::Name {
                    extension,
                    name: GuestName::lossy(&n, 20),
                }
            }),
            (e.clone(), any::<bool>())
                .prop_map(|(extension, on)| Message::MessageWaiting { on, extension }),
            (e, 1u8..=9).prop_map(|(extension, c)| Message::MaidStatus {
                status: MaidStatus::new(c).unwrap(),
                extension
            }),
            Just(Message::GeneralReset),
            Just(Message::End),
            Just(Message::Cancel),
            Just(Message::RequestInit),
            Just(Message::AreYouThere),
            (
                arb_extension(width),
                "[0-9]{1,9}",
                "[A-Z]",
                1u32..=999_999_999
            )
                .prop_map(
                    |(extension, sequence, kind, amount): (Extension, String, String, u32)| {
                        Message::Charge(ChargeRecord {
                            sequence,
                            kind: kind.chars().next().unwrap(),
                            amount,
                            extension,
                        })
                    }
                ),
        ]
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64), width in 1usize..=7) {
            let _ = Message::parse(&bytes, width);
        }

        #[test]
        fn printable_noise_never_panics(text in "[ -~]{0,40}", width in 1usize..=7) {
            let _ = Message::parse(text.as_bytes(), width);
        }

        #[test]
        fn print_parse_round_trips(width in 1usize..=7, m in arb_message(7), right in any::<bool>()) {
            let justify = if right { Justify::Right } else { Justify::Left };
            match m.print(width, justify) {
                Ok(text) => prop_assert_eq!(Message::parse(&text, width), Ok(m)),
                Err(PrintError::ExtensionTooWide { .. }) => {
                    prop_assert!(m.extension().is_some_and(|e| e.as_str().len() > width));
                }
                Err(e @ PrintError::BadCharge(_)) => prop_assert!(false, "{e}"),
            }
        }
    }
}
