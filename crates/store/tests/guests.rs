//! Guest profiles on a real SQLite file: the search index kept by every write (name with
//! accents, case, prefix and typos; e-mail; phone suffix; booking reference), ranking, merges
//! that resolve to the survivor, and an erasure that leaves no copy of the name in the store —
//! not in the records, the change log's earlier versions, the audit details or the bookings.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use innsync_core::guests::search::MatchKind;
use innsync_core::guests::ERASED_NAME;
use innsync_core::{Command, GuestInput, InitialStatus, Outcome, Record, RecordId, ServerCode};
use innsync_store::{Clock, ReadPool, WriteOutcome, Writer, WriterSettings, DB_FILE};

fn clock() -> Clock {
    common::fixed_clock("2026-11-23T08:00:00Z")
}

use common::d;

async fn open(dir: &std::path::Path) -> (Writer, ReadPool) {
    let (w, reads) = common::open_alone(dir, clock());
    for c in [
        common::property("KRL", "Kraal", None),
        common::room_type("KRL", "A", "A", 2),
        common::rate("KRL", "A", d("2026-11-01"), d("2027-12-01"), 15_000),
        common::room("KRL", "101", "A"),
        common::room("KRL", "102", "A"),
    ] {
        w.submit(c, "admin", None).await.unwrap();
    }
    (w, reads)
}

fn written(o: &WriteOutcome) -> Record {
    match o.outcome() {
        Outcome::Written { record, .. } => record.clone(),
        other => panic!("{other:?}"),
    }
}

async fn guest(w: &Writer, name: &str, email: Option<&str>, phone: Option<&str>) -> RecordId {
    let o = w
        .submit(
            Command::CreateGuest {
                name: name.into(),
                email: email.map(str::to_string),
                phone: phone.map(str::to_string),
            },
            "ann",
            None,
        )
        .await
        .unwrap();
    written(&o).meta().id.clone()
}

async fn book(w: &Writer, g: &RecordId, arrival: &str, departure: &str) -> RecordId {
    let o = w
        .submit(
            Command::CreateBooking {
                property: "KRL".into(),
                room_type: "A".into(),
                arrival: d(arrival),
                departure: d(departure),
                units: 1,
                guest: GuestInput::Existing(g.clone()),
                status: InitialStatus::Confirmed,
                hold_until: None,
                notes: Some("anniversary".into()),
                pricing: None,
            },
            "ann",
            None,
        )
        .await
        .unwrap();
    written(&o).meta().id.clone()
}

fn found(reads: &ReadPool, q: &str) -> Vec<(String, MatchKind, &'static str)> {
    reads
        .search_guests(q, 10)
        .unwrap()
        .into_iter()
        .map(|h| (h.guest.meta.id.to_string(), h.matched, h.by))
        .collect()
}

#[tokio::test]
async fn guests_are_found_by_name_email_phone_and_reference_best_first() {
    let dir = tempfile::tempdir().unwrap();
    let (w, reads) = open(dir.path()).await;
    let ada = guest(
        &w,
        "Ada Lovelace",
        Some("Ada@Example.com"),
        Some("+44 20 7946 0018"),
    )
    .await;
    let zoe = guest(&w, "Zoë Bell", None, None).await;
    let lov = guest(&w, "Lovell Grant", None, None).await;
    let other = guest(&w, "Ada Lovelace-King", None, None).await;
    let b = book(&w, &other, "2026-12-01", "2026-12-03").await;
    let (a, z, l, o) = (
        ada.to_string(),
        zoe.to_string(),
        lov.to_string(),
        other.to_string(),
    );

    for q in ["zoe", "ZOE", "Zoë", "zoë bell"] {
        assert_eq!(
            found(&reads, q),
            vec![(z.clone(), MatchKind::Exact, "name")],
            "{q}"
        );
    }
    assert_eq!(
        found(&reads, "ada@EXAMPLE.com"),
        vec![(a.clone(), MatchKind::Exact, "email")]
    );
    assert_eq!(
        found(&reads, "7946 0018"),
        vec![(a.clone(), MatchKind::Prefix, "phone")]
    );
    assert_eq!(
        found(&reads, b.as_str()),
        vec![(o.clone(), MatchKind::Exact, "reference")]
    );
    // The reservation number the guest quotes on the phone finds the guest too (with or
    // without a leading '#'); a number nobody was given finds nobody.
    let number = reads
        .booking(b.as_str())
        .unwrap()
        .unwrap()
        .reservation_number
        .expect("every booking gets a reservation number")
        .to_string();
    for q in [number.clone(), format!("#{number}")] {
        assert_eq!(
            found(&reads, &q),
            vec![(o.clone(), MatchKind::Exact, "reservation_number")],
            "{q}"
        );
    }
    assert!(found(&reads, "999999999").is_empty());
    // A misspelt name still finds her, below nobody (no exact or prefix match).
    let misspelt = found(&reads, "Lovelase");
    assert!(
        misspelt.contains(&(a.clone(), MatchKind::Fuzzy, "name")),
        "{misspelt:?}"
    );
    // Exact before prefix; among equals the guest with the latest stay first.
    let lovel = found(&reads, "lovel");
    assert_eq!(lovel.len(), 3, "{lovel:?}");
    assert!(lovel.iter().all(|h| h.1 == MatchKind::Prefix));
    assert_eq!(lovel[0].0, o, "the one with a stay ranks first");
    // Every word exact is an exact match; the guest with a stay comes first.
    let ada_hits = found(&reads, "ada lovelace");
    assert_eq!(
        ada_hits,
        vec![
            (o.clone(), MatchKind::Exact, "name"),
            (a.clone(), MatchKind::Exact, "name")
        ]
    );
    assert!(found(&reads, "nobody").is_empty());
    assert!(!found(&reads, "lovel")
        .iter()
        .any(|h| h.0 == l && h.1 == MatchKind::Exact));
}

