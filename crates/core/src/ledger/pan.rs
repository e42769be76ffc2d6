//! Card numbers are never stored: any free text of a payment or charge that holds something
//! looking like a primary account number (13 to 19 digits, spaces or dashes between them,
//! passing the Luhn check) is refused before anything is written.

/// Fewest digits of a card number.
const PAN_MIN_DIGITS: usize = 13;
/// Most digits of a card number.
const PAN_MAX_DIGITS: usize = 19;

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(*d);
            if !i.is_multiple_of(2) {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Whether `text` contains a run of digits of card-number length passing the Luhn check,
/// either written solid or with spaces or dashes between groups.
pub fn looks_like_pan(text: &str) -> bool {
    let mut grouped: Vec<Vec<u8>> = vec![vec![]];
    let mut solid: Vec<Vec<u8>> = vec![vec![]];
    for c in text.chars() {
        if let Some(d) = c.to_digit(10) {
            let d = d as u8;
            grouped.last_mut().into_iter().for_each(|r| r.push(d));
            solid.last_mut().into_iter().for_each(|r| r.push(d));
        } else {
            solid.push(vec![]);
            if c != ' ' && c != '-' {
                grouped.push(vec![]);
            }
        }
    }
    grouped
        .iter()
        .chain(solid.iter())
        .any(|run| (PAN_MIN_DIGITS..=PAN_MAX_DIGITS).contains(&run.len()) && luhn(run))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_recognised_in_any_layout() {
        assert!(looks_like_pan("4111111111111111"));
        assert!(looks_like_pan("card 4111 1111 1111 1111 exp 12/29"));
        assert!(looks_like_pan("5500-0000-0000-0004"));
        assert!(looks_like_pan("378282246310005"));
    }

    #[test]
    fn ordinary_references_pass() {
        assert!(!looks_like_pan("visa ending 1111"));
        assert!(!looks_like_pan("receipt 20270105-0042"));
        assert!(!looks_like_pan("4111111111111112")); // fails Luhn
        assert!(!looks_like_pan("EFT ref 123456789012")); // 12 digits
        assert!(!looks_like_pan(""));
    }
}
