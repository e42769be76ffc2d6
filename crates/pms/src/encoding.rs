//! The 8-bit text a PMS link carries, per link: vendors store names in ASCII or a code page
//! (CP850 is common on FIAS systems), some in ISO-8859-1 or UTF-8. Text is **converted, never
//! refused for its characters**, because a guest's name must not stop a check-in.
//!
//! # Transliteration to ASCII (the `ascii` encoding, and the fallback of the code pages)
//! - German umlauts and sharp s follow German usage: `ä ö ü` → `ae oe ue`, `Ä Ö Ü` → `Ae Oe Ue`,
//!   `ß` → `ss` (`Müller` → `Mueller`).
//! - Other Latin letters lose their accents (`Zoë` → `Zoe`, `Łódź` → `Lodz`, `Ø` → `O`), and
//!   Greek and Cyrillic are romanised (`Иван Петров` → `Ivan Petrov`, `Σοφία` → `Sophia`) with
//!   [`deunicode`]'s tables; typographic punctuation becomes its ASCII look-alike (`’` → `'`).
//! - Combining marks, zero-width joiners, variation selectors and emoji skin-tone modifiers
//!   are dropped (they carry no letter of their own).
//! - Everything else — CJK ideographs, kana, hangul, emoji, other scripts — becomes one `?` per
//!   character (`王` → `?`, `🎉` → `?`): a phonetic guess would read as a different name.
//! - Control characters (which would break the framing) become a blank.
//!
//! A code page keeps every character it has (`cp850` keeps `ë`, `ü`, `ß`; `iso-8859-1` keeps
//! U+0000–U+00FF) and transliterates the rest by the rules above.

use std::fmt;

/// How a link turns text into bytes and back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextEncoding {
    /// Printable ASCII only, with the documented transliteration (what FIAS vendors expect).
    #[default]
    Ascii,
    /// IBM code page 850 (Western European DOS), common in PBX and FIAS installations.
    Cp850,
    /// ISO-8859-1 (Latin-1).
    Iso8859_1,
    /// UTF-8, for modern vendors that store Unicode.
    Utf8,
}

impl TextEncoding {
    /// Every encoding, for settings validation and documentation.
    pub const ALL: [TextEncoding; 4] = [
        TextEncoding::Ascii,
        TextEncoding::Cp850,
        TextEncoding::Iso8859_1,
        TextEncoding::Utf8,
    ];

    /// The setting's spelling (`ascii`, `cp850`, `iso-8859-1`, `utf-8`).
    pub fn as_str(self) -> &'static str {
        match self {
            TextEncoding::Ascii => "ascii",
            TextEncoding::Cp850 => "cp850",
            TextEncoding::Iso8859_1 => "iso-8859-1",
            TextEncoding::Utf8 => "utf-8",
        }
    }

    /// Parses a setting's spelling, so operators name encodings as vendors' manuals do.
    pub fn parse(s: &str) -> Option<TextEncoding> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// The bytes of `text` on the wire. Never fails: what the encoding lacks is transliterated.
    /// The result holds no control byte (< 0x20 or 0x7f), so it can never break a frame.
    pub fn encode(self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len());
        for c in text.chars() {
            if c.is_control() {
                out.push(b' ');
                continue;
            }
            match self {
                TextEncoding::Ascii => {}
                TextEncoding::Cp850 => {
                    if c.is_ascii() {
                        out.push(c as u8);
                        continue;
                    }
                    if let Some(b) = oem_cp::code_table::ENCODING_TABLE_CP850.get(&c) {
                        out.push(*b);
                        continue;
                    }
                }
                TextEncoding::Iso8859_1 => {
                    if let Ok(b) = u8::try_from(u32::from(c)) {
                        out.push(b);
                        continue;
                    }
                }
                TextEncoding::Utf8 => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    continue;
                }
            }
            push_ascii(c, &mut out);
        }
        debug_assert!(!out.iter().any(|b| *b < 0x20 || *b == 0x7f));
        out
    }

    /// The text of bytes received in this encoding; bytes it cannot read become `?`.
    pub fn decode(self, bytes: &[u8]) -> String {
        match self {
            TextEncoding::Ascii => bytes
                .iter()
                .map(|&b| if b.is_ascii() { b as char } else { '?' })
                .collect(),
            TextEncoding::Cp850 => bytes
                .iter()
                .map(|&b| match b.checked_sub(0x80) {
                    None => b as char,
                    Some(i) => oem_cp::code_table::DECODING_TABLE_CP850[usize::from(i)],
                })
                .collect(),
            TextEncoding::Iso8859_1 => bytes.iter().map(|&b| char::from(b)).collect(),
            TextEncoding::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
        }
    }
}

impl fmt::Display for TextEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `text` in printable ASCII by the rules of the module documentation.
pub fn transliterate(text: &str) -> String {
    let bytes = TextEncoding::Ascii.encode(text);
    // Only printable ASCII bytes were produced.
    bytes.into_iter().map(char::from).collect()
}

