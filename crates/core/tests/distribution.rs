//! Records on the move, decided by the core over the model: ownership transfers (a booking takes
//! its units along), the archive that never edits, copies from another environment with their
//! duplicate policies, and deletions that leave a tombstone. The invariants hold after each.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use chrono::{DateTime, Days, NaiveDate, Utc};
use innsync_core::ids::CounterIds;
use innsync_core::model::MemState;
use innsync_core::record::RecordKind;
use innsync_core::{
    decide, Authority, Command, CopyKind, CopyRequest, Ctx, DomainError, GuestInput, InitialStatus,
    OnDuplicate, Outcome, Provenance, Record, RecordId, ServerCode, StateView,
};
use serde_json::json;

struct World {
    state: MemState,
    servers: Vec<ServerCode>,
    ids: Vec<CounterIds>,
    owners: Vec<(String, ServerCode)>,
    now: DateTime<Utc>,
}

const WB: usize = 0;
const PA: usize = 1;
const AR: usize = 2;
const PB: usize = 3;

impl World {
    fn new() -> Self {
        let servers = common::servers(&["WB", "PA", "AR", "PB"]);
        let mut w = World {
            state: MemState::default(),
            ids: common::counters(&servers),
            owners: vec![
                ("KRL".into(), servers[PA].clone()),
                ("OTH".into(), servers[PB].clone()),
            ],
            servers,
            now: "2026-12-01T08:00:00Z".parse().unwrap(),
        };
        for c in [
            common::property("KRL", "Kraal", None),
            common::room_type("KRL", "DLX", "Deluxe", 2),
        ] {
            w.run(PA, &c).unwrap();
        }
        for n in ["1", "2", "3"] {
            w.run(PA, &common::room("KRL", n, "DLX")).unwrap();
        }
        // The web is given two units a night to sell.
        w.run(
            PA,
            &common::grant("KRL", "DLX", w.day(0), w.day(30), 2, Authority::Env),
        )
        .unwrap();
        w
    }

    fn day(&self, n: u64) -> NaiveDate {
        self.now.date_naive() + Days::new(n)
    }

    fn run(&mut self, at: usize, cmd: &Command) -> Result<Outcome, DomainError> {
        let master = self.servers[WB].clone();
        let holders = vec![
            self.servers[WB].clone(),
            self.servers[PA].clone(),
            self.servers[PB].clone(),
        ];
        let archives = vec![self.servers[AR].clone()];
        let ctx = Ctx {
            now: self.now,
            server: &self.servers[at],
            master: Some(&master),
            actor: "test",
            property_owners: &self.owners,
            epoch: 1,
            frozen: false,
            holders: &holders,
            archives: &archives,
        };
        let d = decide(cmd, &self.state, &mut self.ids[at], &ctx)?;
        self.state.apply(&d);
        assert_eq!(self.state.check_invariants(), Ok(()), "after {cmd:?}");
        Ok(d.outcome)
    }

    fn book(&mut self, at: usize, day: u64) -> RecordId {
        let cmd = Command::CreateBooking {
            property: "KRL".into(),
            room_type: "DLX".into(),
            arrival: self.day(day),
            departure: self.day(day + 2),
            units: 1,
            guest: GuestInput::New {
                name: "Ann Smith".into(),
                email: Some("ann@example.com".into()),
                phone: None,
            },
            status: InitialStatus::Confirmed,
            hold_until: None,
            notes: None,
            pricing: None,
        };
        match self.run(at, &cmd).unwrap() {
            Outcome::Written {
                record: Record::Booking(b),
                ..
            } => b.meta.id,
            other => panic!("{other:?}"),
        }
    }

    fn booking(&self, id: &RecordId) -> innsync_core::Booking {
        self.state.booking(id).unwrap().unwrap()
    }

    fn pa(&self) -> Authority {
        Authority::Server(self.servers[PA].clone())
    }
}

fn transfer(id: &RecordId, to: Authority) -> Command {
    Command::TransferOwnership {
        kind: RecordKind::Booking,
        key: id.to_string(),
        to,
        reason: "rule lodge-bookings".into(),
    }
}

