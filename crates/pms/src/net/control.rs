//! A tiny line-based TCP control protocol for a running gateway, so integrators can play the PBX
//! from another process (`nc 127.0.0.1 PORT`). One command per line; every answer ends with a
//! line `OK …` or `ERR …`.
//!
//! ```text
//! MODE                  -> OK Normal | Cycle | Abandoned | Committing
//! ROOM 101              -> ROOM 101 occupied=1 mw=0 maid=3 name=Rogers / OK
//! ROOMS                 -> one ROOM line per room / OK <count>
//! LOG [n]               -> the last n (default 20) hotel log lines / OK
//! STS 3 101 | MW 1 101 | RTI   -> OK queued | OK held   (raised as the PBX would)
//! DISCONNECT            -> OK (drops the PMS connection)
//! ```

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::gateway::GatewayHandle;
use crate::directory::RoomRecord;
use crate::mitel::Message;
use crate::room::Extension;
use crate::settings::MAX_EXTENSION_WIDTH;
use crate::system_side::RaiseOutcome;

/// Longest command line accepted.
const MAX_LINE: u64 = 256;
/// Most control connections served at once.
const MAX_CONNECTIONS: usize = 8;
/// Most log lines returned by `LOG n`.
const MAX_LOG_LINES: usize = 1_000;

/// Serves the control protocol on `listener` until the gateway stops.
pub async fn serve_control(listener: TcpListener, handle: GatewayHandle) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, _) = listener.accept().await?;
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            drop(stream); // too many operators at once
            continue;
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = serve_one(stream, handle).await {
                tracing::debug!(error = %e, "gateway control connection ended");
            }
        });
    }
}

async fn serve_one(stream: TcpStream, handle: GatewayHandle) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line).trim().to_owned();
        if text.is_empty() {
            continue;
        }
        let answer = answer(&text, &handle).await;
        write.write_all(answer.as_bytes()).await?;
        if answer.starts_with("ERR gateway stopped") {
            return Ok(());
        }
    }
}

fn room_line(extension: &Extension, r: &RoomRecord) -> String {
    format!(
        "ROOM {} occupied={} mw={} maid={} name={}\n",
        extension,
        u8::from(r.occupied),
        u8::from(r.message_waiting),
        r.maid_status.map_or(0, |m| m.code()),
        r.name.as_ref().map_or("", |n| n.as_str())
    )
}

/// Runs one command and renders its answer (always ending with an `OK`/`ERR` line).
pub async fn answer(line: &str, handle: &GatewayHandle) -> String {
    const STOPPED: &str = "ERR gateway stopped\n";
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or_default().to_ascii_uppercase();
    match verb.as_str() {
        "MODE" => match handle.mode().await {
            Ok(m) => format!("OK {m:?}\n"),
            Err(_) => STOPPED.into(),
        },
        "ROOM" => {
            let Some(Ok(extension)) = words.next().map(Extension::new) else {
                return "ERR usage: ROOM <extension>\n".into();
            };
            match handle.room(extension.clone()).await {
                Ok(Some(r)) => format!("{}OK\n", room_line(&extension, &r)),
                Ok(None) => "ERR no such room\n".into(),
                Err(_) => STOPPED.into(),
            }
        }
        "ROOMS" => match handle.rooms().await {
            Ok(rooms) => {
                let mut out: String = rooms.iter().map(|(e, r)| room_line(e, r)).collect();
                out.push_str(&format!("OK {}\n", rooms.len()));
                out
            }
            Err(_) => STOPPED.into(),
        },
        "LOG" => {
            let n = words
                .next()
                .and_then(|w| w.parse::<usize>().ok())
                .unwrap_or(20)
                .min(MAX_LOG_LINES);
            match handle.hotel_log().await {
                Ok(entries) => {
                    let skip = entries.len().saturating_sub(n);
                    let mut out: String = entries
                        .iter()
                        .skip(skip)
                        .map(|e| format!("{} {}\n", e.at, e.event))
                        .collect();
                    out.push_str("OK\n");
                    out
                }
                Err(_) => STOPPED.into(),
            }
        }
        "STS" | "MW" | "RTI" => match Message::parse(line.trim().as_bytes(), MAX_EXTENSION_WIDTH) {
            Ok(message) => match handle.raise(message).await {
                Ok(RaiseOutcome::Queued) => "OK queued\n".into(),
                Ok(RaiseOutcome::HeldUntilCycleEnds) => "OK held\n".into(),
                Err(e) => format!("ERR {e}\n"),
            },
            Err(e) => format!("ERR {e}\n"),
        },
        "DISCONNECT" => match handle.disconnect_pms().await {
            Ok(()) => "OK\n".into(),
            Err(_) => STOPPED.into(),
        },
        "HELP" => "MODE | ROOM <ext> | ROOMS | LOG [n] | STS <code> <ext> | MW <0|1> <ext> | RTI | DISCONNECT\nOK\n".into(),
        _ => "ERR unknown command (try HELP)\n".into(),
    }
}
