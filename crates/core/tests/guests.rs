//! Guest profiles decided by the core over the model: a booking refers to an existing guest
//! (also a merged one, through its tombstone), edits and merges only where both are owned, and
//! erasure anonymises the bookings each server writes — the owner's at once, the others' when
//! they apply the erased guest. Every refusal writes nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use chrono::{DateTime, Days, NaiveDate, Utc};
use innsync_core::guests::ERASED_NAME;
use innsync_core::ids::CounterIds;
use innsync_core::model::MemState;
use innsync_core::record::RecordKind;
use innsync_core::{
    Authority, Command, DomainError, Guest, GuestInput, GuestPatch, InitialStatus, Outcome, Record,
    RecordId, ServerCode, StateView,
};

struct World {
    state: MemState,
    servers: Vec<ServerCode>,
    ids: Vec<CounterIds>,
    now: DateTime<Utc>,
    bookings: Vec<RecordId>,
}

const WB: usize = 0;
const PA: usize = 1;

impl World {
    fn new() -> Self {
        let servers = common::servers(&["WB", "PA"]);
        let mut w = World {
            state: MemState::default(),
            ids: common::counters(&servers),
            servers,
            now: "2026-12-01T08:00:00Z".parse().unwrap(),
            bookings: vec![],
        };
        for c in [
            common::property("KRL", "Kraal", None),
            common::room_type("KRL", "DLX", "Deluxe", 2),
        ] {
            w.run(WB, &c).unwrap();
        }
        for n in ["1", "2", "3", "4"] {
            w.run(WB, &common::room("KRL", n, "DLX")).unwrap();
        }
        // The lodge office may sell two units a night.
        w.run(
            WB,
            &common::grant(
                "KRL",
                "DLX",
                w.day(0),
                w.day(60),
                2,
                Authority::Server(w.servers[PA].clone()),
            ),
        )
        .unwrap();
        w
    }

    fn day(&self, n: u64) -> NaiveDate {
        self.now.date_naive() + Days::new(n)
    }

    fn run(&mut self, at: usize, cmd: &Command) -> Result<Outcome, DomainError> {
        let ctx = common::ctx(
            self.now,
            &self.servers[at],
            &self.servers[WB],
            &[],
            &self.servers,
        );
        common::run_checked(
            &mut self.state,
            &mut self.ids[at],
            &ctx,
            cmd,
            &mut self.bookings,
        )
    }

    fn book(&mut self, at: usize, day: u64, guest: GuestInput) -> Result<RecordId, DomainError> {
        let cmd = Command::CreateBooking {
            property: "KRL".into(),
            room_type: "DLX".into(),
            arrival: self.day(day),
            departure: self.day(day + 2),
            units: 1,
            guest,
            status: InitialStatus::Confirmed,
            hold_until: None,
            notes: Some("late arrival, Ada's anniversary".into()),
            pricing: None,
        };
        match self.run(at, &cmd)? {
            Outcome::Written {
                record: Record::Booking(b),
                ..
            } => Ok(b.meta.id),
            other => panic!("{other:?}"),
        }
    }

    fn new_guest(&mut self, at: usize, name: &str, email: Option<&str>) -> RecordId {
        let cmd = Command::CreateGuest {
            name: name.into(),
            email: email.map(str::to_string),
            phone: None,
        };
        match self.run(at, &cmd).unwrap() {
            Outcome::Written {
                record: Record::Guest(g),
                ..
            } => g.meta.id,
            other => panic!("{other:?}"),
        }
    }

    fn guest(&self, id: &RecordId) -> Option<Guest> {
        self.state.guest(id).unwrap()
    }

    fn booking(&self, id: &RecordId) -> innsync_core::Booking {
        self.state.booking(id).unwrap().unwrap()
    }
}

#[test]
fn a_returning_guest_is_referred_to_not_copied_by_any_server() {
    let mut w = World::new();
    let g = w.new_guest(WB, "Ada Lovelace", Some("ada@example.com"));
    let first = w.book(WB, 1, GuestInput::Existing(g.clone())).unwrap();
    // The lodge office holds the guest as a replicated record and books her too.
    let second = w.book(PA, 10, GuestInput::Existing(g.clone())).unwrap();
    for b in [&first, &second] {
        assert_eq!(w.booking(b).guest_id, g);
        assert_eq!(w.booking(b).guest_name, "Ada Lovelace");
    }
    let guests = w
        .state
        .records()
        .filter(|r| r.kind() == RecordKind::Guest)
        .count();
    assert_eq!(guests, 1, "no copy of the guest per booking");
    let missing = RecordId::parse("WB-999999").unwrap();
    let err = w.book(WB, 3, GuestInput::Existing(missing)).unwrap_err();
    assert_eq!(err.code().as_str(), "not_found");
}