#[test]
fn a_booking_transferred_to_its_lodge_takes_its_units_along() {
    let mut w = World::new();
    let id = w.book(WB, 3);
    assert_eq!(w.booking(&id).holder, Authority::Env);
    // Only the owner gives it away.
    let err = w.run(PA, &transfer(&id, w.pa())).unwrap_err();
    assert_eq!(err.code().as_str(), "not_master");
    w.run(WB, &transfer(&id, w.pa())).unwrap();
    let b = w.booking(&id);
    assert_eq!((b.meta.owner.clone(), b.holder.clone()), (w.pa(), w.pa()));
    let p = b.meta.provenance.as_ref().unwrap();
    assert_eq!(
        (p.from_owner.clone(), p.copy),
        (Authority::Env, CopyKind::Transferred)
    );
    assert_eq!(p.history.len(), 1);
    // The web can no longer change it; the lodge can.
    let cancel = Command::CancelBooking {
        id: id.clone(),
        reason: None,
        if_match: None,
    };
    assert_eq!(w.run(WB, &cancel).unwrap_err().code().as_str(), "not_owner");
    // The booking's unit went with it: the web holds one unit on those nights now, unsold.
    w.book(WB, 3);
    let more = Command::CreateBooking {
        property: "KRL".into(),
        room_type: "DLX".into(),
        arrival: w.day(3),
        departure: w.day(4),
        units: 1,
        guest: GuestInput::New {
            name: "Bo".into(),
            email: None,
            phone: None,
        },
        status: InitialStatus::Confirmed,
        hold_until: None,
        notes: None,
        pricing: None,
    };
    assert!(matches!(
        w.run(WB, &more).unwrap_err(),
        DomainError::AllotmentShort {
            held: 1,
            held_sold: 1,
            ..
        }
    ));
    assert!(w.run(WB, &transfer(&id, Authority::Env)).is_err());
    w.run(PA, &cancel).unwrap();
}

