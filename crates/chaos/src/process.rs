//! One real `innsync serve` process: started from a given binary on a fixed loopback port and
//! data directory, killed with SIGKILL (kill -9) and restarted on the same port and directory,
//! paused with SIGSTOP and resumed with SIGCONT.

use std::path::{Path, PathBuf};
use std::process::Child;

/// How a server stands, as the harness left it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Running.
    Running,
    /// Stopped with SIGSTOP.
    Paused,
    /// Killed, not restarted yet.
    Dead,
}

/// Why a process could not be started or signalled.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// Spawning failed.
    #[error("starting {binary}: {source}")]
    Spawn {
        /// The binary.
        binary: String,
        /// Why.
        source: std::io::Error,
    },
    /// It did not print its address.
    #[error("server {code} did not start: it printed {line:?}")]
    NoAddress {
        /// The server.
        code: String,
        /// What it printed instead.
        line: String,
    },
    /// A signal could not be sent.
    #[error("signal {signal} to server {code}: {source}")]
    Signal {
        /// The server.
        code: String,
        /// The signal.
        signal: i32,
        /// Why.
        source: std::io::Error,
    },
}

/// A server process the harness controls.
pub struct ServerProcess {
    /// Its code.
    pub code: String,
    /// Its data directory.
    pub dir: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
    binary: PathBuf,
    args: Vec<String>,
    token: String,
    child: Option<Child>,
    liveness: Liveness,
    /// The clock skew it runs with now (ms).
    pub skew_ms: i64,
    /// `https` when it announced a TLS listener (its arguments gave it certificates).
    scheme: &'static str,
}

impl ServerProcess {
    /// Starts `binary serve ARGS --data-dir DIR --listen 127.0.0.1:PORT` with the admin token,
    /// `--setting clock_offset=SKEW` added, and waits until it listens.
    pub fn start(
        binary: &Path,
        code: &str,
        dir: &Path,
        port: u16,
        args: Vec<String>,
        token: &str,
        skew_ms: i64,
    ) -> Result<Self, ProcessError> {
        let mut p = Self {
            code: code.to_string(),
            dir: dir.to_path_buf(),
            port,
            binary: binary.to_path_buf(),
            args,
            token: token.to_string(),
            child: None,
            liveness: Liveness::Dead,
            skew_ms,
            scheme: "http",
        };
        p.spawn()?;
        Ok(p)
    }

    /// Its base URL (`https` when it serves TLS).
    pub fn base(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    /// How it stands.
    pub fn liveness(&self) -> Liveness {
        self.liveness
    }

    /// Its process id while it exists.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn spawn(&mut self) -> Result<(), ProcessError> {
        let mut args = self.args.clone();
        args.extend([
            "--listen".to_string(),
            format!("127.0.0.1:{}", self.port),
            "--data-dir".to_string(),
            self.dir.display().to_string(),
            "--setting".to_string(),
            format!("clock_offset={}ms", self.skew_ms),
        ]);
        let log =
            std::env::var("INNSYNC_CHAOS_LOG").unwrap_or_else(|_| "error,openraft=off".into());
        let launched = crate::launch::serve(crate::launch::Serve {
            binary: &self.binary,
            args: &args,
            token: &self.token,
            log: &log,
        })
        .map_err(|e| match e {
            crate::launch::LaunchError::Spawn { binary, source } => {
                ProcessError::Spawn { binary, source }
            }
            crate::launch::LaunchError::NoAddress { line } => ProcessError::NoAddress {
                code: self.code.clone(),
                line,
            },
        })?;
        self.scheme = if launched.addr.starts_with("https://") {
            "https"
        } else {
            "http"
        };
        self.child = Some(launched.child);
        self.liveness = Liveness::Running;
        Ok(())
    }

    /// kill -9: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.liveness = Liveness::Dead;
    }

    /// Starts it again on the same port and data directory, with this clock skew.
    pub fn restart(&mut self, skew_ms: i64) -> Result<(), ProcessError> {
        self.kill9();
        self.skew_ms = skew_ms;
        self.spawn()
    }

    fn signal(&mut self, signal: i32) -> Result<(), ProcessError> {
        let Some(pid) = self.pid() else {
            return Ok(());
        };
        // SAFETY: `kill(2)` on our own child's pid, which we have not reaped (the `Child` is
        // still held), so the pid cannot have been reused by another process.
        let rc = unsafe { libc::kill(pid as libc::pid_t, signal) };
        if rc != 0 {
            return Err(ProcessError::Signal {
                code: self.code.clone(),
                signal,
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(())
    }

    /// SIGSTOP: the process stops where it is, connections stay open, nothing answers.
    pub fn pause(&mut self) -> Result<(), ProcessError> {
        if self.liveness == Liveness::Running {
            self.signal(libc::SIGSTOP)?;
            self.liveness = Liveness::Paused;
        }
        Ok(())
    }

    /// SIGCONT.
    pub fn resume(&mut self) -> Result<(), ProcessError> {
        if self.liveness == Liveness::Paused {
            self.signal(libc::SIGCONT)?;
            self.liveness = Liveness::Running;
        }
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.resume();
        self.kill9();
    }
}

/// A free loopback port below the kernel's ephemeral range (32768 and up), so that no outgoing
/// connection takes it as its local port while its server is down between a kill and a
/// restart.
pub fn free_port() -> Option<u16> {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 30_000 + (std::process::id() % 20) as u16 * 100;
    for _ in 0..2_000 {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 2_700;
        let port = if port >= 32_700 { port - 2_700 } else { port };
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Some(port);
        }
    }
    None
}