#[tokio::test]
async fn a_merged_guest_resolves_to_the_survivor_and_leaves_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let (w, reads) = open(dir.path()).await;
    let keep = guest(&w, "Ada Lovelace", None, None).await;
    let gone = guest(&w, "Ada Lovelace", Some("ada@example.com"), None).await;
    let b1 = book(&w, &keep, "2026-12-01", "2026-12-03").await;
    let b2 = book(&w, &gone, "2026-12-05", "2026-12-07").await;
    w.submit(
        Command::MergeGuests {
            survivor: keep.clone(),
            merged: gone.clone(),
            reason: None,
        },
        "ann",
        None,
    )
    .await
    .unwrap();
    let hits = found(&reads, "ada lovelace");
    assert_eq!(hits, vec![(keep.to_string(), MatchKind::Exact, "name")]);
    assert_eq!(
        found(&reads, "ada@example.com"),
        vec![(keep.to_string(), MatchKind::Exact, "email")],
        "the survivor took the e-mail over"
    );
    let g = reads.resolved_guest(&gone).unwrap().unwrap();
    assert_eq!(g.meta.id, keep);
    let stays: Vec<RecordId> = reads
        .guest_stays(&g)
        .unwrap()
        .into_iter()
        .map(|b| b.meta.id)
        .collect();
    assert_eq!(
        stays,
        vec![b2.clone(), b1.clone()],
        "newest first, both profiles' stays"
    );
    let later = reads.booking(b2.as_str()).unwrap().unwrap();
    assert!(reads.is_returning(&later).unwrap());
    let first = reads.booking(b1.as_str()).unwrap().unwrap();
    assert!(!reads.is_returning(&first).unwrap());
    reads.check_invariants().unwrap();
}

#[tokio::test]
async fn an_erased_guest_leaves_no_copy_of_the_name_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (w, reads) = open(dir.path()).await;
    let g = guest(
        &w,
        "Ada Lovelace",
        Some("ada@example.com"),
        Some("+44 1234 5678"),
    )
    .await;
    let b = book(&w, &g, "2026-12-01", "2026-12-03").await;
    w.submit(
        Command::UpdateGuest {
            id: g.clone(),
            patch: innsync_core::GuestPatch {
                preferences: Some("feather-free pillows".into()),
                ..Default::default()
            },
            if_match: None,
        },
        "ann",
        None,
    )
    .await
    .unwrap();
    w.submit(
        Command::EraseGuest {
            id: g.clone(),
            reason: Some("request by e-mail".into()),
        },
        "ann",
        None,
    )
    .await
    .unwrap();
    let booking = reads.booking(b.as_str()).unwrap().unwrap();
    assert_eq!(booking.guest_name, ERASED_NAME);
    assert_eq!(booking.price.map(|p| p.amount), Some(30_000), "money kept");
    // A line added afterwards (a new booking the writer creates, so its apply looks no guest
    // up) carries the anonymised name too.
    let added = w
        .submit(
            Command::AddReservationLine {
                reservation: b.clone(),
                line: innsync_core::command::ReservationLine {
                    room_type: "A".into(),
                    arrival: None,
                    departure: None,
                    units: 1,
                    pricing: None,
                },
            },
            "ann",
            None,
        )
        .await
        .unwrap();
    let line = written(&added).meta().id.clone();
    let line = reads.booking(line.as_str()).unwrap().unwrap();
    assert_eq!(line.guest_name, ERASED_NAME);
    assert_eq!(line.guest_id, g);
    assert!(found(&reads, "lovelace").is_empty());
    assert!(found(&reads, "ada@example.com").is_empty());
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    for secret in [
        "Lovelace",
        "ada@example.com",
        "5678",
        "feather",
        "anniversary",
    ] {
        let n: i64 = conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM changes WHERE instr(body, ?1) > 0 OR instr(detail, ?1) > 0)
                      + (SELECT COUNT(*) FROM bookings WHERE instr(guest_name, ?1) > 0)",
                [secret],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 0, "{secret} is still stored");
    }
    let indexed: i64 = conn
        .query_row(
            "SELECT (SELECT COUNT(*) FROM guest_tokens WHERE token = 'lovelace')
                  + (SELECT COUNT(*) FROM name_words WHERE word = 'lovelace')
                  + (SELECT COUNT(*) FROM name_word_trigrams WHERE word = 'lovelace')
                  + (SELECT COUNT(*) FROM guest_search WHERE instr(name, 'lovelace') > 0)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexed, 0, "the search index keeps the erased name");
    reads.check_invariants().unwrap();
    // Reopened, the same state: the redaction is what is stored.
    let digest = reads.digest().unwrap();
    drop(w);
    drop(reads);
    let (_w, reads) = Writer::open(
        dir.path(),
        ServerCode::parse("WB").unwrap(),
        clock(),
        WriterSettings::default(),
    )
    .unwrap();
    assert_eq!(reads.digest().unwrap(), digest);
}

