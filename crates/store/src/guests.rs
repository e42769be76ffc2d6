//! Guest profiles in the store: the search index derived from guest records (normalised
//! names by word and trigram, e-mail, reversed phone digits), the search itself with its
//! ranking, a guest's stays, and the local redaction an erasure asks of every server.
//!
//! Every table here is derived from records by [`on_write`] and [`unindex`], called where a
//! record's current state changes ([`crate::apply::write_state`], `remove_record`), so a
//! replica builds the same index as the writer.

use crate::error::StoreError;
use crate::view::{load_record, parse_night};
use chrono::NaiveDate;
use innsync_core::guests::search::{
    email_key, is_phone_query, name_match, name_tokens, normalise_name, phone_suffix_key, trigrams,
    MatchKind, MIN_FUZZY_LEN,
};
use innsync_core::guests::{ERASED_NAME, MAX_MERGE_HOPS, MAX_SEARCH_RESULTS};
use innsync_core::{Booking, Guest, Record, RecordId, RecordKind};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use std::collections::{BTreeMap, BTreeSet};

/// Most guests one query word brings in for ranking (by prefix, then by typo): a word shared
/// by more guests than this ranks the first ones only — unless another query word is rarer.
pub const MAX_CANDIDATES: usize = 500;
/// Most vocabulary words the typo pass compares with a query word by edit distance: those
/// sharing the most trigrams with it.
pub const MAX_FUZZY_WORDS: usize = 200;
/// Query words the name pass looks at (a longer query is cut).
pub const MAX_QUERY_WORDS: usize = 8;
/// Most stays a guest's history lists (newest first).
pub const MAX_HISTORY: usize = 500;

/// Keeps a guest's index rows in step with the state just written (`old` is the state it
/// replaces), and redacts what an erasure asks. Called by [`crate::apply::write_state`], the
/// one place a record's current state changes (local writes, replication, fencing reverts), so
/// the index follows the current state whichever path moved it. Works from the records in
/// hand: a new guest costs its inserts only, an edit that leaves the name, e-mail, phone and
/// erasure alone costs nothing.
pub(crate) fn on_write(
    conn: &Connection,
    g: &Guest,
    old: Option<&Record>,
) -> Result<(), StoreError> {
    let old = match old {
        Some(Record::Guest(o)) => Some(o),
        _ => None,
    };
    if old.is_some_and(|o| same_search_terms(o, g)) {
        return Ok(());
    }
    if let Some(o) = old {
        unindex(conn, o)?;
    }
    index(conn, g)?;
    if g.erased {
        redact_guest(conn, g)?;
    }
    Ok(())
}

/// Whether two states of a guest index alike.
fn same_search_terms(a: &Guest, b: &Guest) -> bool {
    a.name == b.name && a.email == b.email && a.phone == b.phone && a.erased == b.erased
}

/// Redacts a booking just written if its guest (or the guest it was merged into) is erased.
pub(crate) fn on_booking_write(conn: &Connection, b: &Booking) -> Result<(), StoreError> {
    // One indexed look-up for the usual live guest; a merged one is followed.
    let erased: Option<bool> = conn
        .prepare_cached("SELECT erased FROM guest_search WHERE guest_id = ?1")?
        .query_row([b.guest_id.as_str()], |r| r.get(0))
        .optional()?;
    let erased = match erased {
        Some(e) => e,
        None => resolve(conn, &b.guest_id)?.is_some_and(|g| g.erased),
    };
    if erased {
        redact_bookings(conn, std::slice::from_ref(&b.guest_id))?;
    }
    Ok(())
}