#[test]
fn the_archive_takes_closed_bookings_and_edits_nothing() {
    let mut w = World::new();
    let ar = Authority::Server(w.servers[AR].clone());
    let id = w.book(WB, 3);
    let err = w.run(WB, &transfer(&id, ar.clone())).unwrap_err();
    assert!(err.to_string().contains("closed bookings only"), "{err}");
    w.run(
        WB,
        &Command::CancelBooking {
            id: id.clone(),
            reason: None,
            if_match: None,
        },
    )
    .unwrap();
    w.run(WB, &transfer(&id, ar.clone())).unwrap();
    assert_eq!(w.booking(&id).meta.owner, ar);
    let err = w
        .run(
            AR,
            &Command::DeleteRecord {
                kind: RecordKind::Booking,
                key: id.to_string(),
                reason: "tidy".into(),
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("never edits"), "{err}");
}

#[test]
fn a_property_server_takes_only_bookings_of_its_own_properties() {
    let mut w = World::new();
    let id = w.book(WB, 3);
    let pb = Authority::Server(w.servers[PB].clone());
    let err = w.run(WB, &transfer(&id, pb)).unwrap_err();
    assert!(err.to_string().contains("own properties only"), "{err}");
    let nobody = Authority::Server(ServerCode::parse("ZZ").unwrap());
    assert!(w.run(WB, &transfer(&id, nobody)).is_err());
}

fn guest_copy(id: &str, email: &str, copy: CopyKind, on_duplicate: OnDuplicate) -> Command {
    let fields = json!({"name": "Ann Smith", "email": email});
    Command::ImportCopy {
        copy: Box::new(CopyRequest {
            kind: RecordKind::Guest,
            fields: fields.as_object().unwrap().clone(),
            provenance: Provenance {
                from_environment: Some("kraal".into()),
                from_server: ServerCode::parse("WB").unwrap(),
                from_owner: Authority::Env,
                from_id: RecordId::parse(id).unwrap(),
                copy,
                history: vec!["rule partner-guests".into()],
            },
            on_duplicate,
            match_fields: vec!["email".into()],
        }),
    }
}

fn copied_id(o: Outcome) -> RecordId {
    match o {
        Outcome::Written { record, .. } => record.meta().id.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn copies_follow_their_duplicate_policy_and_remember_their_source() {
    let mut w = World::new();
    let first = copied_id(
        w.run(
            WB,
            &guest_copy(
                "WB-000001",
                "ann@example.com",
                CopyKind::Independent,
                OnDuplicate::Error,
            ),
        )
        .unwrap(),
    );
    // The same source record again: nothing new (a retry or a re-export).
    let again = copied_id(
        w.run(
            WB,
            &guest_copy(
                "WB-000001",
                "ann@example.com",
                CopyKind::Independent,
                OnDuplicate::Error,
            ),
        )
        .unwrap(),
    );
    assert_eq!(first, again);
    // Another source record with the same e-mail: refused, kept apart, or written over.
    let err = w
        .run(
            WB,
            &guest_copy(
                "WB-000002",
                "ann@example.com",
                CopyKind::Independent,
                OnDuplicate::Error,
            ),
        )
        .unwrap_err();
    assert_eq!(err.code().as_str(), "already_exists");
    let second = copied_id(
        w.run(
            WB,
            &guest_copy(
                "WB-000002",
                "ann@example.com",
                CopyKind::Independent,
                OnDuplicate::NewId,
            ),
        )
        .unwrap(),
    );
    assert_ne!(first, second);
    let over = copied_id(
        w.run(
            WB,
            &guest_copy(
                "WB-000003",
                "ann@example.com",
                CopyKind::Independent,
                OnDuplicate::Overwrite,
            ),
        )
        .unwrap(),
    );
    assert_eq!(over, first, "the first match is written over");
    let g = w.state.guest(&first).unwrap().unwrap();
    assert_eq!(g.meta.version, 2);
    let p = g.meta.provenance.unwrap();
    assert_eq!(
        (p.from_environment.as_deref(), p.from_id.as_str()),
        (Some("kraal"), "WB-000003")
    );
    assert!(p.history.iter().any(|h| h.contains("partner-guests")));
    // Fields the kind does not have are refused, not dropped.
    let mut bad = guest_copy(
        "WB-000009",
        "x@example.com",
        CopyKind::Independent,
        OnDuplicate::Error,
    );
    if let Command::ImportCopy { copy } = &mut bad {
        copy.fields.insert("shoe_size".into(), json!(9));
    }
    assert!(w
        .run(WB, &bad)
        .unwrap_err()
        .to_string()
        .contains("no field shoe_size"));
}

#[test]
fn only_master_and_independent_copies_are_deleted() {
    let mut w = World::new();
    let linked = copied_id(
        w.run(
            WB,
            &guest_copy(
                "WB-000001",
                "ann@example.com",
                CopyKind::Linked,
                OnDuplicate::Error,
            ),
        )
        .unwrap(),
    );
    let del = |key: &RecordId| Command::DeleteRecord {
        kind: RecordKind::Guest,
        key: key.to_string(),
        reason: "gdpr".into(),
    };
    let err = w.run(WB, &del(&linked)).unwrap_err();
    assert!(err.to_string().contains("linked copy"), "{err}");
    // Its source deletes it.
    let from_source = Command::DeleteCopy {
        kind: RecordKind::Guest,
        from_environment: Some("kraal".into()),
        from_id: RecordId::parse("WB-000001").unwrap(),
    };
    w.run(WB, &from_source).unwrap();
    assert!(w.state.guest(&linked).unwrap().is_none());
    // An independent copy is not deleted by its source, but may be deleted here.
    let own = copied_id(
        w.run(
            WB,
            &guest_copy(
                "WB-000005",
                "bo@example.com",
                CopyKind::Independent,
                OnDuplicate::Error,
            ),
        )
        .unwrap(),
    );
    let mut ask = from_source.clone();
    if let Command::DeleteCopy { from_id, .. } = &mut ask {
        *from_id = RecordId::parse("WB-000005").unwrap();
    }
    assert!(w
        .run(WB, &ask)
        .unwrap_err()
        .to_string()
        .contains("independent copy"));
    w.run(WB, &del(&own)).unwrap();
    // A live booking is not deleted; a cancelled one is, and its guest then may be.
    let id = w.book(WB, 4);
    let guest = w.booking(&id).guest_id;
    let del_b = Command::DeleteRecord {
        kind: RecordKind::Booking,
        key: id.to_string(),
        reason: "tidy".into(),
    };
    assert!(w
        .run(WB, &del_b)
        .unwrap_err()
        .to_string()
        .contains("cancel it"));
    assert!(w
        .run(WB, &del(&guest))
        .unwrap_err()
        .to_string()
        .contains("guest of a booking"));
    w.run(
        WB,
        &Command::CancelBooking {
            id: id.clone(),
            reason: None,
            if_match: None,
        },
    )
    .unwrap();
    w.run(WB, &del_b).unwrap();
    assert!(w.state.booking(&id).unwrap().is_none());
    w.run(WB, &del(&guest)).unwrap();
}
