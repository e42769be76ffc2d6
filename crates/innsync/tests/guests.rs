//! Guest profiles over HTTP against a real server process (issue 17): a returning guest found
//! by e-mail and by a misspelt name, booked again by `guest_id`, the history showing both
//! stays, an edit with `If-Match`, a merge, the export and the erasure; bad input refused as
//! problem+json with nothing written.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn audit_len(api: &Api) -> usize {
    api.get("/api/v1/audit?limit=1000").await.body["audit"]
        .as_array()
        .map_or(0, Vec::len)
}

fn ids(search: &Value) -> Vec<(String, String)> {
    search["guests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["id"].as_str().unwrap().to_string(),
                g["matched"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_returning_guest_is_found_booked_again_merged_exported_and_erased() {
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 3).await;

    // First stay: a new guest.
    let first = api
        .ok(
            "/api/v1/bookings",
            json!({"property": "KRL", "room_type": "DLX", "arrival": day(1), "departure": day(3),
                   "guest": {"name": "Ada Lovelace", "email": "Ada@Example.com", "phone": "+44 20 7946 0018"}}),
        )
        .await;
    assert_eq!(first["returning_guest"], false);
    let gid = first["guest"]["id"].as_str().unwrap().to_string();
    let first_ref = first["reference"].as_str().unwrap().to_string();

    // Found again by e-mail (any case), by a misspelt name, by phone digits, by reference.
    let by_email = api.get("/api/v1/guests?q=ada%40example.com").await;
    assert_eq!(by_email.status, 200, "{:?}", by_email.body);
    assert_eq!(
        ids(&by_email.body),
        vec![(gid.clone(), "exact".to_string())]
    );
    assert_eq!(by_email.body["guests"][0]["by"], "email");
    let misspelt = api.get("/api/v1/guests?q=Lovelase").await.body;
    assert_eq!(ids(&misspelt), vec![(gid.clone(), "fuzzy".to_string())]);
    let phone = api.get("/api/v1/guests?q=7946%200018").await.body;
    assert_eq!(ids(&phone)[0].0, gid);
    let by_ref = api.get(&format!("/api/v1/guests?q={first_ref}")).await.body;
    assert_eq!(by_ref["guests"][0]["by"], "reference");

    // Booked again by reference to the same guest: no new guest, and she is returning.
    let second = api
        .ok(
            "/api/v1/bookings",
            json!({"property": "KRL", "room_type": "DLX", "arrival": day(10), "departure": day(12),
                   "guest_id": gid}),
        )
        .await;
    assert_eq!(second["returning_guest"], true);
    assert_eq!(second["guest"]["id"], gid.as_str());
    assert_eq!(second["guest"]["name"], "Ada Lovelace");
    assert_eq!(second["guest"]["email"], "Ada@Example.com");

    let history = api.get(&format!("/api/v1/guests/{gid}/history")).await.body;
    let stays = history["stays"].as_array().unwrap();
    assert_eq!(stays.len(), 2);
    assert_eq!(stays[0]["arrival"], day(10), "newest first");
    assert_eq!(stays[1]["reference"], first_ref.as_str());
    assert_eq!(
        history["total_spend"],
        json!([{"currency": "ZAR", "amount": 40000}])
    );
    assert_eq!(history["returning"], true);

    // Bad input: refused precisely, nothing written.
    let before = audit_len(&api).await;
    api.get("/api/v1/guests")
        .await
        .problem(400, "invalid_input");
    api.get("/api/v1/guests?q=ada&limit=0")
        .await
        .problem(400, "invalid_input");
    api.get("/api/v1/guests?q=ada&colour=red")
        .await
        .problem(400, "invalid_input");
    let patch = |body: Value, etag: &'static str| {
        let api = api.clone();
        let gid = gid.clone();
        async move {
            let h: Vec<(&str, &str)> = if etag.is_empty() {
                vec![]
            } else {
                vec![("if-match", etag)]
            };
            api.send(
                Method::PATCH,
                &format!("/api/v1/guests/{gid}"),
                Some(body),
                &h,
            )
            .await
        }
    };
    patch(json!({"colour": "red"}), "")
        .await
        .problem(400, "invalid_input");
    patch(json!({"email": "not an address"}), "")
        .await
        .problem(400, "invalid_input");
    patch(json!({"preferences": "quiet"}), "\"7\"")
        .await
        .problem(409, "version_conflict");
    api.post(
        "/api/v1/guests/merge",
        json!({"survivor": gid, "merged": gid}),
    )
    .await
    .problem(400, "invalid_input");
    api.post(
        "/api/v1/guests/merge",
        json!({"survivor": gid, "merged": "nonsense"}),
    )
    .await
    .problem(400, "invalid_input");
    api.post(
        "/api/v1/bookings",
        json!({"property": "KRL", "room_type": "DLX", "arrival": day(20), "departure": day(21),
               "guest_id": "WB-999999"}),
    )
    .await
    .problem(404, "not_found");
    api.get("/api/v1/guests/WB-999999/history")
        .await
        .problem(404, "not_found");
    assert_eq!(audit_len(&api).await, before, "a refusal writes nothing");

    // An edit on the owner, at the version it read.
    let g = api.get(&format!("/api/v1/guests/{gid}")).await;
    let etag = g.headers["etag"].to_str().unwrap().to_string();
    let etag: &'static str = Box::leak(etag.into_boxed_str());
    let edited = patch(
        json!({"preferences": "feather-free pillows", "notes": "VIP"}),
        etag,
    )
    .await;
    assert_eq!(edited.status, 200, "{:?}", edited.body);
    assert_eq!(edited.body["preferences"], "feather-free pillows");

    // A second profile of the same person, merged into the first.
    let dup = api
        .ok(
            "/api/v1/bookings",
            json!({"property": "KRL", "room_type": "DLX", "arrival": day(20), "departure": day(21),
                   "guest": {"name": "A. Lovelace", "phone": "+44 1632 960000"}}),
        )
        .await;
    let dup_id = dup["guest"]["id"].as_str().unwrap().to_string();
    let dup_ref = dup["reference"].as_str().unwrap().to_string();
    let merged = api
        .ok(
            "/api/v1/guests/merge",
            json!({"survivor": gid, "merged": dup_id, "reason": "same person"}),
        )
        .await;
    assert_eq!(merged["id"], gid.as_str());
    assert_eq!(
        merged["phone"], "+44 20 7946 0018",
        "the survivor's own phone is kept"
    );
    let via_old = api.get(&format!("/api/v1/guests/{dup_id}")).await.body;
    assert_eq!(
        (via_old["id"].as_str(), via_old["merged_from"].as_str()),
        (Some(gid.as_str()), Some(dup_id.as_str()))
    );
    let dup_booking = api.get(&format!("/api/v1/bookings/{dup_ref}")).await.body;
    assert_eq!(
        dup_booking["guest"]["id"],
        gid.as_str(),
        "reads follow the merge"
    );
    let history = api.get(&format!("/api/v1/guests/{gid}/history")).await.body;
    assert_eq!(history["stays"].as_array().unwrap().len(), 3);
    let audit = api.get("/api/v1/audit?limit=1000").await.body.to_string();
    assert!(audit.contains("guest.merge"), "the merge is audited");

    // Export: everything held about her.
    let export = api.get(&format!("/api/v1/guests/{gid}/export")).await;
    assert_eq!(export.status, 200, "{:?}", export.body);
    assert_eq!(export.body["guest"]["preferences"], "feather-free pillows");
    assert_eq!(export.body["merged_profiles"], json!([dup_id]));
    assert_eq!(export.body["bookings"].as_array().unwrap().len(), 3);

    // Erasure: the profile and every booking anonymised, the dates and money kept.
    let erased = api
        .ok(
            &format!("/api/v1/guests/{gid}/erase"),
            json!({"reason": "POPIA request"}),
        )
        .await;
    assert_eq!(erased["name"], "Erased guest");
    assert_eq!(erased["bookings_written"], 3);
    for r in [&first_ref, &dup_ref] {
        let b = api.get(&format!("/api/v1/bookings/{r}")).await.body;
        assert_eq!(b["guest"]["name"], "Erased guest");
        assert!(b["guest"].get("email").is_none());
        assert!(b["price"]["amount"].as_i64().unwrap() > 0);
    }
    let g = api.get(&format!("/api/v1/guests/{gid}")).await.body;
    assert_eq!(
        (g["name"].as_str(), g["erased"].as_bool()),
        (Some("Erased guest"), Some(true))
    );
    assert!(g.get("email").is_none_or(Value::is_null) && g.get("preferences").is_none());
    assert!(ids(&api.get("/api/v1/guests?q=lovelace").await.body).is_empty());
    assert!(ids(&api.get("/api/v1/guests?q=ada%40example.com").await.body).is_empty());
    let audit = api.get("/api/v1/audit?limit=1000").await.body.to_string();
    assert!(
        !audit.contains("Lovelace"),
        "the audit keeps no copy of the name"
    );
    api.post(
        "/api/v1/bookings",
        json!({"property": "KRL", "room_type": "DLX", "arrival": day(30), "departure": day(31),
               "guest_id": gid}),
    )
    .await
    .problem(400, "invalid_input");
    s.check_invariants();
}

/// The booking form's look-up finds a returning guest, the form books her by `guest_id`, and
/// her page lists both stays.
#[tokio::test]
async fn the_ui_looks_a_returning_guest_up_books_her_and_shows_her_history() {
    use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 3).await;
    api.ok(
        "/api/v1/users",
        json!({"username": "agent", "password": "agent-pass-123", "roles": ["reservations"]}),
    )
    .await;
    let first = api
        .ok(
            "/api/v1/bookings",
            json!({"property": "KRL", "room_type": "DLX", "arrival": day(1), "departure": day(3),
                   "guest": {"name": "Zoë Müller", "email": "zoe@example.com"}}),
        )
        .await;
    let gid = first["guest"]["id"].as_str().unwrap().to_string();
    let http = common::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = http
        .post(format!("{}/ui/login", s.base))
        .form(&[("username", "agent"), ("password", "agent-pass-123")])
        .send()
        .await
        .unwrap();
    let cookie = login.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let get = |path: String| {
        let (http, cookie, base) = (http.clone(), cookie.clone(), s.base.clone());
        async move {
            let r = http
                .get(format!("{base}{path}"))
                .header(COOKIE, cookie)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, matches) = get("/ui/guests/lookup?guest_q=zoe".into()).await;
    assert_eq!(status, 200);
    assert!(
        matches.contains("Zoë Müller") && matches.contains(&format!("value=\"{gid}\"")),
        "{matches}"
    );
    assert!(matches.contains("returning guest"), "{matches}");
    let (_, form) = get("/ui/bookings/new".into()).await;
    assert!(form.contains("data-testid=\"guest-lookup\""));
    let at = form.find("name=\"_csrf\" value=\"").unwrap() + "name=\"_csrf\" value=\"".len();
    let csrf = form[at..].split('"').next().unwrap().to_string();
    let (arrival, departure) = (day(10), day(12));
    let booked = http
        .post(format!("{}/ui/bookings", s.base))
        .header(COOKIE, &cookie)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("stock", "KRL/DLX"),
            ("arrival", &arrival),
            ("departure", &departure),
            ("guest_id", &gid),
            ("idem", "ui-guest-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(booked.status().as_u16(), 303);
    let to = booked.headers()[LOCATION].to_str().unwrap().to_string();
    let reference = to
        .trim_start_matches("/ui/bookings/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let b = api.get(&format!("/api/v1/bookings/{reference}")).await.body;
    assert_eq!(b["guest"]["id"], gid.as_str());
    let (status, page) = get(format!("/ui/guests/{gid}")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Zoë Müller") && page.contains(&reference),
        "{page}"
    );
    assert!(page.contains("returning guest"));
    let (status, _) = get("/ui/guests/WB-999999".into()).await;
    assert_eq!(status, 404);
}
