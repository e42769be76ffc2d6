//! The demo's money: each property's charge catalogue (VAT 15% included, minibar, dinner,
//! laundry), a 30% deposit on every booking taken at the web office (whoever owns the
//! booking), extras on the guests in house, and tonight's night audit on each server, so the
//! folios, invoices and reports show something.

use crate::client::Api;
use serde_json::json;

/// A demo booking: the server that owns it, its reference, its price, whether it is in house.
pub struct DemoBooking<'a> {
    /// The server that owns it.
    pub owner: &'a Api,
    /// Its reference.
    pub reference: String,
    /// Its price in minor units, if priced.
    pub price: Option<i64>,
    /// Whether the guest checked in.
    pub in_house: bool,
}

/// Seeds catalogues, deposits, extras and the night audit.
pub async fn seed(
    web: &Api,
    property_server: &Api,
    bookings: &[DemoBooking<'_>],
) -> anyhow::Result<()> {
    for (code, api) in [("KRL", property_server), ("RVC", web)] {
        api.put_ok(
            &format!("/api/v1/properties/{code}/catalog"),
            json!({
                "taxes": [{"code": "VAT", "name": "VAT 15%", "rate_bp": 1500, "inclusive": true}],
                "items": [
                    {"code": "ROOM", "name": "Accommodation", "price": null, "tax": "VAT", "group": "rooms"},
                    {"code": "MINIBAR", "name": "Minibar", "price": 4500, "tax": "VAT", "group": "beverage"},
                    {"code": "DINNER", "name": "Dinner", "price": 38000, "tax": "VAT", "group": "food"},
                    {"code": "LAUNDRY", "name": "Laundry", "price": 12000, "tax": "VAT", "group": "other"}
                ]
            }),
        )
        .await?;
    }
    for (i, b) in bookings.iter().enumerate() {
        if let Some(price) = b.price {
            let method = ["card", "transfer"][i % 2];
            web.post_ok(
                &format!("/api/v1/bookings/{}/payments", b.reference),
                json!({"amount": price * 30 / 100, "currency": "ZAR", "method": method,
                       "kind": "deposit", "reference": format!("DEP-{:04}", i + 1)}),
            )
            .await?;
        }
        if b.in_house {
            for item in ["DINNER", "MINIBAR"] {
                b.owner
                    .post_ok(
                        &format!("/api/v1/bookings/{}/charges", b.reference),
                        json!({"item": item, "quantity": 2}),
                    )
                    .await?;
            }
        }
    }
    for (code, api) in [("KRL", property_server), ("RVC", web)] {
        api.post_ok("/api/v1/night-audit", json!({"property": code}))
            .await?;
    }
    Ok(())
}
