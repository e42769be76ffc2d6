//! Field rules shared by the commands: codes, names, currencies, contact details.

use crate::error::DomainError;
use crate::limits::{MAX_CODE_LEN, MAX_NAME_LEN, MAX_TEXT_LEN};

fn invalid(msg: String) -> DomainError {
    DomainError::InvalidInput(msg)
}

/// A code: 1–16 upper-case letters, digits, `-` or `_`.
pub fn code(field: &str, v: &str) -> Result<(), DomainError> {
    let ok = !v.is_empty()
        && v.len() <= MAX_CODE_LEN
        && v.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{field} must be 1 to {MAX_CODE_LEN} upper-case letters, digits, - or _; got {v:?}"
        )))
    }
}

/// A room number: 1–16 letters, digits or `-`.
pub fn room_number(v: &str) -> Result<(), DomainError> {
    let ok = !v.is_empty()
        && v.len() <= MAX_CODE_LEN
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "room number must be 1 to {MAX_CODE_LEN} letters, digits or -; got {v:?}"
        )))
    }
}

/// A display name: not blank, at most 200 characters, no control characters.
pub fn name(field: &str, v: &str) -> Result<(), DomainError> {
    if v.trim().is_empty() {
        return Err(invalid(format!("{field} must not be empty")));
    }
    text(field, v, MAX_NAME_LEN)
}

/// Free text of at most `max` characters without control characters other than newlines.
pub fn text(field: &str, v: &str, max: usize) -> Result<(), DomainError> {
    let len = v.chars().count();
    if len > max {
        return Err(invalid(format!(
            "{field} is {len} characters long; at most {max} allowed"
        )));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(invalid(format!("{field} contains control characters")));
    }
    Ok(())
}

/// Optional notes or reason.
pub fn notes(field: &str, v: Option<&str>) -> Result<(), DomainError> {
    v.map_or(Ok(()), |t| text(field, t, MAX_TEXT_LEN))
}

/// An ISO 4217 currency code: three upper-case letters.
pub fn currency(v: &str) -> Result<(), DomainError> {
    if v.len() == 3 && v.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(invalid(format!(
            "currency must be an ISO 4217 code like ZAR or EUR; got {v:?}"
        )))
    }
}

/// A guest's e-mail and telephone, when given.
pub fn contact(email: Option<&str>, phone: Option<&str>) -> Result<(), DomainError> {
    if let Some(e) = email {
        text("guest.email", e, MAX_NAME_LEN)?;
        let at = e.find('@');
        if !matches!(at, Some(i) if i > 0 && i + 1 < e.len()) || e.contains(char::is_whitespace) {
            return Err(invalid(format!(
                "guest.email is not an e-mail address: {e:?}"
            )));
        }
    }
    if let Some(p) = phone {
        text("guest.phone", p, 40)?;
        if !p
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        {
            return Err(invalid(format!(
                "guest.phone may hold digits, spaces and + - ( ) . only; got {p:?}"
            )));
        }
    }
    Ok(())
}

/// A login name: 1–64 lower-case letters, digits, `.`, `_` or `-`.
pub fn username(v: &str) -> Result<(), DomainError> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_' || b == b'-'
        });
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "username must be 1 to 64 lower-case letters, digits, ., _ or -; got {v:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_names_and_contacts() {
        assert!(code("code", "KRL").is_ok());
        assert!(code("code", "krl").is_err());
        assert!(code("code", "").is_err());
        assert!(code("code", "ABCDEFGHIJKLMNOPQ").is_err());
        assert!(name("name", "  ").is_err());
        assert!(name("name", "Kraal\u{7}").is_err());
        assert!(contact(Some("a@b.c"), Some("+27 (21) 555-0100")).is_ok());
        assert!(contact(Some("@b"), None).is_err());
        assert!(contact(None, Some("call me")).is_err());
        assert!(currency("ZAR").is_ok() && currency("zar").is_err());
    }
}
