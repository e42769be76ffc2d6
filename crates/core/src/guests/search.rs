//! How a guest is found: names normalised (transliterated to ASCII, lower case, words only) so
//! that `Zoë`, `ZOE` and `zoe` are one name, e-mail and phone keys, and the match ranks
//! (exact, prefix, fuzzy within a small edit distance). Plain functions, shared by the store's
//! search index and its ranking, so both agree on what matches.

use std::collections::BTreeSet;

/// Most words of a name that are indexed and compared: a longer name is cut there.
pub const MAX_NAME_TOKENS: usize = 8;
/// Shortest word a fuzzy match is tried for: shorter words match exactly or by prefix only.
pub const MIN_FUZZY_LEN: usize = 4;
/// Largest edit distance a fuzzy match accepts (for words of 7 letters or more; 1 below).
pub const MAX_EDITS: usize = 2;

/// A name as it is compared: transliterated to ASCII (`ë` → `e`, `ß` → `ss`), lower case,
/// every run of non-alphanumerics one space, trimmed. Idempotent.
pub fn normalise_name(name: &str) -> String {
    let ascii = deunicode::deunicode(name);
    let mut out = String::with_capacity(ascii.len());
    let mut gap = false;
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.push(c.to_ascii_lowercase());
        } else {
            gap = true;
        }
    }
    out
}

/// The distinct words of a normalised name, at most [`MAX_NAME_TOKENS`], in order of first
/// appearance.
pub fn name_tokens(normalised: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    normalised
        .split(' ')
        .filter(|t| !t.is_empty() && seen.insert(*t))
        .take(MAX_NAME_TOKENS)
        .map(str::to_string)
        .collect()
}

/// The trigrams of a word padded with `^` and `$`, the fuzzy index's keys: a word with one or
/// two typos still shares most of them with the right one.
pub fn trigrams(token: &str) -> BTreeSet<String> {
    let padded: Vec<char> = format!("^{token}$").chars().collect();
    padded
        .windows(3)
        .map(|w| w.iter().collect::<String>())
        .collect()
}

/// The e-mail as compared: trimmed, lower case (exact match only).
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The phone as compared: its digits only.
pub fn phone_digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// The phone digits reversed: a suffix match (`…4567` finds `+27 21 555 4567`) becomes a
/// prefix match an index can answer.
pub fn phone_suffix_key(phone: &str) -> String {
    phone_digits(phone).chars().rev().collect()
}

/// Whether a query looks like a phone number: only phone characters and at least four digits.
pub fn is_phone_query(q: &str) -> bool {
    q.chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        && phone_digits(q).len() >= 4
}

/// How well a guest matched, best first: the order results are ranked in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchKind {
    /// The e-mail, phone, reference or every word of the name matched exactly.
    Exact,
    /// Every word matched a name word's beginning (or exactly).
    Prefix,
    /// Some word matched only within the edit distance.
    Fuzzy,
}

impl MatchKind {
    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Prefix => "prefix",
            Self::Fuzzy => "fuzzy",
        }
    }
}

/// The edits a word of `len` letters may be off by and still match fuzzily.
pub fn edit_budget(len: usize) -> usize {
    match len {
        l if l < MIN_FUZZY_LEN => 0,
        l if l < 7 => 1,
        _ => MAX_EDITS,
    }
}

