//! `innsync allotment …`: who holds which of a property's rooms, moving units by hand, and
//! asking a holder for units.

use super::master::Target;
use crate::client::Api;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

/// The units and nights a grant or a request is about.
#[derive(Args, Debug)]
pub struct Units {
    /// Property code.
    #[arg(long)]
    pub property: String,
    /// Room type code.
    #[arg(long)]
    pub room_type: String,
    /// First night (YYYY-MM-DD).
    #[arg(long)]
    pub from: String,
    /// Morning after the last night (YYYY-MM-DD).
    #[arg(long)]
    pub to: String,
    /// Units on each night.
    #[arg(long)]
    pub units: u32,
    /// Why, for the audit log.
    #[arg(long)]
    pub reason: Option<String>,
}

/// `innsync allotment` subcommands.
#[derive(Subcommand, Debug)]
pub enum AllotmentCmd {
    /// Give units from a holder this server writes for (its own, unless --from-holder).
    Grant {
        #[command(flatten)]
        units: Units,
        /// Who receives them: env, or a server code.
        #[arg(long = "to-holder")]
        to_holder: String,
        /// Who gives them, when not this server's own authority.
        #[arg(long = "from-holder")]
        from_holder: Option<String>,
        #[command(flatten)]
        target: Target,
    },
    /// Ask a holder for units for this server (decided where the holder writes; queued as a
    /// pending operation while it cannot be reached).
    Request {
        #[command(flatten)]
        units: Units,
        /// Who is asked: env, or a server code.
        #[arg(long = "from-holder")]
        from_holder: String,
        #[command(flatten)]
        target: Target,
    },
    /// Print who holds what of a property, night by night, and any shortfalls.
    List {
        /// Property code.
        #[arg(long)]
        property: String,
        /// First night (YYYY-MM-DD).
        #[arg(long)]
        from: String,
        /// Morning after the last night (YYYY-MM-DD).
        #[arg(long)]
        to: String,
        #[command(flatten)]
        target: Target,
    },
}

fn body(u: &Units) -> Value {
    json!({
        "property": u.property, "room_type": u.room_type, "from": u.from, "to": u.to,
        "units": u.units, "reason": u.reason,
    })
}

fn refused(status: reqwest::StatusCode, a: &Value) -> anyhow::Error {
    anyhow::anyhow!(
        "{status} {}: {}",
        a["code"].as_str().unwrap_or("error"),
        a["detail"].as_str().unwrap_or("no detail")
    )
}

pub async fn run(cmd: AllotmentCmd) -> anyhow::Result<()> {
    match cmd {
        AllotmentCmd::Grant {
            units,
            to_holder,
            from_holder,
            target,
        } => {
            let mut b = body(&units);
            b["to_holder"] = json!(to_holder);
            b["from_holder"] = json!(from_holder);
            let api = Api::new(&target.url, &target.token)?;
            let (s, a) = api
                .call(Method::POST, "/api/v1/allotments/grant", Some(&b))
                .await?;
            if !s.is_success() {
                return Err(refused(s, &a));
            }
            println!(
                "granted {} x{} of {}/{} {}..{} from {} to {}",
                a["id"].as_str().unwrap_or("?"),
                a["units"],
                a["property"].as_str().unwrap_or("?"),
                a["room_type"].as_str().unwrap_or("?"),
                a["from"].as_str().unwrap_or("?"),
                a["to"].as_str().unwrap_or("?"),
                a["giver"].as_str().unwrap_or("?"),
                a["receiver"].as_str().unwrap_or("?"),
            );
            Ok(())
        }
        AllotmentCmd::Request {
            units,
            from_holder,
            target,
        } => {
            let mut b = body(&units);
            b["from_holder"] = json!(from_holder);
            let api = Api::new(&target.url, &target.token)?;
            let (s, a) = api
                .call(Method::POST, "/api/v1/allotments/request", Some(&b))
                .await?;
            match s.as_u16() {
                202 => println!(
                    "{from_holder} cannot be reached now; request queued as pending operation {}",
                    a["id"]
                ),
                _ if s.is_success() => println!(
                    "{} granted {} x{} to {}",
                    a["giver"].as_str().unwrap_or("?"),
                    a["id"].as_str().unwrap_or("?"),
                    a["units"],
                    a["receiver"].as_str().unwrap_or("?")
                ),
                _ => return Err(refused(s, &a)),
            }
            Ok(())
        }
        AllotmentCmd::List {
            property,
            from,
            to,
            target,
        } => {
            let api = Api::new(&target.url, &target.token)?;
            let (s, a) = api
                .call(
                    Method::GET,
                    &format!("/api/v1/allotments?property={property}&from={from}&to={to}"),
                    None,
                )
                .await?;
            if !s.is_success() {
                return Err(refused(s, &a));
            }
            print!("{}", render(&a));
            Ok(())
        }
    }
}

/// The holdings as a table: one line per room type and night, `holder held/sold` per holder.
pub fn render(a: &Value) -> String {
    let mut out = format!(
        "{} (owner {}), as seen from {}\n",
        a["property"].as_str().unwrap_or("?"),
        a["owner"].as_str().unwrap_or("?"),
        a["here"].as_str().unwrap_or("?")
    );
    for t in a["room_types"].as_array().into_iter().flatten() {
        for n in t["nights"].as_array().into_iter().flatten() {
            let holders: Vec<String> = n["holders"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|h| {
                    format!(
                        "{} {}/{}",
                        h["holder"].as_str().unwrap_or("?"),
                        h["sold"],
                        h["held"]
                    )
                })
                .collect();
            out.push_str(&format!(
                "{:<6} {} rooms {:>3} sold {:>3}  {}\n",
                t["code"].as_str().unwrap_or("?"),
                n["date"].as_str().unwrap_or("?"),
                n["in_service"],
                n["sold"],
                holders.join("  ")
            ));
        }
    }
    for s in a["shortfalls"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "SHORT {}/{} {}: {} holds {} and sold {} ({})\n",
            s["property"].as_str().unwrap_or("?"),
            s["room_type"].as_str().unwrap_or("?"),
            s["night"].as_str().unwrap_or("?"),
            s["holder"].as_str().unwrap_or("?"),
            s["held"],
            s["sold"],
            s["bookings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|b| b.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}
