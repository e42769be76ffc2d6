//! Where a character of a TOML string's value is in the file: an expression's problem is
//! reported at its exact line and column, also inside a basic string with escapes or a
//! multi-line string.

/// The byte offset within `raw` (a string value exactly as written, quotes included) of byte
/// `offset` of its decoded text `decoded`; `None` when `raw` does not decode to `decoded` as
/// this reader understands TOML (the caller then points at the value's start).
pub(super) fn raw_offset(raw: &str, decoded: &str, offset: usize) -> Option<usize> {
    let (text, map) = decode(raw)?;
    if text != decoded {
        return None;
    }
    map.get(offset).copied()
}

/// The decoded text and, for each of its bytes and one past the end, its offset in `raw`.
fn decode(raw: &str) -> Option<(String, Vec<usize>)> {
    let (delim, basic) = [("\"\"\"", true), ("'''", false), ("\"", true), ("'", false)]
        .into_iter()
        .find(|(d, _)| raw.starts_with(d) && raw.len() >= 2 * d.len() && raw.ends_with(d))?;
    let mut start = delim.len();
    let end = raw.len() - delim.len();
    if delim.len() == 3 {
        // A newline right after the opening delimiter is not part of the value.
        if raw[start..].starts_with("\r\n") {
            start += 2;
        } else if raw[start..].starts_with('\n') {
            start += 1;
        }
    }
    let body = &raw[start..end];
    let mut text = String::new();
    let mut map = Vec::new();
    let mut push = |text: &mut String, c: char, at: usize| {
        for _ in 0..c.len_utf8() {
            map.push(at);
        }
        text.push(c);
    };
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let at = start + i;
        if !basic || c != '\\' {
            push(&mut text, c, at);
            continue;
        }
        let (_, e) = chars.next()?;
        let unescaped = match e {
            'b' => '\u{8}',
            't' => '\t',
            'n' => '\n',
            'f' => '\u{c}',
            'r' => '\r',
            'e' => '\u{1b}',
            '"' => '"',
            '\\' => '\\',
            'x' | 'u' | 'U' => {
                let digits = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let mut hex = String::new();
                for _ in 0..digits {
                    hex.push(chars.next()?.1);
                }
                char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?
            }
            ' ' | '\t' | '\r' | '\n' if delim.len() == 3 => {
                // A line-ending backslash: the newline and the whitespace after it vanish.
                while chars.peek().is_some_and(|(_, w)| w.is_whitespace()) {
                    chars.next();
                }
                continue;
            }
            _ => return None,
        };
        push(&mut text, unescaped, at);
    }
    map.push(end);
    Some((text, map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_land_on_the_written_character() {
        // literal: one quote before the text
        assert_eq!(raw_offset("'a = 1'", "a = 1", 4), Some(5));
        // basic with escapes: the decoded `"` at 4 is written as `\"` at 5
        let raw = r#""a = \"x\" and b""#;
        let decoded = "a = \"x\" and b";
        assert_eq!(raw_offset(raw, decoded, 4), Some(5));
        assert_eq!(raw_offset(raw, decoded, 5), Some(7));
        assert_eq!(raw_offset(raw, decoded, 12), Some(15));
        // multi-line: the first newline is dropped
        assert_eq!(raw_offset("'''\nab\ncd'''", "ab\ncd", 3), Some(7));
        assert_eq!(
            raw_offset("\"\"\"\nab \\\n   cd\"\"\"", "ab cd", 3),
            Some(12)
        );
        // unicode escapes and characters
        assert_eq!(raw_offset(r#""\u00e9x""#, "éx", 2), Some(7));
        assert_eq!(raw_offset("'éx'", "éx", 2), Some(3));
        // one past the end
        assert_eq!(raw_offset("'ab'", "ab", 2), Some(3));
        // not what it claims to be
        assert_eq!(raw_offset("'ab'", "abc", 0), None);
        assert_eq!(raw_offset("ab", "ab", 0), None);
        assert_eq!(raw_offset(r#""\q""#, "q", 0), None);
    }
}
