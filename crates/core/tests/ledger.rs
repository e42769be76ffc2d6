//! The ledger in the model: charges, payments, corrections, transfers, invoices and the night
//! audit, decided by two servers (WB the master owning the booking, RS an office that does
//! not) over one state. After every step the invariants hold (balance = sum of entries, a
//! correction nets its original, an invoice's total equals its entries, no entry rewritten);
//! every refusal writes nothing.
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
use innsync_core::ledger::decide_input::{ChargeInput, PaymentInput};
use innsync_core::ledger::{
    balance, folio_balances, ChargeItem, EntryKind, EntrySource, FolioEntry, Invoice, InvoiceKind,
    PaymentMethod, TaxCode,
};
use innsync_core::model::MemState;
use innsync_core::{
    Command, Ctx, DomainError, ErrorCode, GuestInput, InitialStatus, Outcome, Record, RecordId,
    ServerCode, StateView,
};
use proptest::prelude::*;

struct World {
    state: MemState,
    wb: CounterIds,
    rs: CounterIds,
    now: DateTime<Utc>,
    bookings: Vec<RecordId>,
}

fn arrival() -> NaiveDate {
    NaiveDate::from_ymd_opt(2027, 1, 4).unwrap()
}

impl World {
    fn new() -> Self {
        let mut w = World {
            state: MemState::default(),
            wb: CounterIds {
                server: ServerCode::parse("WB").unwrap(),
                last: 0,
                last_reservation: 0,
            },
            rs: CounterIds {
                server: ServerCode::parse("RS").unwrap(),
                last: 0,
                last_reservation: 0,
            },
            now: "2027-01-04T10:00:00Z".parse().unwrap(),
            bookings: vec![],
        };
        let setup = [
            Command::CreateProperty {
                code: "KRL".into(),
                name: "Kraal".into(),
                timezone: "Africa/Johannesburg".into(),
                currency: Some("ZAR".into()),
            },
            common::room_type("KRL", "DLX", "Deluxe", 2),
            common::room("KRL", "101", "DLX"),
            common::room("KRL", "102", "DLX"),
            common::rate("KRL", "DLX", arrival(), arrival() + Days::new(30), 150_000),
            Command::SetChargeCatalog {
                property: "KRL".into(),
                taxes: vec![TaxCode {
                    code: "VAT".into(),
                    name: "VAT 15%".into(),
                    rate_bp: 1_500,
                    inclusive: true,
                }],
                items: vec![
                    ChargeItem {
                        code: "ROOM".into(),
                        name: "Room".into(),
                        price: None,
                        tax: Some("VAT".into()),
                        group: "rooms".into(),
                    },
                    ChargeItem {
                        code: "MINIBAR".into(),
                        name: "Minibar".into(),
                        price: Some(4_500),
                        tax: Some("VAT".into()),
                        group: "beverage".into(),
                    },
                ],
            },
        ];
        for c in setup {
            w.wb_run(&c).unwrap();
        }
        w
    }

    fn decide_on(&mut self, rs: bool, cmd: &Command) -> Result<Outcome, DomainError> {
        let wb = ServerCode::parse("WB").unwrap();
        let server = if rs {
            ServerCode::parse("RS").unwrap()
        } else {
            wb.clone()
        };
        let holders = [wb.clone(), ServerCode::parse("RS").unwrap()];
        let ctx = Ctx {
            now: self.now,
            server: &server,
            master: Some(&wb),
            actor: "test",
            property_owners: &[],
            epoch: 1,
            frozen: false,
            holders: &holders,
            archives: &[],
        };
        let ids = if rs { &mut self.rs } else { &mut self.wb };
        let out = common::run(&mut self.state, ids, &ctx, cmd, &mut self.bookings);
        self.state
            .check_invariants()
            .unwrap_or_else(|e| panic!("after {cmd:?}: {e}"));
        out
    }

    fn wb_run(&mut self, cmd: &Command) -> Result<Outcome, DomainError> {
        self.decide_on(false, cmd)
    }

    fn book(&mut self, nights: u64, checked_in: bool) -> RecordId {
        self.wb_run(&Command::CreateBooking {
            property: "KRL".into(),
            room_type: "DLX".into(),
            arrival: arrival(),
            departure: arrival() + Days::new(nights),
            units: 1,
            guest: GuestInput::New {
                name: "Ada Guest".into(),
                email: None,
                phone: None,
            },
            status: InitialStatus::Confirmed,
            hold_until: None,
            notes: None,
            pricing: None,
        })
        .unwrap();
        let id = self.bookings.last().unwrap().clone();
        if checked_in {
            self.wb_run(&Command::CheckIn {
                id: id.clone(),
                room: Some("101".into()),
                if_match: None,
            })
            .unwrap();
        }
        id
    }