/// Takes out the index rows `g` (the guest's current state) put in: its search row by key,
/// and each of its name words' postings by (word, guest) — the table's own key, so no second
/// index by guest is kept on the write path. A word no guest uses any more leaves the
/// vocabulary too (an erased guest's rare surname must not stay behind).
pub(crate) fn unindex(conn: &Connection, g: &Guest) -> Result<(), StoreError> {
    let id = g.meta.id.as_str();
    conn.prepare_cached("DELETE FROM guest_search WHERE guest_id = ?1")?
        .execute([id])?;
    if g.erased {
        return Ok(());
    }
    let mut posting =
        conn.prepare_cached("DELETE FROM guest_tokens WHERE token = ?1 AND guest_id = ?2")?;
    let mut used = conn.prepare_cached("SELECT 1 FROM guest_tokens WHERE token = ?1 LIMIT 1")?;
    let mut word = conn.prepare_cached("DELETE FROM name_words WHERE word = ?1")?;
    let mut grams =
        conn.prepare_cached("DELETE FROM name_word_trigrams WHERE trigram = ?1 AND word = ?2")?;
    for t in name_tokens(&normalise_name(&g.name)) {
        posting.execute(params![t, id])?;
        if used.query_row([&t], |_| Ok(())).optional()?.is_none() && word.execute([&t])? > 0 {
            for g3 in trigrams(&t) {
                grams.execute(params![g3, t])?;
            }
        }
    }
    Ok(())
}

/// Puts in the index rows of `g`'s state: its search row (an erased guest keeps one with no
/// personal data, so its bookings are known to belong to an erased guest) and a posting per
/// name word. A word new to the vocabulary also gets its trigrams (for fuzzy search); names
/// repeat, so most guests add postings only.
fn index(conn: &Connection, g: &Guest) -> Result<(), StoreError> {
    let id = g.meta.id.as_str();
    if g.erased {
        conn.prepare_cached(
            "INSERT INTO guest_search (guest_id, name, email, phone_rev, erased)
             VALUES (?1, '', NULL, NULL, 1)",
        )?
        .execute([id])?;
        return Ok(());
    }
    let name = normalise_name(&g.name);
    let phone = g
        .phone
        .as_deref()
        .map(phone_suffix_key)
        .filter(|p| !p.is_empty());
    conn.prepare_cached(
        "INSERT INTO guest_search (guest_id, name, email, phone_rev, erased)
         VALUES (?1, ?2, ?3, ?4, 0)",
    )?
    .execute(params![id, name, g.email.as_deref().map(email_key), phone])?;
    let mut posting = conn
        .prepare_cached("INSERT OR IGNORE INTO guest_tokens (token, guest_id) VALUES (?1, ?2)")?;
    let mut word = conn.prepare_cached("INSERT OR IGNORE INTO name_words (word) VALUES (?1)")?;
    let mut grams = conn.prepare_cached(
        "INSERT OR IGNORE INTO name_word_trigrams (trigram, word) VALUES (?1, ?2)",
    )?;
    for t in name_tokens(&name) {
        posting.execute(params![t, id])?;
        if word.execute([&t])? > 0 {
            for g3 in trigrams(&t) {
                grams.execute(params![g3, t])?;
            }
        }
    }
    Ok(())
}

/// Builds the index from the guests already stored, once (for a file made before the index
/// existed); later every change keeps it.
pub(crate) fn build_index_once(conn: &Connection) -> Result<(), StoreError> {
    let built: Option<String> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = 'guest_search_built'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    if built.is_some() {
        return Ok(());
    }
    let tx = conn.unchecked_transaction()?;
    let guests: Vec<Guest> = {
        let mut st = tx.prepare("SELECT body FROM record_bodies WHERE kind = 'guest'")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = vec![];
        for body in rows {
            if let Record::Guest(g) = serde_json::from_str(&body?)? {
                out.push(g);
            }
        }
        out
    };
    for sql in [
        "DELETE FROM guest_search",
        "DELETE FROM guest_tokens",
        "DELETE FROM name_words",
        "DELETE FROM name_word_trigrams",
    ] {
        tx.execute(sql, [])?;
    }
    for g in &guests {
        index(&tx, g)?;
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('guest_search_built', '1')",
        [],
    )?;
    tx.commit()?;
    Ok(())
}

