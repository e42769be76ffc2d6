//! The demo's returning guests (issue 17): a few guest profiles with several stays each at
//! River Camp (sold by the web server), booked again by `guest_id` rather than copied, with
//! preferences, so the guest search, history and "returning guest" badge show at once.

use crate::client::Api;
use anyhow::Context;
use chrono::Days;
use reqwest::Method;
use serde_json::json;

/// A stay: room type, first night in days from today, nights.
type DemoStay = (&'static str, u64, u64);
/// A returning guest: name, e-mail, phone, preferences, and their stays.
type DemoGuest = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [DemoStay],
);

/// The returning guests.
const RETURNING: [DemoGuest; 3] = [
    (
        "Zoë Müller",
        "zoe.mueller@example.com",
        "+49 30 901820",
        "Tree house when free; vegetarian",
        &[("TNT", 20, 2), ("TRE", 45, 3), ("TNT", 90, 2)],
    ),
    (
        "Ada Lovelace",
        "ada@example.com",
        "+44 20 7946 0018",
        "Quiet tent away from the deck",
        &[("TNT", 25, 2), ("TNT", 60, 4)],
    ),
    (
        "Sipho Mthembu",
        "sipho@example.co.za",
        "+27 82 555 0101",
        "Early game drive; allergic to nuts",
        &[("TRE", 30, 2), ("TRE", 75, 2), ("TNT", 120, 3)],
    ),
];

/// Books every returning guest's stays on `web`: the first creates the profile, the others
/// refer to it; then their preferences are written on the profile.
pub async fn seed(web: &Api) -> anyhow::Result<()> {
    let today = super::demo::today();
    let day = |n: u64| (today + Days::new(n)).to_string();
    for (name, email, phone, prefs, stays) in RETURNING {
        let mut guest_id: Option<String> = None;
        for (room_type, from, nights) in stays {
            let guest = match &guest_id {
                Some(id) => json!({"guest_id": id}),
                None => json!({"guest": {"name": name, "email": email, "phone": phone}}),
            };
            let mut body = json!({"property": "RVC", "room_type": room_type,
                "arrival": day(*from), "departure": day(from + nights), "units": 1,
                "status": "confirmed"});
            if let (Some(b), Some(g)) = (body.as_object_mut(), guest.as_object()) {
                b.extend(g.clone());
            }
            let b = web.post_ok("/api/v1/bookings", body).await?;
            if guest_id.is_none() {
                guest_id = b["guest"]["id"].as_str().map(str::to_string);
            }
        }
        let id = guest_id.with_context(|| format!("no guest id for {name}"))?;
        let (status, v) = web
            .call(
                Method::PATCH,
                &format!("/api/v1/guests/{id}"),
                Some(&json!({"preferences": prefs})),
            )
            .await?;
        if !status.is_success() {
            anyhow::bail!("preferences of {name}: {status} {}", v["detail"]);
        }
    }
    Ok(())
}