/// A word every guest shares ("Guest") used to fill the prefix pass's bounded candidate list,
/// so the one guest with the rarer second word could be missed; the pass now takes the query
/// word the fewest guests share. A renamed guest is found by its new name only, and a word no
/// guest uses any more leaves the vocabulary.
#[tokio::test]
async fn a_common_word_hides_no_guest_and_a_rename_moves_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let (w, reads) = open(dir.path()).await;
    let crowd = innsync_store::guests::MAX_CANDIDATES + 20;
    for i in 0..crowd {
        guest(&w, &format!("Guest {i}"), None, None).await;
    }
    let g = guest(&w, "Guest Zanzibar", None, None).await;
    let hits = found(&reads, "guest zanzibar");
    assert_eq!(
        hits.first().map(|h| h.0.as_str()),
        Some(g.as_str()),
        "{hits:?}"
    );
    assert_eq!(hits[0].1, MatchKind::Exact);
    let hits = found(&reads, "Guest Zanzibra");
    assert_eq!(
        hits.first().map(|h| h.0.as_str()),
        Some(g.as_str()),
        "{hits:?}"
    );
    assert_eq!(hits[0].1, MatchKind::Fuzzy);
    w.submit(
        Command::UpdateGuest {
            id: g.clone(),
            patch: innsync_core::GuestPatch {
                name: Some("Kwame Mensah".into()),
                ..Default::default()
            },
            if_match: None,
        },
        "ann",
        None,
    )
    .await
    .unwrap();
    assert!(found(&reads, "zanzibar").is_empty());
    assert_eq!(
        found(&reads, "mensah").first().map(|h| h.0.as_str()),
        Some(g.as_str())
    );
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    let left: i64 = conn
        .query_row(
            "SELECT (SELECT COUNT(*) FROM name_words WHERE word = 'zanzibar')
                  + (SELECT COUNT(*) FROM name_word_trigrams WHERE word = 'zanzibar')
                  + (SELECT COUNT(*) FROM guest_tokens WHERE token = 'zanzibar')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
    let shared: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM name_words WHERE word = 'guest'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(shared, 1, "a word others still use stays");
    reads.check_invariants().unwrap();
}

/// The e-mail and phone indexes hold only guests that gave one (most desk and phone bookings
/// give neither, and a NULL entry is never searched); the searches must still seek them.
#[tokio::test]
async fn contact_searches_seek_partial_indexes_that_skip_guests_without_contacts() {
    let dir = tempfile::tempdir().unwrap();
    let (w, _reads) = open(dir.path()).await;
    guest(
        &w,
        "Ada Lovelace",
        Some("ada@example.com"),
        Some("+44 20 7946 0018"),
    )
    .await;
    guest(&w, "Zoë Bell", None, None).await;
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    let plan = |sql: &str| -> String {
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = st.query_map([], |r| r.get::<_, String>(3)).unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
    };
    let email = plan("SELECT guest_id FROM guest_search WHERE email = 'a@b.c' LIMIT 5");
    assert!(email.contains("guest_search_by_email"), "{email}");
    let phone = plan(
        "SELECT guest_id, phone_rev FROM guest_search
         WHERE phone_rev >= '81' AND phone_rev < '81' || ':' LIMIT 5",
    );
    assert!(phone.contains("guest_search_by_phone"), "{phone}");
    let partial: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM pragma_index_list('guest_search') WHERE partial = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(partial, 2, "both contact indexes are partial");
}