/// The guest an id leads to: itself, or the survivor its merge tombstone points at (following
/// at most [`MAX_MERGE_HOPS`] merges).
pub fn resolve(conn: &Connection, id: &RecordId) -> Result<Option<Guest>, StoreError> {
    let mut at = id.to_string();
    for _ in 0..=MAX_MERGE_HOPS {
        match load_record(conn, "guest", &at)? {
            Some(Record::Guest(g)) => return Ok(Some(g)),
            Some(_) => return Ok(None),
            None => {}
        }
        let key = Record::tombstone_key(RecordKind::Guest, &at);
        match load_record(conn, "tombstone", &key)? {
            Some(Record::Tombstone(t)) => match t.merged_into {
                Some(next) => at = next.to_string(),
                None => return Ok(None),
            },
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// The ids of the bookings that refer to exactly this guest id, at most `limit`, by id.
pub(crate) fn booking_ids(
    conn: &Connection,
    guest: &str,
    limit: usize,
) -> Result<Vec<RecordId>, StoreError> {
    let mut st =
        conn.prepare_cached("SELECT id FROM bookings WHERE guest_id = ?1 ORDER BY id LIMIT ?2")?;
    let rows = st.query_map(params![guest, limit as i64], |r| r.get::<_, String>(0))?;
    let mut out = vec![];
    for id in rows {
        out.push(RecordId::parse(&id?).map_err(StoreError::Corrupt)?);
    }
    Ok(out)
}

/// Every id a guest's bookings may carry: its own and those of the guests merged into it.
fn all_ids(g: &Guest) -> Vec<RecordId> {
    std::iter::once(g.meta.id.clone())
        .chain(g.merged.iter().cloned())
        .collect()
}

/// A guest's bookings (also those made for guests merged into it), newest arrival first, at
/// most [`MAX_HISTORY`].
pub fn stays(conn: &Connection, g: &Guest) -> Result<Vec<Booking>, StoreError> {
    let ids = all_ids(g);
    let marks = vec!["?"; ids.len()].join(",");
    let sql = format!(
        "SELECT c.body FROM bookings b JOIN records r ON r.kind = 'booking' AND r.key = b.id
         JOIN changes c ON c.origin = r.origin AND c.seq = r.seq
         WHERE b.guest_id IN ({marks}) ORDER BY b.arrival DESC, b.id LIMIT {MAX_HISTORY}"
    );
    let mut st = conn.prepare_cached(&sql)?;
    let rows = st.query_map(params_from_iter(ids.iter().map(RecordId::as_str)), |r| {
        r.get::<_, String>(0)
    })?;
    let mut out = vec![];
    for body in rows {
        if let Record::Booking(b) = serde_json::from_str(&body?)? {
            out.push(b);
        }
    }
    Ok(out)
}

/// The arrival of a guest's latest stay that was not cancelled or a no-show.
fn last_stay(conn: &Connection, g: &Guest) -> Result<Option<NaiveDate>, StoreError> {
    let ids = all_ids(g);
    let marks = vec!["?"; ids.len()].join(",");
    let sql = format!(
        "SELECT MAX(arrival) FROM bookings WHERE guest_id IN ({marks})
         AND status NOT IN ('cancelled', 'no_show')"
    );
    let night: Option<String> = conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(ids.iter().map(RecordId::as_str)), |r| {
            r.get(0)
        })?;
    night.as_deref().map(parse_night).transpose()
}

/// Whether the guest (or a guest merged into it) has a stay that ended by `before`, other
/// than `except`: a returning guest.
pub fn has_earlier_stay(
    conn: &Connection,
    g: &Guest,
    before: NaiveDate,
    except: &RecordId,
) -> Result<bool, StoreError> {
    let ids = all_ids(g);
    let marks = vec!["?"; ids.len()].join(",");
    let sql = format!(
        "SELECT 1 FROM bookings WHERE guest_id IN ({marks}) AND id != ? AND departure <= ?
         AND status NOT IN ('cancelled', 'no_show') LIMIT 1"
    );
    let mut p: Vec<String> = ids.iter().map(RecordId::to_string).collect();
    p.push(except.to_string());
    p.push(crate::view::night_text(before));
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(p.iter()), |_| Ok(()))
        .optional()?
        .is_some())
}

/// What a guest search found: the guest, how well and by what it matched, and the arrival of
/// its latest stay (the second ranking key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestHit {
    /// The guest (a survivor, never a merged one).
    pub guest: Guest,
    /// How well.
    pub matched: MatchKind,
    /// By what: `name`, `email`, `phone`, `reference` or `reservation_number`.
    pub by: &'static str,
    /// Latest stay that was not cancelled.
    pub last_stay: Option<NaiveDate>,
}

