//! A rate plan's money terms decided by the core over the model: a provisional booking on a
//! plan asking 30% within two days is confirmed by the sweep once the deposit is paid (by an
//! office that does not own it), released when it is not paid by its due date, never twice;
//! a cancellation posts the fee its policy computes (none while free) in the same decision;
//! a no-show marked by the night audit is charged its fee; a PMS posting is charged once,
//! whatever the resends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use chrono::{DateTime, Days, NaiveDate, Utc};
use innsync_core::command::PricingRequest;
use innsync_core::ids::CounterIds;
use innsync_core::ledger::decide_input::PaymentInput;
use innsync_core::ledger::{balance, EntryKind, PaymentMethod};
use innsync_core::model::MemState;
use innsync_core::pricing::{
    CancellationPolicy, Deposit, Due, OccupancyPrice, Party, Penalty, PlanBasis, PlanSpec,
};
use innsync_core::{
    BookingStatus, Command, DomainError, ErrorCode, GuestInput, InitialStatus, Outcome, Record,
    RecordId, ServerCode, StateView,
};

const LODGE: usize = 0;
const OFFICE: usize = 1;

struct World {
    state: MemState,
    servers: Vec<ServerCode>,
    ids: Vec<CounterIds>,
    owners: Vec<(String, ServerCode)>,
    now: DateTime<Utc>,
    bookings: Vec<RecordId>,
}

impl World {
    /// KRL, owned by the lodge LG, one room type at 1 000.00 a night on plan BAR: 30% due two
    /// days after booking; free to cancel until 7 days before, then the first night; a no-show
    /// pays the whole stay. The office OF is the master.
    fn new() -> Self {
        let servers = common::servers(&["LG", "OF"]);
        let mut w = World {
            state: MemState::default(),
            ids: common::counters(&servers),
            owners: vec![("KRL".into(), servers[LODGE].clone())],
            servers,
            now: "2027-01-01T08:00:00Z".parse().unwrap(),
            bookings: vec![],
        };
        let setup = [
            common::property("KRL", "Kraal", Some("ZAR")),
            common::room_type("KRL", "DBL", "Double", 2),
            common::room("KRL", "1", "DBL"),
            Command::PutRatePlan {
                property: "KRL".into(),
                code: "BAR".into(),
                spec: Box::new(PlanSpec {
                    name: "Best available".into(),
                    currency: None,
                    basis: PlanBasis::Base,
                    occupancy: vec![OccupancyPrice {
                        room_type: "DBL".into(),
                        amount: Some(100_000),
                        adults_included: 2,
                        extra_adult: 0,
                        children: vec![],
                        max_adults: None,
                    }],
                    seasons: vec![],
                    restrictions: vec![],
                    reprice_on_edit: false,
                    refundable: true,
                    deposit: Deposit::Percent {
                        percent: 30,
                        due: Due::DaysAfterBooking(2),
                    },
                    cancellation: CancellationPolicy {
                        free_until_days_before: Some(7),
                        late: Penalty::FirstNight,
                        no_show: Penalty::FullStay,
                    },
                }),
                if_match: None,
            },
        ];
        for c in setup {
            w.run(LODGE, &c).unwrap();
        }
        w
    }

    fn day(&self, n: u64) -> NaiveDate {
        self.now.date_naive() + Days::new(n)
    }