/// The Levenshtein distance between `a` and `b` if it is at most `max`, else `None`; stops
/// early once every cell of a row is beyond `max`.
pub fn edit_distance_within(a: &str, b: &str, max: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        if cur.iter().all(|&d| d > max) {
            return None;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[b.len()];
    (d <= max).then_some(d)
}

/// How one query word matches one name word, if it does.
fn word_match(q: &str, w: &str) -> Option<MatchKind> {
    if q == w {
        Some(MatchKind::Exact)
    } else if w.starts_with(q) {
        Some(MatchKind::Prefix)
    } else {
        edit_distance_within(q, w, edit_budget(q.len())).map(|_| MatchKind::Fuzzy)
    }
}

/// How a normalised query matches a normalised name: every query word must match a distinct
/// name word; the match is as good as its worst word. `None` when some word matches nothing.
pub fn name_match(query: &str, name: &str) -> Option<MatchKind> {
    let q = name_tokens(query);
    if q.is_empty() {
        return None;
    }
    let words = name_tokens(name);
    let mut used = vec![false; words.len()];
    let mut worst = MatchKind::Exact;
    for qt in &q {
        let best = words
            .iter()
            .enumerate()
            .filter(|(i, _)| !used[*i])
            .filter_map(|(i, w)| word_match(qt, w).map(|k| (k, i)))
            .min()?;
        used[best.1] = true;
        worst = worst.max(best.0);
    }
    Some(worst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accents_and_case_are_one_name() {
        assert_eq!(normalise_name("Zoë"), "zoe");
        assert_eq!(normalise_name("ZOE"), "zoe");
        assert_eq!(normalise_name("  José  María-Núñez "), "jose maria nunez");
        assert_eq!(normalise_name("Strauß"), "strauss");
        for q in ["Zoe", "zoe", "ZOË", "zoë"] {
            assert_eq!(
                name_match(&normalise_name(q), &normalise_name("Zoë Smith")),
                Some(MatchKind::Exact),
                "{q}"
            );
        }
    }

    #[test]
    fn a_misspelt_name_matches_fuzzily_and_ranks_below_prefix() {
        let name = normalise_name("Ada Lovelace");
        assert_eq!(name_match("lovelase", &name), Some(MatchKind::Fuzzy));
        assert_eq!(name_match("lovel", &name), Some(MatchKind::Prefix));
        assert_eq!(name_match("ada lovelace", &name), Some(MatchKind::Exact));
        assert_eq!(name_match("lovelace ada", &name), Some(MatchKind::Exact));
        assert_eq!(name_match("babbage", &name), None);
        // Short words are never fuzzy: "ado" is not "ada".
        assert_eq!(name_match("ado", &name), None);
        assert!(MatchKind::Exact < MatchKind::Prefix && MatchKind::Prefix < MatchKind::Fuzzy);
    }

    #[test]
    fn one_name_word_answers_one_query_word() {
        assert_eq!(name_match("ann smith", "ann"), None);
        assert_eq!(
            name_match("ann anna", "anna smith"),
            None,
            "one word, one match"
        );
        assert_eq!(
            name_match("ann anna", "anna annabel"),
            Some(MatchKind::Prefix)
        );
    }

    #[test]
    fn phone_and_email_keys() {
        assert_eq!(phone_digits("+27 (21) 555-4567"), "27215554567");
        assert!(phone_suffix_key("+27 21 555 4567").starts_with(&phone_suffix_key("4567")));
        assert!(is_phone_query("555 4567"));
        assert!(!is_phone_query("123"));
        assert!(!is_phone_query("ada"));
        assert_eq!(email_key(" Ada@Example.COM "), "ada@example.com");
    }

    #[test]
    fn edit_distance_is_exact_within_the_bound() {
        assert_eq!(edit_distance_within("lovelase", "lovelace", 2), Some(1));
        assert_eq!(edit_distance_within("kitten", "sitting", 3), Some(3));
        assert_eq!(edit_distance_within("kitten", "sitting", 2), None);
        assert_eq!(edit_distance_within("", "ab", 2), Some(2));
    }

    fn reference_distance(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
        for (i, row) in d.iter_mut().enumerate() {
            row[0] = i;
        }
        for (j, cell) in d[0].iter_mut().enumerate() {
            *cell = j;
        }
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                d[i][j] = (d[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1]))
                    .min(d[i - 1][j] + 1)
                    .min(d[i][j - 1] + 1);
            }
        }
        d[a.len()][b.len()]
    }

    proptest! {
        #[test]
        fn normalising_is_idempotent(s in "\\PC{0,40}") {
            let once = normalise_name(&s);
            prop_assert_eq!(normalise_name(&once), once.clone());
            prop_assert!(once.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b' '));
        }

        #[test]
        fn case_never_matters(s in "[a-zA-Zàéëïöüñç ]{1,30}") {
            prop_assert_eq!(normalise_name(&s.to_uppercase()), normalise_name(&s.to_lowercase()));
        }

        #[test]
        fn a_name_always_finds_itself_exactly(s in "[a-zA-Zàéëö]{1,12}( [a-zA-Zàéëö]{1,12}){0,3}") {
            let n = normalise_name(&s);
            prop_assert_eq!(name_match(&n, &n), Some(MatchKind::Exact));
        }

        #[test]
        fn bounded_distance_agrees_with_the_full_table(a in "[a-d]{0,9}", b in "[a-d]{0,9}", max in 0usize..4) {
            let full = reference_distance(&a, &b);
            let want = (full <= max).then_some(full);
            prop_assert_eq!(edit_distance_within(&a, &b, max), want);
        }

        #[test]
        fn one_typo_in_a_long_word_still_matches(w in "[a-z]{7,12}", at in 0usize..7, c in "[a-z]") {
            let mut typo: Vec<char> = w.chars().collect();
            typo[at] = c.chars().next().unwrap_or('x');
            let typo: String = typo.into_iter().collect();
            prop_assert!(name_match(&typo, &w).is_some());
        }
    }
}