/// The guests a reservation number (the number a guest quotes on the phone, one per
/// reservation) leads to: the guests of every booking that was ever given it, found through the
/// change log's reservation-number index. Anything but digits finds nothing.
pub fn guests_by_reservation_number(
    conn: &Connection,
    number: &str,
) -> Result<Vec<RecordId>, StoreError> {
    let digits = number.trim().trim_start_matches('#');
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(vec![]);
    }
    let Ok(n) = digits.parse::<i64>() else {
        return Ok(vec![]);
    };
    let mut st = conn.prepare_cached(
        "SELECT DISTINCT json_extract(r.body, '$.guest_id') FROM changes c
           CROSS JOIN record_bodies r ON r.kind = 'booking' AND r.key = c.record_id
         WHERE c.reservation_number = ?1
         LIMIT ?2",
    )?;
    let mut out = Vec::new();
    for id in st.query_map(params![n, MAX_SEARCH_RESULTS as i64], |r| {
        r.get::<_, Option<String>>(0)
    })? {
        if let Some(id) = id?.and_then(|g| RecordId::parse(&g).ok()) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Finds guests by booking reference, e-mail (exact, any case), phone (digits, suffix) or name
/// (accent- and case-insensitive; exact, prefix or fuzzy), ranked exact > prefix > fuzzy, then
/// latest stay first; at most `limit` (≤ [`MAX_SEARCH_RESULTS`]). Exact and prefix matches are
/// answered from indexes; the fuzzy pass looks at most at [`MAX_FUZZY_WORDS`] vocabulary words
/// and [`MAX_CANDIDATES`] guests per word.
#[allow(
    clippy::too_many_lines,
    reason = "one read in one transaction, its SQL and the answer's shape side by side; split when it next grows"
)]
pub fn search(conn: &Connection, q: &str, limit: usize) -> Result<Vec<GuestHit>, StoreError> {
    let q = q.trim();
    let limit = limit.clamp(1, MAX_SEARCH_RESULTS);
    let mut found: BTreeMap<String, (MatchKind, &'static str)> = BTreeMap::new();
    let mut note = |id: String, kind: MatchKind, by: &'static str| {
        let e = found.entry(id).or_insert((kind, by));
        if kind < e.0 {
            *e = (kind, by);
        }
    };
    // A booking reference, or a guest id.
    if let Ok(id) = RecordId::parse(q) {
        let gid: Option<String> = conn
            .prepare_cached("SELECT guest_id FROM bookings WHERE id = ?1")?
            .query_row([id.as_str()], |r| r.get(0))
            .optional()?
            .flatten();
        for (gid, by) in [(gid, "reference"), (Some(id.to_string()), "id")] {
            if let Some(gid) = gid.and_then(|g| RecordId::parse(&g).ok()) {
                if let Some(g) = resolve(conn, &gid)? {
                    note(g.meta.id.to_string(), MatchKind::Exact, by);
                }
            }
        }
    }
    for gid in guests_by_reservation_number(conn, q)? {
        if let Some(g) = resolve(conn, &gid)? {
            note(
                g.meta.id.to_string(),
                MatchKind::Exact,
                "reservation_number",
            );
        }
    }
    if q.contains('@') {
        let mut st =
            conn.prepare_cached("SELECT guest_id FROM guest_search WHERE email = ?1 LIMIT ?2")?;
        for id in st.query_map(params![email_key(q), MAX_SEARCH_RESULTS as i64], |r| {
            r.get::<_, String>(0)
        })? {
            note(id?, MatchKind::Exact, "email");
        }
    }
    if is_phone_query(q) {
        let key = phone_suffix_key(q);
        let mut st = conn.prepare_cached(
            "SELECT guest_id, phone_rev FROM guest_search
             WHERE phone_rev >= ?1 AND phone_rev < ?1 || ':' LIMIT ?2",
        )?;
        for row in st.query_map(params![key, MAX_CANDIDATES as i64], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })? {
            let (id, rev) = row?;
            let kind = if rev == key {
                MatchKind::Exact
            } else {
                MatchKind::Prefix
            };
            note(id, kind, "phone");
        }
    }
    let name = normalise_name(q);
    let words = name_tokens(&name);
    if !words.is_empty() && !q.contains('@') {
        let candidates = name_candidates(conn, &words)?;
        let mut st = conn
            .prepare_cached("SELECT name FROM guest_search WHERE guest_id = ?1 AND erased = 0")?;
        for id in candidates {
            let stored: Option<String> = st.query_row([&id], |r| r.get(0)).optional()?;
            if let Some(kind) = stored.and_then(|n| name_match(&name, &n)) {
                note(id, kind, "name");
            }
        }
    }
    let mut hits = vec![];
    for (id, (matched, by)) in found {
        let Some(Record::Guest(guest)) = load_record(conn, "guest", &id)? else {
            continue;
        };
        if guest.erased {
            continue;
        }
        let last_stay = last_stay(conn, &guest)?;
        hits.push(GuestHit {
            guest,
            matched,
            by,
            last_stay,
        });
    }
    hits.sort_by(|a, b| {
        a.matched
            .cmp(&b.matched)
            .then(b.last_stay.cmp(&a.last_stay))
            .then(a.guest.name.cmp(&b.guest.name))
            .then(a.guest.meta.id.as_str().cmp(b.guest.meta.id.as_str()))
    });
    hits.truncate(limit);
    Ok(hits)
}