    fn entries(&self, b: &RecordId) -> Vec<FolioEntry> {
        self.state.folio_entries(b).unwrap()
    }
}

fn pay(b: &RecordId, kind: EntryKind, amount: i64) -> Command {
    Command::TakePayment(Box::new(PaymentInput {
        booking: b.clone(),
        folio: None,
        kind,
        method: PaymentMethod::Card,
        amount,
        currency: "ZAR".into(),
        reference: Some("visa 1111".into()),
        confirm_when_paid: false,
    }))
}

fn charge(b: &RecordId, item: Option<&str>, amount: Option<i64>, qty: u32) -> Command {
    Command::PostCharge(Box::new(ChargeInput {
        booking: b.clone(),
        folio: None,
        item: item.map(str::to_string),
        description: None,
        amount,
        quantity: qty,
        currency: None,
        source: EntrySource::Manual,
    }))
}

fn written(o: Outcome) -> Record {
    match o {
        Outcome::Written { record, .. } => record,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_stay_is_charged_paid_corrected_and_balances_to_the_sum_of_its_entries() {
    let mut w = World::new();
    let b = w.book(3, true);
    // A 30% deposit of the 4 500.00 stay, taken by the office that does not own the booking.
    w.decide_on(true, &pay(&b, EntryKind::Deposit, 135_000))
        .unwrap();
    // Minibar: two at the catalogue price, VAT included.
    let mini = written(w.wb_run(&charge(&b, Some("MINIBAR"), None, 2)).unwrap());
    let Record::FolioEntry(mini) = mini else {
        panic!()
    };
    assert_eq!(mini.amount, 9_000);
    assert_eq!(mini.taxes[0].amount, 9_000 - 7_826);
    assert_eq!(mini.net() + mini.taxes[0].amount, mini.amount);
    // The office's deposit is its own record.
    let es = w.entries(&b);
    assert!(es
        .iter()
        .any(|e| e.kind == EntryKind::Deposit && e.meta.owner.to_string() == "server:RS"));
    assert_eq!(balance(&es), 9_000 - 135_000);
    // A correction nets its original exactly, once.
    w.wb_run(&Command::CorrectEntry {
        booking: b.clone(),
        entry: mini.meta.id.clone(),
        reason: "not consumed".into(),
    })
    .unwrap();
    assert_eq!(balance(&w.entries(&b)), -135_000);
    let again = w
        .wb_run(&Command::CorrectEntry {
            booking: b.clone(),
            entry: mini.meta.id.clone(),
            reason: "twice".into(),
        })
        .unwrap_err();
    assert_eq!(again.code(), ErrorCode::AlreadyExists);
    // A transfer moves money between folios and leaves the booking's balance alone.
    w.wb_run(&Command::TransferBetweenFolios {
        booking: b.clone(),
        from: "guest".into(),
        to: "company".into(),
        amount: 10_000,
    })
    .unwrap();
    let fb = folio_balances(&w.entries(&b));
    assert_eq!(fb.iter().map(|f| f.balance).sum::<i64>(), -135_000);
    assert_eq!(
        fb.iter().find(|f| f.folio == "company").unwrap().balance,
        10_000
    );
}

#[test]
fn refusals_name_the_problem_and_write_nothing() {
    let mut w = World::new();
    let b = w.book(2, false);
    let bad: Vec<(Command, &str)> = vec![
        (
            Command::TakePayment(Box::new(PaymentInput {
                reference: Some("4111 1111 1111 1111".into()),
                ..match pay(&b, EntryKind::Payment, 100) {
                    Command::TakePayment(p) => *p,
                    _ => unreachable!(),
                }
            })),
            "card number",
        ),
        (
            Command::TakePayment(Box::new(PaymentInput {
                currency: "EUR".into(),
                ..match pay(&b, EntryKind::Payment, 100) {
                    Command::TakePayment(p) => *p,
                    _ => unreachable!(),
                }
            })),
            "ZAR",
        ),
        (pay(&b, EntryKind::Payment, 0), "amount"),
        (pay(&b, EntryKind::Payment, -5), "amount"),
        (pay(&b, EntryKind::Charge, 100), "kind"),
        (charge(&b, Some("SPA"), None, 1), "catalogue"),
        (charge(&b, None, None, 1), "amount"),
        (charge(&b, None, Some(100), 0), "quantity"),
        (charge(&b, None, Some(60_000_000_000), 3), "exceeds"),
        (
            charge(&RecordId::parse("WB-999999").unwrap(), None, Some(100), 1),
            "not found",
        ),
        (
            Command::PostCharge(Box::new(ChargeInput {
                folio: Some("Guest Folio".into()),
                ..match charge(&b, None, Some(100), 1) {
                    Command::PostCharge(c) => *c,
                    _ => unreachable!(),
                }
            })),
            "folio",
        ),
        (
            Command::IssueInvoice {
                booking: b.clone(),
                folio: None,
                bill_to: None,
            },
            "no entries",
        ),
        (
            Command::IssueCreditNote {
                number: "WB-2027-000001".into(),
                reason: "x".into(),
            },
            "not found",
        ),
        (
            Command::RunNightAudit {
                property: "KRL".into(),
                business_date: Some(arrival() + Days::new(5)),
                mark_no_shows: true,
            },
            "has not begun",
        ),
    ];
    for (cmd, why) in bad {
        let e = w.wb_run(&cmd).unwrap_err();
        assert!(e.to_string().contains(why), "{cmd:?}: {e}");
    }
    assert!(w.entries(&b).is_empty());
}

#[test]
fn the_night_audit_posts_each_night_once_only_for_its_own_bookings_and_marks_no_shows() {
    let mut w = World::new();
    let stay = w.book(3, true);
    let due = w.book(2, false);
    let audit = |date: NaiveDate| Command::RunNightAudit {
        property: "KRL".into(),
        business_date: Some(date),
        mark_no_shows: true,
    };
    // The office does not own these bookings: its audit writes nothing for them.
    w.decide_on(true, &audit(arrival())).unwrap();
    assert!(w.entries(&stay).is_empty());
    w.now = "2027-01-05T01:00:00Z".parse().unwrap();
    w.wb_run(&audit(arrival())).unwrap();
    w.wb_run(&audit(arrival())).unwrap();
    let es = w.entries(&stay);
    assert_eq!(es.len(), 1, "one night, one charge: {es:?}");
    assert_eq!(es[0].amount, 150_000);
    assert_eq!(es[0].night, Some(arrival()));
    assert_eq!(es[0].taxes[0].amount, 150_000 - 130_435);
    assert_eq!(
        w.state.booking(&due).unwrap().unwrap().status,
        innsync_core::BookingStatus::NoShow
    );
    // The business date rolled: without a date the audit closes the next one.
    w.now = "2027-01-06T01:00:00Z".parse().unwrap();
    w.wb_run(&Command::RunNightAudit {
        property: "KRL".into(),
        business_date: None,
        mark_no_shows: true,
    })
    .unwrap();
    let nights: Vec<_> = w.entries(&stay).iter().filter_map(|e| e.night).collect();
    assert_eq!(nights, vec![arrival(), arrival() + Days::new(1)]);
    // A waived night is not charged again.
    let first = w.entries(&stay)[0].meta.id.clone();
    w.wb_run(&Command::CorrectEntry {
        booking: stay.clone(),
        entry: first,
        reason: "complimentary".into(),
    })
    .unwrap();
    w.wb_run(&audit(arrival())).unwrap();
    assert_eq!(balance(&w.entries(&stay)), 150_000);
}

#[test]
fn invoices_are_numbered_without_gaps_per_server_and_a_credit_note_reopens_the_entries() {
    let mut w = World::new();
    let b = w.book(2, true);
    w.wb_run(&charge(&b, None, Some(20_000), 1)).unwrap();
    let issue = Command::IssueInvoice {
        booking: b.clone(),
        folio: None,
        bill_to: None,
    };
    let Record::Invoice(i1) = written(w.wb_run(&issue).unwrap()) else {
        panic!()
    };
    assert_eq!(i1.number, "WB-2027-000001");
    // Records travel as JSON: an invoice and its entries come back as they went.
    let rec = Record::Invoice(i1.clone());
    let back: Record = serde_json::from_str(&serde_json::to_string(&rec).unwrap()).unwrap();
    assert_eq!(back, rec);
    for e in w.entries(&b) {
        let rec = Record::FolioEntry(e);
        let back: Record = serde_json::from_str(&serde_json::to_string(&rec).unwrap()).unwrap();
        assert_eq!(back, rec);
    }
    assert_eq!(i1.total, 20_000);
    // Nothing left to bill; a billed entry is not corrected without a credit note.
    assert!(w.wb_run(&issue).is_err());
    let e = w
        .wb_run(&Command::CorrectEntry {
            booking: b.clone(),
            entry: i1.lines[0].entry.clone(),
            reason: "wrong".into(),
        })
        .unwrap_err();
    assert!(e.to_string().contains("credit note"), "{e}");
    // The office credits it in its own series.
    let Record::Invoice(cn) = written(
        w.decide_on(
            true,
            &Command::IssueCreditNote {
                number: i1.number.clone(),
                reason: "wrong address".into(),
            },
        )
        .unwrap(),
    ) else {
        panic!()
    };
    assert_eq!(
        (cn.number.as_str(), cn.kind, cn.total),
        ("RS-2027-000001", InvoiceKind::CreditNote, -20_000)
    );
    assert!(w
        .wb_run(&Command::IssueCreditNote {
            number: i1.number.clone(),
            reason: "again".into()
        })
        .is_err());
    let Record::Invoice(i2) = written(w.wb_run(&issue).unwrap()) else {
        panic!()
    };
    assert_eq!(i2.number, "WB-2027-000002");
    assert_eq!(i2.lines.len(), 1);
}

#[derive(Clone, Debug)]
enum Step {
    Charge {
        rs: bool,
        cents: i64,
        qty: u32,
        item: bool,
    },
    Pay {
        rs: bool,
        kind: u8,
        cents: i64,
    },
    Correct {
        rs: bool,
        pick: usize,
    },
    Transfer {
        cents: i64,
    },
    Invoice {
        rs: bool,
    },
    Credit {
        rs: bool,
        pick: usize,
    },
    Audit {
        day: u8,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (any::<bool>(), 1i64..200_000, 1u32..4, any::<bool>()).prop_map(
            |(rs, cents, qty, item)| Step::Charge {
                rs,
                cents,
                qty,
                item
            }
        ),
        (any::<bool>(), 0u8..3, 1i64..500_000).prop_map(|(rs, kind, cents)| Step::Pay {
            rs,
            kind,
            cents
        }),
        (any::<bool>(), 0usize..64).prop_map(|(rs, pick)| Step::Correct { rs, pick }),
        (1i64..50_000).prop_map(|cents| Step::Transfer { cents }),
        any::<bool>().prop_map(|rs| Step::Invoice { rs }),
        (any::<bool>(), 0usize..16).prop_map(|(rs, pick)| Step::Credit { rs, pick }),
        (0u8..4).prop_map(|day| Step::Audit { day }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_ledger_work_keeps_every_invariant(steps in prop::collection::vec(step(), 1..40)) {
        let mut w = World::new();
        let b = w.book(4, true);
        w.now = "2027-01-08T01:00:00Z".parse().unwrap();
        let mut invoices: Vec<String> = vec![];
        for s in steps {
            let cmd = match &s {
                Step::Charge { cents, qty, item, .. } => charge(
                    &b,
                    item.then_some("MINIBAR"),
                    Some(*cents),
                    *qty,
                ),
                Step::Pay { kind, cents, .. } => pay(
                    &b,
                    [EntryKind::Deposit, EntryKind::Payment, EntryKind::Refund][*kind as usize],
                    *cents,
                ),
                Step::Correct { pick, .. } => {
                    let es = w.entries(&b);
                    if es.is_empty() { continue; }
                    Command::CorrectEntry {
                        booking: b.clone(),
                        entry: es[pick % es.len()].meta.id.clone(),
                        reason: "test".into(),
                    }
                }
                Step::Transfer { cents } => Command::TransferBetweenFolios {
                    booking: b.clone(),
                    from: "guest".into(),
                    to: "company".into(),
                    amount: *cents,
                },
                Step::Invoice { .. } => Command::IssueInvoice {
                    booking: b.clone(),
                    folio: None,
                    bill_to: None,
                },
                Step::Credit { pick, .. } => {
                    if invoices.is_empty() { continue; }
                    Command::IssueCreditNote {
                        number: invoices[pick % invoices.len()].clone(),
                        reason: "test".into(),
                    }
                }
                Step::Audit { day } => Command::RunNightAudit {
                    property: "KRL".into(),
                    business_date: Some(arrival() + Days::new(u64::from(*day))),
                    mark_no_shows: true,
                },
            };
            let rs = match s {
                Step::Charge { rs, .. }
                | Step::Pay { rs, .. }
                | Step::Correct { rs, .. }
                | Step::Invoice { rs }
                | Step::Credit { rs, .. } => rs,
                _ => false,
            };
            if let Ok(Outcome::Written { record: Record::Invoice(i), .. }) = w.decide_on(rs, &cmd) {
                invoices.push(i.number.clone());
            }
            // The balance is the sum of the entries, folio by folio.
            let es = w.entries(&b);
            let fb = folio_balances(&es);
            prop_assert_eq!(fb.iter().map(|f| f.balance).sum::<i64>(), balance(&es));
        }
        // Every series is gap-free: 1..=n for each issuing server.
        let all: Vec<Invoice> = w.state.invoices_of(&b).unwrap();
        for series in ["WB", "RS"] {
            let mut seqs: Vec<u32> = all
                .iter()
                .filter(|i| i.series.as_str() == series)
                .map(|i| i.seq)
                .collect();
            seqs.sort_unstable();
            prop_assert_eq!(seqs.clone(), (1..=seqs.len() as u32).collect::<Vec<_>>());
        }
        // The room nights: each audited night charged once.
        let nights: Vec<_> = w.entries(&b).iter().filter_map(|e| e.night).collect();
        let mut uniq = nights.clone();
        uniq.dedup();
        prop_assert_eq!(nights.len(), uniq.len());
    }
}
