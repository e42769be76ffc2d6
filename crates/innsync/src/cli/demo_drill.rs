//! The demo's partition drill: the lodge's property server (PA) is cut off from everyone, the
//! web server (WB) and PA both sell the same night of PA's rooms — each only what its allotment
//! holds — then the link returns, every server converges, and the drill checks from every
//! server that no night was sold beyond its rooms. It runs for real, over the demo's own
//! links (fault proxies in front of PA), and fails the demo loudly if the guarantee breaks.

use crate::client::Api;
use anyhow::{bail, Context};
use chrono::NaiveDate;
use innsync_faultproxy::ProxyHandle;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// How long the drill waits for a rule, a sale or a heal to show before it gives up.
pub const DRILL_WAIT: Duration = Duration::from_secs(60);
/// Most bookings one side tries before the drill calls it a failure (far above the rooms).
const MAX_TRIES: usize = 50;

/// Polls `check` until it gives a value, within [`DRILL_WAIT`].
async fn until<T, F: std::future::Future<Output = anyhow::Result<Option<T>>>>(
    what: &str,
    mut check: impl FnMut() -> F,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + DRILL_WAIT;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("partition drill: gave up waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn held_here(
    api: &Api,
    property: &str,
    room_type: &str,
    night: NaiveDate,
) -> anyhow::Result<u64> {
    let (_, a) = api
        .call(
            Method::GET,
            &format!(
                "/api/v1/availability?property={property}&from={night}&to={}",
                night.succ_opt().unwrap_or(night)
            ),
            None,
        )
        .await?;
    Ok(a["room_types"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["code"] == room_type)
        .and_then(|t| t["nights"][0]["held_here"].as_u64())
        .unwrap_or(0))
}

/// Books one night of `room_type` on `api` until it is refused; how many it sold.
async fn sell_out(
    api: &Api,
    property: &str,
    room_type: &str,
    night: NaiveDate,
    who: &str,
) -> anyhow::Result<usize> {
    for i in 0..MAX_TRIES {
        let body = json!({"property": property, "room_type": room_type, "arrival": night.to_string(),
            "departure": night.succ_opt().unwrap_or(night).to_string(), "units": 1,
            "guest": {"name": format!("{who} guest {}", i + 1)}, "status": "confirmed",
            "notes": "partition drill"});
        let (s, a) = api
            .call(Method::POST, "/api/v1/bookings", Some(&body))
            .await?;
        match s.as_u16() {
            201 => {}
            409 if a["code"] == "no_availability" => return Ok(i),
            _ => bail!("partition drill: {who} answered {s}: {}", a["detail"]),
        }
    }
    bail!("partition drill: {who} sold more than {MAX_TRIES} rooms of one night")
}

async fn digest(api: &Api) -> anyhow::Result<String> {
    let (_, a) = api.call(Method::GET, "/api/v1/digest", None).await?;
    Ok(a["digest"].as_str().unwrap_or_default().to_string())
}

/// Runs the drill on `night` of `property`/`room_type`; `apis` are WB, RS, PA and `to_pa` the
/// proxies on every link into and out of PA. Returns the report it prints.
pub async fn run(
    apis: &[Api; 3],
    to_pa: &[ProxyHandle],
    property: &str,
    room_type: &str,
    night: NaiveDate,
) -> anyhow::Result<String> {
    let [wb, _rs, pa] = apis;
    // The standing rule has given the web its units of the lodge for that night.
    until("the web's allotment of the lodge", || async {
        Ok((held_here(wb, property, room_type, night).await? > 0).then_some(()))
    })
    .await?;
    for p in to_pa {
        p.cut();
    }
    let web = sell_out(wb, property, room_type, night, "Web").await?;
    let lodge = sell_out(pa, property, room_type, night, "Lodge").await?;
    for p in to_pa {
        p.heal();
    }
    let want = until("the lodge's sales to reach the web", || async {
        let d = digest(wb).await?;
        let mut same = true;
        for api in apis {
            same &= digest(api).await? == d;
        }
        Ok(same.then_some(d))
    })
    .await?;
    let mut report = format!(
        "partition drill on {property}/{room_type} {night}: PA cut off; WB sold {web}, PA sold {lodge}; \
         after the heal every server agrees (digest {})\n",
        &want[..12.min(want.len())]
    );
    for (code, api) in ["WB", "RS", "PA"].iter().zip(apis) {
        let (_, a) = api
            .call(
                Method::GET,
                &format!(
                    "/api/v1/allotments?property={property}&from={night}&to={}",
                    night.succ_opt().unwrap_or(night)
                ),
                None,
            )
            .await
            .context("reading the allotments")?;
        let n = a["room_types"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["code"] == room_type)
            .map(|t| t["nights"][0].clone())
            .unwrap_or(Value::Null);
        let sold = n["sold"].as_u64().unwrap_or(u64::MAX);
        let rooms = n["in_service"].as_u64().unwrap_or(0);
        if sold > rooms || sold as usize != web + lodge {
            bail!("partition drill FAILED on {code}: {sold} sold of {rooms} rooms ({n})");
        }
        let holders: Vec<String> = n["holders"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|h| {
                format!(
                    "{} sold {} of {}",
                    h["holder"].as_str().unwrap_or("?"),
                    h["sold"],
                    h["held"]
                )
            })
            .collect();
        report.push_str(&format!(
            "  seen on {code}: {sold} of {rooms} rooms sold, never twice ({})\n",
            holders.join("; ")
        ));
    }
    Ok(report)
}
