//! The demo's agents and group reservations, so a newcomer sees them at once: a tour operator
//! owned by the lodge's property server with its contracted non-refundable rate and a group of
//! three lines booked for it; a safari agent on the master whose contracted allotment is the
//! office's `office-float-RVC` rule (its bookings are sold by RS, forwarded there); a wedding
//! party's reservation of several room types, occupancies and dates; and one line edited.
//! Everything the lodge's server sells here comes from what it holds: the web keeps two units of
//! each type (`web-keeps-2-of-KRL`), so the family units are the web's to sell.

use crate::client::Api;
use reqwest::Method;
use serde_json::json;

/// Creates the sample agents and reservations; `day(n)` is the date n days from today.
pub async fn seed(
    web: &Api,
    property_server: &Api,
    day: impl Fn(u64) -> String,
) -> anyhow::Result<()> {
    property_server
        .put_ok(
            "/api/v1/agents/KRLTOURS",
            json!({"name": "Kraal Tours", "contact": "Sipho Mahlangu", "email": "desk@kraaltours.example",
                   "commission_bp": 1500, "rate_plan": "NRF", "payment_terms": "30 days from invoice"}),
        )
        .await?;
    web.put_ok(
        "/api/v1/agents/SAFARI",
        json!({"name": "Big Five Safaris", "contact": "Anna Berg", "phone": "+27 21 555 0100",
               "commission_bp": 1000, "rate_plan": "BAR", "payment_terms": "on departure",
               "holder": "RS"}),
    )
    .await?;
    // A tour group for the operator: three lines on its contracted rate.
    property_server
        .post_ok(
            "/api/v1/bookings",
            json!({"property": "KRL", "arrival": day(5), "departure": day(8), "agent": "KRLTOURS",
            "guest": {"name": "Kraal Tours group 12", "email": "groups@kraaltours.example"},
            "notes": "Tour group: vegetarian dinner for four",
            "lines": [
                {"room_type": "STD", "units": 2, "adults": 2},
                {"room_type": "LUX", "adults": 2}
            ]}),
        )
        .await?;
    // A wedding party: the couple's suite a night longer, the families on BAR.
    let wedding = property_server
        .post_ok(
            "/api/v1/bookings",
            json!({"property": "KRL", "arrival": day(12), "departure": day(14),
            "guest": {"name": "Amahle Zulu", "email": "amahle@example.com"},
            "lines": [
                {"room_type": "LUX", "adults": 2, "rate_plan": "BAR", "departure": day(15)},
                {"room_type": "STD", "units": 2, "adults": 2, "rate_plan": "BAR"},
                {"room_type": "STD", "adults": 1, "children": [7], "rate_plan": "BAR"}
            ]}),
        )
        .await?;
    // The second line is edited: one more night (re-priced by BAR's rule, in its history).
    if let Some(r) = wedding["lines"][1]["reference"].as_str() {
        property_server
            .call(
                Method::PATCH,
                &format!("/api/v1/bookings/{r}"),
                Some(&json!({"departure": day(15), "notes": "staying for the brunch"})),
            )
            .await?;
    }
    // The safari agent's booking is sold from RS's float: forwarded there. Best effort: RS
    // may not have received the agent or its units yet when the demo starts.
    let _ = web
        .call(
            Method::POST,
            "/api/v1/bookings?forward=true",
            Some(&json!({"property": "RVC", "room_type": "TNT", "arrival": day(20), "departure": day(22),
                         "agent": "SAFARI", "adults": 2,
                         "guest": {"name": "Jonas Berg", "email": "jonas@example.com"}})),
        )
        .await?;
    Ok(())
}
