//! The one way to start `innsync serve` from another process: the end-to-end tests, the
//! benches (`innsync bench …`) and the fault harness all use it, so a change to how a server
//! announces itself (its `listening ADDR` line) or takes its admin token is made here once.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// How to start one server.
#[derive(Clone, Copy, Debug)]
pub struct Serve<'a> {
    /// The `innsync` executable.
    pub binary: &'a Path,
    /// The arguments after `serve` (listen address, data directory, server, settings…).
    pub args: &'a [String],
    /// The admin token it registers (`INNSYNC_ADMIN_TOKEN`).
    pub token: &'a str,
    /// Its log filter (`RUST_LOG`).
    pub log: &'a str,
}

/// A started server: its process and the address it announced.
#[derive(Debug)]
pub struct Launched {
    /// The process (kill it to stop the server).
    pub child: Child,
    /// The base URL from its `listening ADDR` line (`http://127.0.0.1:PORT`).
    pub addr: String,
}

/// Why a server did not start.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The executable could not be run.
    #[error("starting {binary}: {source}")]
    Spawn {
        /// The executable.
        binary: String,
        /// Why.
        source: std::io::Error,
    },
    /// It did not announce an address (it refused its arguments or failed to start).
    #[error("the server did not start: {line:?}")]
    NoAddress {
        /// What it printed first instead.
        line: String,
    },
}

/// Starts `binary serve ARGS`, waits for its `listening ADDR` line and keeps draining its
/// output (a closed pipe must not be what stops it). Its standard error is inherited.
pub fn serve(s: Serve<'_>) -> Result<Launched, LaunchError> {
    let mut child = Command::new(s.binary)
        .arg("serve")
        .args(s.args)
        .env("INNSYNC_ADMIN_TOKEN", s.token)
        .env("RUST_LOG", s.log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| LaunchError::Spawn {
            binary: s.binary.display().to_string(),
            source,
        })?;
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(LaunchError::NoAddress {
            line: "no stdout".into(),
        });
    };
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    let _ = reader.read_line(&mut line);
    let Some(addr) = line.trim().strip_prefix("listening ").map(str::to_string) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(LaunchError::NoAddress { line });
    };
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    Ok(Launched { child, addr })
}