    fn run(&mut self, at: usize, cmd: &Command) -> Result<Outcome, DomainError> {
        let ctx = common::ctx(
            self.now,
            &self.servers[at],
            &self.servers[OFFICE],
            &self.owners,
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

    /// A provisional booking of 3 nights (3 000.00) arriving `arrival` days from now.
    fn book(&mut self, arrival: u64, status: InitialStatus) -> RecordId {
        let cmd = Command::CreateBooking {
            property: "KRL".into(),
            room_type: "DBL".into(),
            arrival: self.day(arrival),
            departure: self.day(arrival + 3),
            units: 1,
            guest: GuestInput::New {
                name: "Ada Guest".into(),
                email: None,
                phone: None,
            },
            status,
            hold_until: (status == InitialStatus::Provisional)
                .then(|| self.now + chrono::Duration::days(20)),
            notes: None,
            pricing: Some(PricingRequest {
                rate_plan: Some("BAR".into()),
                party: Party::adults(2),
            }),
        };
        match self.run(LODGE, &cmd).unwrap() {
            Outcome::Written {
                record: Record::Booking(b),
                ..
            } => {
                assert_eq!(b.price.as_ref().map(|m| m.amount), Some(300_000));
                b.meta.id
            }
            other => panic!("{other:?}"),
        }
    }

    fn status(&self, b: &RecordId) -> BookingStatus {
        self.state.booking(b).unwrap().unwrap().status
    }

    fn sweep(&mut self, at: usize, b: &RecordId) -> Vec<RecordId> {
        match self
            .run(
                at,
                &Command::SettleDeposits {
                    bookings: vec![b.clone()],
                    confirm_when_paid: true,
                },
            )
            .unwrap()
        {
            Outcome::Expired { ids } => ids,
            other => panic!("{other:?}"),
        }
    }
}

fn deposit(b: &RecordId, amount: i64) -> Command {
    Command::TakePayment(Box::new(PaymentInput {
        booking: b.clone(),
        folio: None,
        kind: EntryKind::Deposit,
        method: PaymentMethod::Transfer,
        amount,
        currency: "ZAR".into(),
        reference: Some("EFT 2027-0001".into()),
        confirm_when_paid: false,
    }))
}

#[test]
fn a_paid_deposit_confirms_a_provisional_booking_once_and_only_at_its_owner() {
    let mut w = World::new();
    let b = w.book(30, InitialStatus::Provisional);
    // Nothing paid, not yet due: the sweep leaves it.
    assert!(w.sweep(LODGE, &b).is_empty());
    // Part paid at the office: still provisional.
    w.run(OFFICE, &deposit(&b, 50_000)).unwrap();
    assert!(w.sweep(LODGE, &b).is_empty());
    // The rest paid: the office may not confirm the lodge's booking; the lodge does.
    w.run(OFFICE, &deposit(&b, 40_000)).unwrap();
    assert!(w.sweep(OFFICE, &b).is_empty());
    assert_eq!(w.status(&b), BookingStatus::Provisional);
    assert_eq!(w.sweep(LODGE, &b), vec![b.clone()]);
    assert_eq!(w.status(&b), BookingStatus::Confirmed);
    // Idempotent: a second sweep changes nothing, even after the due date.
    w.now += chrono::Duration::days(5);
    assert!(w.sweep(LODGE, &b).is_empty());
    assert_eq!(w.status(&b), BookingStatus::Confirmed);
}

#[test]
fn an_unpaid_deposit_releases_the_booking_after_its_due_date() {
    let mut w = World::new();
    let b = w.book(30, InitialStatus::Provisional);
    w.run(OFFICE, &deposit(&b, 10_000)).unwrap();
    // Due on day 2: still held that day.
    w.now += chrono::Duration::days(2);
    assert!(w.sweep(LODGE, &b).is_empty());
    w.now += chrono::Duration::days(1);
    assert!(w.sweep(OFFICE, &b).is_empty(), "only the owner releases");
    assert_eq!(w.sweep(LODGE, &b), vec![b.clone()]);
    let after = w.state.booking(&b).unwrap().unwrap();
    assert_eq!(after.status, BookingStatus::Cancelled);
    assert_eq!(
        after.cancel_reason.as_deref(),
        Some("deposit not paid by its due date")
    );
    assert!(w.sweep(LODGE, &b).is_empty());
    // Too many bookings in one sweep is refused.
    let many = vec![b.clone(); 257];
    let err = w
        .run(
            LODGE,
            &Command::SettleDeposits {
                bookings: many,
                confirm_when_paid: true,
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidInput);
}

#[test]
fn cancelling_posts_the_policy_fee_in_the_same_decision() {
    let mut w = World::new();
    // Early: free, nothing posted.
    let early = w.book(30, InitialStatus::Confirmed);
    w.run(
        LODGE,
        &Command::CancelWithFee {
            id: early.clone(),
            reason: Some("plans changed".into()),
            if_match: None,
        },
    )
    .unwrap();
    assert_eq!(w.status(&early), BookingStatus::Cancelled);
    assert!(w.state.folio_entries(&early).unwrap().is_empty());
    // Late (5 days before): the first night, 1 000.00.
    let late = w.book(5, InitialStatus::Confirmed);
    // Not the owner: refused, nothing written.
    let before = w.state.folio_entries(&late).unwrap().len();
    let err = w
        .run(
            OFFICE,
            &Command::CancelWithFee {
                id: late.clone(),
                reason: None,
                if_match: None,
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotOwner);
    assert_eq!(w.state.folio_entries(&late).unwrap().len(), before);
    assert_eq!(w.status(&late), BookingStatus::Confirmed);
    let out = w
        .run(
            LODGE,
            &Command::CancelWithFee {
                id: late.clone(),
                reason: None,
                if_match: None,
            },
        )
        .unwrap();
    let Outcome::Written { related, .. } = out else {
        panic!()
    };
    assert_eq!(related.len(), 1);
    let es = w.state.folio_entries(&late).unwrap();
    assert_eq!(balance(&es), 100_000);
    assert_eq!(es[0].description, "Cancellation fee (first night)");
    // A cancelled booking cannot be cancelled again: refused, no second fee.
    let again = w
        .run(
            LODGE,
            &Command::CancelWithFee {
                id: late.clone(),
                reason: None,
                if_match: None,
            },
        )
        .unwrap_err();
    assert_eq!(again.code(), ErrorCode::InvalidTransition);
    assert_eq!(w.state.folio_entries(&late).unwrap().len(), 1);
}

#[test]
fn the_night_audit_charges_a_no_show_its_fee() {
    let mut w = World::new();
    let b = w.book(0, InitialStatus::Confirmed);
    let today = w.day(0);
    w.now += chrono::Duration::hours(20);
    w.run(
        LODGE,
        &Command::RunNightAudit {
            property: "KRL".into(),
            business_date: Some(today),
            mark_no_shows: true,
        },
    )
    .unwrap();
    assert_eq!(w.status(&b), BookingStatus::NoShow);
    let es = w.state.folio_entries(&b).unwrap();
    assert_eq!(balance(&es), 300_000);
    assert_eq!(es[0].description, "No-show fee (full stay)");
}

#[test]
fn a_pms_posting_is_charged_once_whatever_the_resends() {
    use innsync_core::ledger::decide_input::ChargeInput;
    use innsync_core::ledger::EntrySource;
    let mut w = World::new();
    let b = w.book(0, InitialStatus::Confirmed);
    w.run(
        LODGE,
        &Command::CheckIn {
            id: b.clone(),
            room: Some("1".into()),
            if_match: None,
        },
    )
    .unwrap();
    let post = |posting: &str, source: EntrySource| Command::PostPmsCharge {
        charge: Box::new(ChargeInput {
            booking: b.clone(),
            folio: None,
            item: None,
            description: Some("Minibar (PMS P# 77)".into()),
            amount: Some(1_250),
            quantity: 1,
            currency: None,
            source,
        }),
        posting: posting.into(),
    };
    w.run(LODGE, &post("fias:77", EntrySource::Pms)).unwrap();
    let again = w
        .run(LODGE, &post("fias:77", EntrySource::Pms))
        .unwrap_err();
    assert_eq!(again.code(), ErrorCode::AlreadyExists);
    w.run(LODGE, &post("fias:78", EntrySource::Pms)).unwrap();
    for (bad, source) in [
        ("", EntrySource::Pms),
        ("fias:4111111111111111", EntrySource::Pms),
        ("fias:79", EntrySource::Manual),
    ] {
        let e = w.run(LODGE, &post(bad, source)).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidInput, "{bad}");
    }
    let es = w.state.folio_entries(&b).unwrap();
    assert_eq!(es.len(), 2);
    assert_eq!(balance(&es), 2_500);
    assert_eq!(es[0].reference.as_deref(), Some("fias:77"));
}

/// A deposit with the "confirm on deposit" setting: the payment that completes it confirms the
/// provisional booking in the same decision (on the owner); elsewhere, or without the setting,
/// the payment stands alone and the sweep confirms later.
#[test]
fn a_deposit_paid_in_full_confirms_the_booking_in_the_same_decision() {
    let mut w = World::new();
    let pay = |b: &RecordId, amount: i64, confirm: bool| {
        let mut c = deposit(b, amount);
        if let Command::TakePayment(p) = &mut c {
            p.confirm_when_paid = confirm;
        }
        c
    };
    let b = w.book(30, InitialStatus::Provisional);
    let out = w.run(LODGE, &pay(&b, 50_000, true)).unwrap();
    assert!(matches!(out, Outcome::Written { ref related, .. } if related.is_empty()));
    assert_eq!(w.status(&b), BookingStatus::Provisional, "part paid");
    let out = w.run(LODGE, &pay(&b, 40_000, true)).unwrap();
    let Outcome::Written { record, related } = out else {
        panic!()
    };
    assert!(matches!(record, Record::FolioEntry(_)));
    assert!(
        matches!(&related[..], [Record::Booking(c)] if c.status == BookingStatus::Confirmed),
        "{related:?}"
    );
    let after = w.state.booking(&b).unwrap().unwrap();
    assert_eq!(after.status, BookingStatus::Confirmed);
    assert_eq!(after.hold_until, None);
    // More money later changes nothing more.
    w.run(LODGE, &pay(&b, 10_000, true)).unwrap();
    assert_eq!(
        w.state.booking(&b).unwrap().unwrap().meta.version,
        after.meta.version
    );
    // Paid in full at the office, which does not own it: the sweep on the owner confirms.
    let office = w.book(34, InitialStatus::Provisional);
    w.run(OFFICE, &pay(&office, 90_000, true)).unwrap();
    assert_eq!(w.status(&office), BookingStatus::Provisional);
    assert_eq!(w.sweep(LODGE, &office), vec![office.clone()]);
    // Without the setting the payment stands alone.
    let off = w.book(38, InitialStatus::Provisional);
    w.run(LODGE, &pay(&off, 90_000, false)).unwrap();
    assert_eq!(w.status(&off), BookingStatus::Provisional);
}

/// A plain cancel applies the plan's policy like `/cancellation`: nothing while free, the fee
/// posted in the same decision inside the window, only on the owner.
#[test]
fn a_plain_cancel_inside_the_fee_window_posts_the_fee() {
    let mut w = World::new();
    let cancel = |id: &RecordId| Command::CancelBooking {
        id: id.clone(),
        reason: Some("guest called".into()),
        if_match: None,
    };
    let early = w.book(30, InitialStatus::Confirmed);
    let out = w.run(LODGE, &cancel(&early)).unwrap();
    assert!(matches!(out, Outcome::Written { ref related, .. } if related.is_empty()));
    assert_eq!(w.status(&early), BookingStatus::Cancelled);
    assert!(w.state.folio_entries(&early).unwrap().is_empty());
    let late = w.book(5, InitialStatus::Confirmed);
    let err = w.run(OFFICE, &cancel(&late)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotOwner);
    assert!(w.state.folio_entries(&late).unwrap().is_empty());
    let out = w.run(LODGE, &cancel(&late)).unwrap();
    let Outcome::Written { record, related } = out else {
        panic!()
    };
    assert!(matches!(record, Record::Booking(b) if b.status == BookingStatus::Cancelled));
    assert_eq!(related.len(), 1);
    let es = w.state.folio_entries(&late).unwrap();
    assert_eq!(balance(&es), 100_000);
    assert_eq!(es[0].description, "Cancellation fee (first night)");
    let b = w.state.booking(&late).unwrap().unwrap();
    assert_eq!(b.cancel_reason.as_deref(), Some("guest called"));
}

/// A PMS posting is for the guest in house: on a booking not checked in it is refused and
/// nothing is written.
#[test]
fn a_pms_posting_for_a_booking_not_in_house_is_refused() {
    use innsync_core::ledger::decide_input::ChargeInput;
    use innsync_core::ledger::EntrySource;
    let mut w = World::new();
    let b = w.book(0, InitialStatus::Confirmed);
    let err = w
        .run(
            LODGE,
            &Command::PostPmsCharge {
                charge: Box::new(ChargeInput {
                    booking: b.clone(),
                    folio: None,
                    item: None,
                    description: Some("Minibar (PMS CHG 42)".into()),
                    amount: Some(1_250),
                    quantity: 1,
                    currency: None,
                    source: EntrySource::Pms,
                }),
                posting: "gw:42".into(),
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidTransition);
    assert!(w.state.folio_entries(&b).unwrap().is_empty());
}
