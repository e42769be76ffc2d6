//! The demo's rate plans, so a newcomer sees them at once: at Kraal Lodge (on its property
//! server) a best-available plan with family prices by occupancy, a festive season with a
//! minimum stay and a closed-to-arrival day, and a non-refundable plan derived from it; at
//! River Camp (env-owned, on the master) a plan with a cheaper green season.

use crate::client::Api;
use serde_json::json;

/// Creates the sample plans; `day(n)` is the date n days from today.
pub async fn seed(
    web: &Api,
    property_server: &Api,
    day: impl Fn(u64) -> String,
) -> anyhow::Result<()> {
    let family = |amount: Option<i64>| {
        let mut v = json!({"room_type": "FAM", "adults_included": 2, "extra_adult": 55_000,
            "children": [{"up_to_age": 2, "amount": 0}, {"up_to_age": 12, "amount": 35_000}],
            "max_adults": 4});
        if let Some(a) = amount {
            v["amount"] = json!(a);
        }
        v
    };
    property_server
        .put_ok(
            "/api/v1/properties/KRL/rate-plans/BAR",
            json!({
                "name": "Best available rate",
                "basis": {"kind": "base"},
                "occupancy": [family(None),
                    {"room_type": "STD", "adults_included": 2, "children": [{"up_to_age": 12, "amount": 25_000}]}],
                "seasons": [{"name": "Festive season", "from": day(20), "to": day(35),
                    "prices": [family(Some(340_000)),
                        {"room_type": "STD", "amount": 195_000, "adults_included": 2},
                        {"room_type": "LUX", "amount": 420_000, "adults_included": 2}]}],
                "restrictions": [
                    {"from": day(20), "to": day(35), "min_stay_arrival": 3},
                    {"from": day(7), "to": day(8), "closed_to_arrival": true},
                    {"from": day(40), "to": day(42), "room_types": ["LUX"], "stop_sell": true}
                ],
                "reprice_on_edit": true,
                "refundable": true,
                "deposit": {"kind": "percent", "percent": 30, "due": {"days_after_booking": 3}},
                "cancellation": {"free_until_days_before": 14, "late": {"kind": "first_night"}, "no_show": {"kind": "first_night"}}
            }),
        )
        .await?;
    property_server
        .put_ok(
            "/api/v1/properties/KRL/rate-plans/NRF",
            json!({
                "name": "Non-refundable (10 % off)",
                "basis": {"kind": "derived", "from": "BAR", "adjust": {"percent_bp": -1000},
                          "rounding": {"step": 500, "mode": "nearest"}},
                "reprice_on_edit": false,
                "refundable": false,
                "deposit": {"kind": "first_night", "due": {"days_after_booking": 0}},
                "cancellation": {"free_until_days_before": null, "late": {"kind": "full_stay"}, "no_show": {"kind": "full_stay"}}
            }),
        )
        .await?;
    web.put_ok(
        "/api/v1/properties/RVC/rate-plans/BAR",
        json!({
            "name": "Best available rate",
            "basis": {"kind": "base"},
            "seasons": [{"name": "Green season", "from": day(60), "to": day(150),
                "prices": [{"room_type": "TNT", "amount": 78_000, "adults_included": 2},
                           {"room_type": "TRE", "amount": 175_000, "adults_included": 2}]}],
            "restrictions": [{"from": day(0), "to": day(365), "room_types": ["TRE"], "min_stay_through": 2}]
        }),
    )
    .await?;
    // A family booked on the non-refundable plan: its price is stored on the booking.
    property_server
        .post_ok(
            "/api/v1/bookings",
            json!({"property": "KRL", "room_type": "FAM", "arrival": day(5), "departure": day(7), "units": 1,
                "guest": {"name": "Botha family", "email": "botha@example.com"},
                "rate_plan": "NRF", "adults": 2, "children": [7, 11]}),
        )
        .await?;
    Ok(())
}