/// The guests that may match every query word: a guest matching them all is among each
/// word's candidates, so the smallest word's candidates are enough. Each word's read is
/// bounded ([`MAX_CANDIDATES`] + 1 guests), so a common word ("Guest", "Smith") beside a rare
/// one costs a bounded read, whatever the number of guests.
fn name_candidates(conn: &Connection, words: &[String]) -> Result<BTreeSet<String>, StoreError> {
    let mut best: Option<BTreeSet<String>> = None;
    for w in words.iter().take(MAX_QUERY_WORDS) {
        let ids = word_candidates(conn, w)?;
        if best.as_ref().is_none_or(|b| ids.len() < b.len()) {
            best = Some(ids);
        }
    }
    Ok(best.unwrap_or_default())
}

/// The guests one query word may match: those with a name word it starts, then (for a word
/// long enough to forgive typos) those with a vocabulary word within its edit budget — the
/// words sharing the most trigrams with it, at most [`MAX_FUZZY_WORDS`] compared. The
/// vocabulary grows with distinct names, not with guests.
fn word_candidates(conn: &Connection, w: &str) -> Result<BTreeSet<String>, StoreError> {
    let cap = MAX_CANDIDATES as i64 + 1;
    let mut out: BTreeSet<String> = conn
        .prepare_cached(
            "SELECT guest_id FROM guest_tokens WHERE token >= ?1 AND token < ?1 || '~' LIMIT ?2",
        )?
        .query_map(params![w, cap], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    if w.len() < MIN_FUZZY_LEN {
        return Ok(out);
    }
    let grams: Vec<String> = trigrams(w).into_iter().collect();
    let marks = vec!["?"; grams.len()].join(",");
    let sql = format!(
        "SELECT word FROM name_word_trigrams WHERE trigram IN ({marks})
         GROUP BY word ORDER BY COUNT(*) DESC, word LIMIT {MAX_FUZZY_WORDS}"
    );
    let near: Vec<String> = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(grams.iter()), |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    let mut postings =
        conn.prepare_cached("SELECT guest_id FROM guest_tokens WHERE token = ?1 LIMIT ?2")?;
    for word in near
        .iter()
        .filter(|n| !n.starts_with(w) && name_match(w, n).is_some())
    {
        let room = cap - out.len() as i64;
        if room <= 0 {
            break;
        }
        for id in postings.query_map(params![word, room], |r| r.get::<_, String>(0))? {
            out.insert(id?);
        }
    }
    Ok(out)
}

/// Removes an erased guest's personal data from everything this server keeps besides the
/// current record: earlier versions in the change log, audit details, and its bookings.
fn redact_guest(conn: &Connection, g: &Guest) -> Result<(), StoreError> {
    let ids = all_ids(g);
    let marks = vec!["?"; ids.len()].join(",");
    // The names it was known by, to take out of audit details.
    let mut names: Vec<String> = {
        let sql = format!(
            "SELECT DISTINCT json_extract(body, '$.name') FROM changes
             WHERE kind = 'guest' AND record_id IN ({marks})"
        );
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map(params_from_iter(ids.iter().map(RecordId::as_str)), |r| {
            r.get::<_, Option<String>>(0)
        })?;
        let mut v = vec![];
        for n in rows {
            v.extend(n?);
        }
        v
    };
    names.retain(|n| n != ERASED_NAME && !n.is_empty());
    let sql = format!(
        "UPDATE changes SET body = json_remove(json_set(body, '$.name', ?1, '$.email', NULL,
            '$.phone', NULL), '$.preferences', '$.notes')
         WHERE kind = 'guest' AND record_id IN ({marks})
           AND (json_extract(body, '$.erased') IS NOT 1)"
    );
    let mut p: Vec<String> = vec![ERASED_NAME.to_string()];
    p.extend(ids.iter().map(RecordId::to_string));
    conn.prepare_cached(&sql)?
        .execute(params_from_iter(p.iter()))?;
    for n in &names {
        let sql = format!(
            "UPDATE changes SET detail = replace(detail, ?1, ?2)
             WHERE record_id IN ({marks}) AND instr(detail, ?1) > 0"
        );
        let mut p = vec![n.clone(), ERASED_NAME.to_string()];
        p.extend(ids.iter().map(RecordId::to_string));
        conn.prepare_cached(&sql)?
            .execute(params_from_iter(p.iter()))?;
    }
    redact_bookings_named(conn, &ids, &names)
}

