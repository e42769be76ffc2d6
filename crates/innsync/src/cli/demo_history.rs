//! A week of demo history, so the reports and their charts show something: the demo's servers
//! run on a [`DemoClock`] that starts a week ago; Sunbird Guesthouse (SBG, env-owned, on the
//! master) then lives seven days one after another — arrivals checked in, deposits and
//! payments taken, dinners and minibars charged, departures checked out with the balance paid
//! and invoiced, and each day closed by its night audit — before the clock catches up with
//! the present and the rest of the demo is seeded as before. Everything goes through the API,
//! decided and written like any day's work.

use crate::client::Api;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Days of history.
pub const HISTORY_DAYS: i64 = 7;
/// The property that carries the history.
pub const HISTORY_PROPERTY: &str = "SBG";
/// Its rooms.
const ROOMS: [&str; 6] = ["1", "2", "3", "4", "5", "6"];

/// The demo servers' clock: the machine's, moved back by a whole number of days while the
/// history is written, then the machine's.
#[derive(Clone, Debug)]
pub struct DemoClock {
    days_back: Arc<AtomicI64>,
}

impl DemoClock {
    /// A clock a week behind.
    pub fn week_ago() -> Self {
        Self {
            days_back: Arc::new(AtomicI64::new(HISTORY_DAYS)),
        }
    }

    /// What the servers are given.
    pub fn clock(&self) -> innsync_store::Clock {
        let back = self.days_back.clone();
        Arc::new(move || -> DateTime<Utc> {
            Utc::now() - Duration::days(back.load(Ordering::SeqCst))
        })
    }

    fn set_days_back(&self, n: i64) {
        self.days_back.store(n.max(0), Ordering::SeqCst);
    }

    fn today(&self) -> chrono::NaiveDate {
        (self.clock())().date_naive()
    }
}

/// Writes the week on `web` (the master), then sets the clock to the present.
pub async fn seed(web: &Api, clock: &DemoClock) -> anyhow::Result<()> {
    let result = week(web, clock)
        .await
        .map_err(|e| e.context("seeding a week of history"));
    clock.set_days_back(0);
    result
}

#[allow(
    clippy::too_many_lines,
    reason = "the week read day by day: its reference data, then departures, arrivals, extras and the audit"
)]
async fn week(web: &Api, clock: &DemoClock) -> anyhow::Result<()> {
    let p = HISTORY_PROPERTY;
    let start = clock.today();
    let day = |n: i64| (start + Duration::days(n)).to_string();
    web.post_ok(
        "/api/v1/properties",
        json!({"code": p, "name": "Sunbird Guesthouse", "timezone": "UTC", "currency": "ZAR"}),
    )
    .await?;
    web.post_ok(
        &format!("/api/v1/properties/{p}/room-types"),
        json!({"code": "DBL", "name": "Double", "max_occupancy": 2}),
    )
    .await?;
    for r in ROOMS {
        web.post_ok(
            &format!("/api/v1/properties/{p}/rooms"),
            json!({"number": r, "room_type": "DBL"}),
        )
        .await?;
    }
    web.put_ok(
        &format!("/api/v1/properties/{p}/rates/DBL"),
        json!({"from": day(0), "to": day(400), "amount": 95_000, "currency": "ZAR"}),
    )
    .await?;
    web.put_ok(
        &format!("/api/v1/properties/{p}/catalog"),
        json!({
            "taxes": [{"code": "VAT", "name": "VAT 15%", "rate_bp": 1500, "inclusive": true}],
            "items": [
                {"code": "ROOM", "name": "Accommodation", "price": null, "tax": "VAT", "group": "rooms"},
                {"code": "MINIBAR", "name": "Minibar", "price": 4500, "tax": "VAT", "group": "beverage"},
                {"code": "DINNER", "name": "Dinner", "price": 32000, "tax": "VAT", "group": "food"}
            ]
        }),
    )
    .await?;
    let guests = [
        "Ayesha Patel",
        "Johan Botha",
        "Mei Lin",
        "Carlos Mendes",
        "Grace Mensah",
        "Tom Becker",
        "Nomsa Zulu",
        "Ivan Petrov",
        "Sara Haddad",
        "Ruth Cohen",
        "Ola Nordmann",
        "Kofi Boateng",
    ];
    // (reference, departure day) of the guests in house.
    let mut in_house: Vec<(String, i64)> = vec![];
    let mut g = 0usize;
    for d in 0..HISTORY_DAYS {
        clock.set_days_back(HISTORY_DAYS - d);
        // Departures: the balance paid, checked out, invoiced.
        let (leaving, staying): (Vec<_>, Vec<_>) =
            in_house.into_iter().partition(|(_, dep)| *dep == d);
        in_house = staying;
        for (r, _) in leaving {
            let folio = web
                .call(
                    reqwest::Method::GET,
                    &format!("/api/v1/bookings/{r}/folio"),
                    None,
                )
                .await?
                .1;
            if let Some(due) = folio["balance"].as_i64().filter(|b| *b > 0) {
                let method = ["card", "cash", "transfer"][d as usize % 3];
                web.post_ok(
                    &format!("/api/v1/bookings/{r}/payments"),
                    json!({"amount": due, "currency": "ZAR", "method": method,
                           "kind": "payment", "reference": format!("SBG-{d}-{r}")}),
                )
                .await?;
            }
            web.post_ok(&format!("/api/v1/bookings/{r}/check-out"), json!({}))
                .await?;
            web.post_ok(&format!("/api/v1/bookings/{r}/invoices"), json!({}))
                .await?;
        }
        // Arrivals: one to three a day, for one to three nights, 30% paid ahead.
        for k in 0..(1 + (d % 3)) {
            let nights = 1 + (d + k) % 3;
            let name = guests[g % guests.len()];
            g += 1;
            let b = web
                .post_ok(
                    "/api/v1/bookings",
                    json!({"property": p, "room_type": "DBL", "arrival": day(d), "departure": day(d + nights),
                           "units": 1, "guest": {"name": name}, "status": "confirmed"}),
                )
                .await?;
            let Some(r) = b["reference"].as_str().map(str::to_string) else {
                continue;
            };
            if let Some(price) = b["price"]["amount"].as_i64() {
                web.post_ok(
                    &format!("/api/v1/bookings/{r}/payments"),
                    json!({"amount": price * 30 / 100, "currency": "ZAR", "method": "transfer",
                           "kind": "deposit", "reference": format!("DEP-SBG-{g}")}),
                )
                .await?;
            }
            for room in ROOMS {
                let (s, _) = web
                    .call(
                        reqwest::Method::POST,
                        &format!("/api/v1/bookings/{r}/check-in"),
                        Some(&json!({"room": room})),
                    )
                    .await?;
                if s.is_success() {
                    in_house.push((r.clone(), d + nights));
                    break;
                }
            }
        }
        // Extras for everyone in house, then the day's audit.
        for (i, (r, _)) in in_house.iter().enumerate() {
            let item = if (i + d as usize).is_multiple_of(2) {
                "DINNER"
            } else {
                "MINIBAR"
            };
            web.post_ok(
                &format!("/api/v1/bookings/{r}/charges"),
                json!({"item": item, "quantity": 1 + (i % 2)}),
            )
            .await?;
        }
        web.post_ok(
            "/api/v1/night-audit",
            json!({"property": p, "business_date": day(d)}),
        )
        .await?;
    }
    Ok(())
}