#[test]
fn a_guest_is_edited_on_its_owner_only_at_the_expected_version() {
    let mut w = World::new();
    let g = w.new_guest(WB, "Ada Lovelace", None);
    let patch = GuestPatch {
        phone: Some("+44 20 7946 0000".into()),
        preferences: Some("quiet room, no feathers".into()),
        ..GuestPatch::default()
    };
    let elsewhere = Command::UpdateGuest {
        id: g.clone(),
        patch: patch.clone(),
        if_match: None,
    };
    assert_eq!(
        w.run(PA, &elsewhere).unwrap_err().code().as_str(),
        "not_master"
    );
    let stale = Command::UpdateGuest {
        id: g.clone(),
        patch: patch.clone(),
        if_match: Some(7),
    };
    assert_eq!(
        w.run(WB, &stale).unwrap_err().code().as_str(),
        "version_conflict"
    );
    w.run(
        WB,
        &Command::UpdateGuest {
            id: g.clone(),
            patch,
            if_match: Some(1),
        },
    )
    .unwrap();
    let now = w.guest(&g).unwrap();
    assert_eq!(now.meta.version, 2);
    assert_eq!(now.preferences.as_deref(), Some("quiet room, no feathers"));
    // An empty text removes a field; a bad e-mail is refused; no change is refused.
    let clear = GuestPatch {
        phone: Some(String::new()),
        ..GuestPatch::default()
    };
    w.run(
        WB,
        &Command::UpdateGuest {
            id: g.clone(),
            patch: clear,
            if_match: None,
        },
    )
    .unwrap();
    assert_eq!(w.guest(&g).unwrap().phone, None);
    let bad = GuestPatch {
        email: Some("not an address".into()),
        ..GuestPatch::default()
    };
    let err = w
        .run(
            WB,
            &Command::UpdateGuest {
                id: g.clone(),
                patch: bad,
                if_match: None,
            },
        )
        .unwrap_err();
    assert_eq!(err.code().as_str(), "invalid_input");
    let err = w
        .run(
            WB,
            &Command::UpdateGuest {
                id: g,
                patch: GuestPatch::default(),
                if_match: None,
            },
        )
        .unwrap_err();
    assert_eq!(err.code().as_str(), "invalid_input");
}

#[test]
fn a_merge_keeps_the_survivor_and_points_the_merged_guest_at_it() {
    let mut w = World::new();
    let keep = w.new_guest(WB, "Ada Lovelace", None);
    let gone = w.new_guest(WB, "A. Lovelace", Some("ada@example.com"));
    let b = w.book(WB, 2, GuestInput::Existing(gone.clone())).unwrap();
    let merge = Command::MergeGuests {
        survivor: keep.clone(),
        merged: gone.clone(),
        reason: Some("same person, two profiles".into()),
    };
    // Only where both are owned.
    assert_eq!(w.run(PA, &merge).unwrap_err().code().as_str(), "not_master");
    let itself = Command::MergeGuests {
        survivor: keep.clone(),
        merged: keep.clone(),
        reason: None,
    };
    assert_eq!(
        w.run(WB, &itself).unwrap_err().code().as_str(),
        "invalid_input"
    );
    w.run(WB, &merge).unwrap();
    let s = w.guest(&keep).unwrap();
    assert_eq!(
        s.email.as_deref(),
        Some("ada@example.com"),
        "an empty field is taken over"
    );
    assert_eq!(s.name, "Ada Lovelace", "a filled one is kept");
    assert_eq!(s.merged, vec![gone.clone()]);
    assert!(w.guest(&gone).is_none(), "the merged guest is a tombstone");
    let key = Record::tombstone_key(RecordKind::Guest, gone.as_str());
    match w.state.record(RecordKind::Tombstone, &key).unwrap() {
        Some(Record::Tombstone(t)) => assert_eq!(t.merged_into, Some(keep.clone())),
        other => panic!("{other:?}"),
    }
    // The old booking keeps its guest id; a new booking by the old id lands on the survivor.
    assert_eq!(w.booking(&b).guest_id, gone);
    let again = w.book(WB, 8, GuestInput::Existing(gone.clone())).unwrap();
    assert_eq!(w.booking(&again).guest_id, keep);
    // Merged twice is refused: it is gone.
    assert_eq!(w.run(WB, &merge).unwrap_err().code().as_str(), "not_found");
}

