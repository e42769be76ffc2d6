//! Splitting an expression's text into tokens, each with its byte offset.

use super::ExprError;
use chrono::NaiveDate;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Tok {
    /// A word: a field name, a keyword or a function name.
    Ident(String),
    /// Digits, as written (the parser applies the sign and the range).
    Digits(String),
    /// `90d`: digits directly followed by `d`.
    Days(String),
    Date(NaiveDate),
    Str(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Plus,
    Minus,
    Cmp(super::CmpOp),
}

impl Tok {
    /// How the token reads in "expected …, found …" messages.
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::Ident(w) => format!("`{w}`"),
            Tok::Digits(d) => format!("`{d}`"),
            Tok::Days(d) => format!("`{d}d`"),
            Tok::Date(d) => format!("`{d}`"),
            Tok::Str(_) => "a string".to_string(),
            Tok::LParen => "`(`".to_string(),
            Tok::RParen => "`)`".to_string(),
            Tok::LBracket => "`[`".to_string(),
            Tok::RBracket => "`]`".to_string(),
            Tok::Comma => "`,`".to_string(),
            Tok::Dot => "`.`".to_string(),
            Tok::Plus => "`+`".to_string(),
            Tok::Minus => "`-`".to_string(),
            Tok::Cmp(op) => format!("`{}`", op.as_str()),
        }
    }
}

/// The tokens of `src`, each with its byte offset.
pub(super) fn lex(src: &str) -> Result<Vec<(usize, Tok)>, ExprError> {
    use super::CmpOp::*;
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let single = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b'[' => Some(Tok::LBracket),
            b']' => Some(Tok::RBracket),
            b',' => Some(Tok::Comma),
            b'.' => Some(Tok::Dot),
            b'+' => Some(Tok::Plus),
            b'-' => Some(Tok::Minus),
            _ => None,
        };
        if let Some(t) = single {
            out.push((start, t));
            i += 1;
            continue;
        }
        let next = b.get(i + 1).copied();
        let tok = match c {
            b'=' if next == Some(b'=') => {
                return Err(ExprError::new(start, "use `=` for equality, not `==`"))
            }
            b'=' => {
                i += 1;
                Tok::Cmp(Eq)
            }
            b'!' if next == Some(b'=') => {
                i += 2;
                Tok::Cmp(Ne)
            }
            b'<' if next == Some(b'=') => {
                i += 2;
                Tok::Cmp(Le)
            }
            b'<' if next == Some(b'>') => {
                return Err(ExprError::new(start, "use `!=` for inequality, not `<>`"))
            }
            b'<' => {
                i += 1;
                Tok::Cmp(Lt)
            }
            b'>' if next == Some(b'=') => {
                i += 2;
                Tok::Cmp(Ge)
            }
            b'>' => {
                i += 1;
                Tok::Cmp(Gt)
            }
            b'"' | b'\'' => {
                let (text, end) = string(src, start)?;
                i = end;
                Tok::Str(text)
            }
            b'0'..=b'9' => {
                let (tok, end) = number(src, start)?;
                i = end;
                tok
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                Tok::Ident(src[start..i].to_string())
            }
            _ => {
                let ch = src[start..].chars().next().unwrap_or('?');
                return Err(ExprError::new(
                    start,
                    format!("unexpected character {ch:?}"),
                ));
            }
        };
        out.push((start, tok));
    }
    Ok(out)
}

/// A quoted string starting at `start`; returns its text and the offset after the closing quote.
fn string(src: &str, start: usize) -> Result<(String, usize), ExprError> {
    let quote = src.as_bytes()[start] as char;
    let mut text = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((i, ch)) = chars.next() {
        let at = start + 1 + i;
        match ch {
            c if c == quote => return Ok((text, at + 1)),
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\'' | '\\'))) => text.push(e),
                Some((_, e)) => {
                    return Err(ExprError::new(
                        at,
                        format!("unknown escape `\\{e}` (only \\\", \\' and \\\\)"),
                    ))
                }
                None => break,
            },
            c => text.push(c),
        }
    }
    Err(ExprError::new(start, "this string is never closed"))
}

/// Digits at `start`: a whole number, a day count (`90d`) or a date (`2026-12-01`).
fn number(src: &str, start: usize) -> Result<(Tok, usize), ExprError> {
    let b = src.as_bytes();
    let mut i = start;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let digits = &src[start..i];
    let is_digit = |k: usize| b.get(k).is_some_and(u8::is_ascii_digit);
    let word_char = |k: usize| {
        b.get(k)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    };
    // A date: exactly YYYY-MM-DD.
    if digits.len() == 4
        && b.get(i) == Some(&b'-')
        && is_digit(i + 1)
        && is_digit(i + 2)
        && b.get(i + 3) == Some(&b'-')
        && is_digit(i + 4)
        && is_digit(i + 5)
        && !word_char(i + 6)
    {
        let end = i + 6;
        return match NaiveDate::parse_from_str(&src[start..end], "%Y-%m-%d") {
            Ok(d) => Ok((Tok::Date(d), end)),
            Err(_) => Err(ExprError::new(
                start,
                format!("{} is not a date of the calendar", &src[start..end]),
            )),
        };
    }
    if b.get(i) == Some(&b'd') && !word_char(i + 1) {
        return Ok((Tok::Days(digits.to_string()), i + 1));
    }
    if word_char(i) {
        return Err(ExprError::new(
            start,
            "a number must stand alone; day counts are written like 90d",
        ));
    }
    Ok((Tok::Digits(digits.to_string()), i))
}