/// Anonymises, in place, every stored version of the bookings of these guest ids that still
/// carries a name or notes, with their audit details and PMS messages.
fn redact_bookings(conn: &Connection, guest_ids: &[RecordId]) -> Result<(), StoreError> {
    redact_bookings_named(conn, guest_ids, &[])
}

fn redact_bookings_named(
    conn: &Connection,
    guest_ids: &[RecordId],
    names: &[String],
) -> Result<(), StoreError> {
    let marks = vec!["?"; guest_ids.len()].join(",");
    let bookings: Vec<(String, String)> = {
        let sql = format!("SELECT id, guest_name FROM bookings WHERE guest_id IN ({marks})");
        let mut st = conn.prepare_cached(&sql)?;
        let rows = st.query_map(
            params_from_iter(guest_ids.iter().map(RecordId::as_str)),
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut v = vec![];
        for row in rows {
            v.push(row?);
        }
        v
    };
    for (id, name) in bookings {
        conn.prepare_cached(
            "UPDATE changes SET body = json_set(body, '$.guest_name', ?2, '$.notes', NULL)
             WHERE kind = 'booking' AND record_id = ?1
               AND (json_extract(body, '$.guest_name') != ?2
                    OR json_extract(body, '$.notes') IS NOT NULL)",
        )?
        .execute(params![id, ERASED_NAME])?;
        let mut known: Vec<&str> = names.iter().map(String::as_str).collect();
        if name != ERASED_NAME {
            known.push(&name);
        }
        for n in known.iter().filter(|n| !n.is_empty()) {
            conn.prepare_cached(
                "UPDATE changes SET detail = replace(detail, ?2, ?3)
                 WHERE record_id = ?1 AND instr(detail, ?2) > 0",
            )?
            .execute(params![id, n, ERASED_NAME])?;
        }
        conn.prepare_cached("UPDATE bookings SET guest_name = ?2 WHERE id = ?1")?
            .execute(params![id, ERASED_NAME])?;
        conn.prepare_cached(
            "UPDATE pms_outbox SET guest_name = ?2 WHERE booking = ?1 AND guest_name IS NOT NULL",
        )?
        .execute(params![id, ERASED_NAME])?;
    }
    Ok(())
}

impl crate::read::ReadPool {
    /// Guests matching `q`, best first (see [`search`]).
    pub fn search_guests(&self, q: &str, limit: usize) -> Result<Vec<GuestHit>, StoreError> {
        self.with(|c| search(c, q, limit))
    }

    /// The guest an id leads to, following merges (see [`resolve`]).
    pub fn resolved_guest(&self, id: &RecordId) -> Result<Option<Guest>, StoreError> {
        self.with(|c| resolve(c, id))
    }

    /// A guest's stays, newest first (see [`stays`]).
    pub fn guest_stays(&self, g: &Guest) -> Result<Vec<Booking>, StoreError> {
        self.with(|c| stays(c, g))
    }

    /// Whether a booking's guest had an earlier stay (see [`has_earlier_stay`]).
    pub fn is_returning(&self, b: &Booking) -> Result<bool, StoreError> {
        self.with(|c| match resolve(c, &b.guest_id)? {
            Some(g) => has_earlier_stay(c, &g, b.arrival, &b.meta.id),
            None => Ok(false),
        })
    }
}