#[test]
fn a_merge_across_owners_is_refused_naming_the_owner() {
    let mut w = World::new();
    let web = w.new_guest(WB, "Ada Lovelace", None);
    let lodge = w.new_guest(PA, "Ada Lovelace", None);
    let err = w
        .run(
            PA,
            &Command::MergeGuests {
                survivor: lodge.clone(),
                merged: web.clone(),
                reason: None,
            },
        )
        .unwrap_err();
    assert_eq!(err.code().as_str(), "not_master");
    let err = w
        .run(
            WB,
            &Command::MergeGuests {
                survivor: web,
                merged: lodge,
                reason: None,
            },
        )
        .unwrap_err();
    assert!(matches!(err, DomainError::NotOwner { owner } if owner.to_string() == "server:PA"));
}

#[test]
fn erasure_anonymises_every_booking_on_the_server_that_writes_it() {
    let mut w = World::new();
    let g = w.new_guest(WB, "Ada Lovelace", Some("ada@example.com"));
    let mine = w.book(WB, 1, GuestInput::Existing(g.clone())).unwrap();
    let theirs = w.book(PA, 5, GuestInput::Existing(g.clone())).unwrap();
    let price_before = w.booking(&mine).price.clone();
    // Only the owner erases.
    let erase = Command::EraseGuest {
        id: g.clone(),
        reason: Some("GDPR request 2026-12-01".into()),
    };
    assert_eq!(w.run(PA, &erase).unwrap_err().code().as_str(), "not_master");
    // Nothing to anonymise before the erasure.
    let early = Command::AnonymiseGuestBookings { guest: g.clone() };
    assert_eq!(
        w.run(PA, &early).unwrap_err().code().as_str(),
        "invalid_input"
    );
    w.run(WB, &erase).unwrap();
    let e = w.guest(&g).unwrap();
    assert!(e.erased);
    assert_eq!(
        (e.name.as_str(), e.email.clone(), e.phone.clone()),
        (ERASED_NAME, None, None)
    );
    let b = w.booking(&mine);
    assert_eq!(b.guest_name, ERASED_NAME);
    assert_eq!(b.notes, None);
    assert_eq!((b.arrival, b.price.clone()), (w.day(1), price_before));
    // The lodge's booking is the lodge's to write: untouched until it applies the erasure.
    assert_eq!(w.booking(&theirs).guest_name, "Ada Lovelace");
    w.run(PA, &Command::AnonymiseGuestBookings { guest: g.clone() })
        .unwrap();
    assert_eq!(w.booking(&theirs).guest_name, ERASED_NAME);
    assert!(w.state.bookings().all(|b| b.guest_name != "Ada Lovelace"));
    // Done is done: a second pass writes nothing; an erased guest is not booked or edited.
    match w
        .run(PA, &Command::AnonymiseGuestBookings { guest: g.clone() })
        .unwrap()
    {
        Outcome::Written { related, .. } => assert!(related.is_empty()),
        other => panic!("{other:?}"),
    }
    let err = w.book(WB, 20, GuestInput::Existing(g.clone())).unwrap_err();
    assert_eq!(err.code().as_str(), "invalid_input");
    assert_eq!(
        w.run(WB, &erase).unwrap_err().code().as_str(),
        "invalid_input"
    );
}

#[test]
fn erasing_a_survivor_anonymises_the_bookings_of_the_guests_merged_into_it() {
    let mut w = World::new();
    let keep = w.new_guest(WB, "Ada Lovelace", None);
    let gone = w.new_guest(WB, "Ada King", None);
    let b = w.book(WB, 3, GuestInput::Existing(gone.clone())).unwrap();
    w.run(
        WB,
        &Command::MergeGuests {
            survivor: keep.clone(),
            merged: gone,
            reason: None,
        },
    )
    .unwrap();
    w.run(
        WB,
        &Command::EraseGuest {
            id: keep,
            reason: None,
        },
    )
    .unwrap();
    assert_eq!(w.booking(&b).guest_name, ERASED_NAME);
}