/// Characters with no letter of their own: dropped rather than shown as `?`.
fn is_invisible(c: char) -> bool {
    matches!(u32::from(c),
        0x0300..=0x036F // combining diacritical marks
        | 0x200B..=0x200F // zero-width space, joiners, direction marks
        | 0x2060..=0x206F // word joiner, invisible operators
        | 0xFE00..=0xFE0F // variation selectors
        | 0x1F3FB..=0x1F3FF // emoji skin-tone modifiers
        | 0xE0000..=0xE007F) // tags
}

/// Scripts whose romanisation reads as the same name: Latin, Greek, Cyrillic, punctuation.
fn is_romanisable(c: char) -> bool {
    matches!(u32::from(c),
        0x0080..=0x024F // Latin-1 supplement, Latin extended A/B
        | 0x0370..=0x03FF // Greek
        | 0x0400..=0x052F // Cyrillic
        | 0x1E00..=0x1FFF // Latin extended additional, Greek extended
        | 0x2000..=0x206F // general punctuation
        | 0x20A0..=0x20CF) // currency symbols
}

fn push_ascii(c: char, out: &mut Vec<u8>) {
    if c.is_ascii() {
        out.push(if c.is_ascii_control() { b' ' } else { c as u8 });
        return;
    }
    let german = match c {
        'ä' => Some("ae"),
        'ö' => Some("oe"),
        'ü' => Some("ue"),
        'Ä' => Some("Ae"),
        'Ö' => Some("Oe"),
        'Ü' => Some("Ue"),
        'ß' => Some("ss"),
        'ẞ' => Some("SS"),
        _ => None,
    };
    if let Some(g) = german {
        out.extend_from_slice(g.as_bytes());
        return;
    }
    if is_invisible(c) {
        return;
    }
    let roman = is_romanisable(c)
        .then(|| deunicode::deunicode_char(c))
        .flatten()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| (0x20..0x7f).contains(&b)));
    match roman {
        // deunicode pads some syllables with a blank; a name keeps its own spacing.
        Some(s) => out.extend_from_slice(s.trim_end().as_bytes()),
        None => out.push(b'?'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ascii_transliterates_as_documented() {
        for (input, want) in [
            ("Zoë Müller", "Zoe Mueller"),
            ("Straße", "Strasse"),
            ("ÄÖÜ äöü", "AeOeUe aeoeue"),
            ("François Øster", "Francois Oster"),
            ("Łódź", "Lodz"),
            ("Иван Петров", "Ivan Petrov"),
            ("Пётр Чайковский", "Piotr Chaikovskii"),
            ("Σοφία", "Sophia"),
            ("王小明", "???"),
            ("Ada 🎉", "Ada ?"),
            ("Ada 👍🏽", "Ada ?"),
            ("Zoe\u{308}", "Zoe"),
            ("O’Brien", "O'Brien"),
            ("tab\there", "tab here"),
        ] {
            assert_eq!(transliterate(input), want, "{input}");
        }
    }

    #[test]
    fn code_pages_keep_what_they_have_and_transliterate_the_rest() {
        assert_eq!(
            TextEncoding::Cp850.encode("Zoë Müller ß"),
            b"Zo\x89 M\x81ller \xe1".to_vec()
        );
        assert_eq!(TextEncoding::Cp850.encode("Иван 王"), b"Ivan ?".to_vec());
        assert_eq!(
            TextEncoding::Iso8859_1.encode("Zoë Müller"),
            b"Zo\xeb M\xfcller".to_vec()
        );
        assert_eq!(TextEncoding::Iso8859_1.encode("€"), b"EUR".to_vec());
        assert_eq!(
            TextEncoding::Utf8.encode("Zoë 王🎉"),
            "Zoë 王🎉".as_bytes().to_vec()
        );
    }

    #[test]
    fn decoding_reads_each_encoding() {
        assert_eq!(
            TextEncoding::Cp850.decode(b"Zo\x89 M\x81ller"),
            "Zoë Müller"
        );
        assert_eq!(TextEncoding::Iso8859_1.decode(b"Zo\xeb"), "Zoë");
        assert_eq!(TextEncoding::Ascii.decode(b"Zo\xeb"), "Zo?");
        assert_eq!(TextEncoding::Utf8.decode("Zoë".as_bytes()), "Zoë");
    }

    #[test]
    fn settings_spellings_round_trip() {
        for e in TextEncoding::ALL {
            assert_eq!(TextEncoding::parse(e.as_str()), Some(e));
        }
        assert_eq!(TextEncoding::parse("latin1"), None);
        assert_eq!(TextEncoding::default(), TextEncoding::Ascii);
    }

    proptest! {
        #[test]
        fn any_text_encodes_without_control_bytes(text in any::<String>()) {
            for e in TextEncoding::ALL {
                let bytes = e.encode(&text);
                prop_assert!(!bytes.iter().any(|b| *b < 0x20 || *b == 0x7f));
                if e == TextEncoding::Ascii {
                    prop_assert!(bytes.iter().all(u8::is_ascii));
                }
            }
        }

        #[test]
        fn code_pages_round_trip_what_they_hold(text in "[ -~äöüßéèçñÄÖÜ]{0,40}") {
            for e in [TextEncoding::Cp850, TextEncoding::Iso8859_1, TextEncoding::Utf8] {
                prop_assert_eq!(e.decode(&e.encode(&text)), text.clone());
            }
        }
    }
}
