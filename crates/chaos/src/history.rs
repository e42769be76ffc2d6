//! The history of a run, in the manner of Jepsen: every client operation as an `invoke` and
//! then one completion (`ok`, `fail` with the problem code, or `info` when the outcome is
//! unknown: a timeout or a lost connection), and every fault the nemesis began and ended.
//! Kept in memory for the checker and written as JSON lines, one event a line.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How an operation ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outcome {
    /// Sent, not yet answered.
    Invoke,
    /// Done: 2xx. `status` 202 means queued for its owner as a pending operation.
    Ok {
        /// The HTTP status.
        status: u16,
    },
    /// Refused: a problem with a code; nothing was written.
    Fail {
        /// The HTTP status.
        status: u16,
        /// The problem's `code`.
        code: String,
    },
    /// Unknown: no answer (timeout, connection lost, server killed). It may or may not have
    /// happened.
    Info {
        /// The transport's words.
        error: String,
    },
}

/// One line of the history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Milliseconds since the workload started.
    pub at_ms: u64,
    /// `client-N` or `nemesis`.
    pub process: String,
    /// The operation's id (unique in a run; the invoke and its completion share it).
    pub op: u64,
    /// What (`book`, `cancel`…, or the fault's kind).
    pub kind: String,
    /// The server it was sent to (or the fault's subject).
    pub target: String,
    /// How it stands.
    pub outcome: Outcome,
    /// What was sent, and what came back: booking reference, status and version, epoch,
    /// pending operation id, the idempotency key.
    pub detail: Value,
}

/// The history being written; cheap to clone, safe to share between clients.
#[derive(Clone)]
pub struct History {
    inner: Arc<Mutex<Inner>>,
    started: Instant,
}

struct Inner {
    events: Vec<Event>,
    file: Option<std::io::BufWriter<std::fs::File>>,
    next_op: u64,
    /// Where each operation still awaiting its completion was invoked.
    open: std::collections::HashMap<u64, usize>,
}

/// Why the history could not be written.
#[derive(Debug, thiserror::Error)]
#[error("history file {path}: {source}")]
pub struct HistoryError {
    path: String,
    source: std::io::Error,
}

impl History {
    /// A history written to `path` as JSON lines (and kept in memory).
    pub fn to_file(path: &Path) -> Result<Self, HistoryError> {
        let f = std::fs::File::create(path).map_err(|source| HistoryError {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Self::with(Some(std::io::BufWriter::new(f))))
    }

    /// A history kept in memory only.
    pub fn in_memory() -> Self {
        Self::with(None)
    }

    fn with(file: Option<std::io::BufWriter<std::fs::File>>) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                events: Vec::new(),
                file,
                next_op: 1,
                open: std::collections::HashMap::new(),
            })),
            started: Instant::now(),
        }
    }

    /// Milliseconds since the history began.
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panicking client cannot leave an event half-written (each push is whole), so a
        // poisoned lock still holds a consistent history.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the invocation of an operation and returns its id.
    pub fn invoke(&self, process: &str, kind: &str, target: &str, detail: Value) -> u64 {
        let mut g = self.lock();
        let op = g.next_op;
        g.next_op += 1;
        let e = Event {
            at_ms: self.now_ms(),
            process: process.to_string(),
            op,
            kind: kind.to_string(),
            target: target.to_string(),
            outcome: Outcome::Invoke,
            detail,
        };
        let at = g.events.len();
        g.open.insert(op, at);
        push(&mut g, e);
        op
    }

    /// Records how operation `op` ended.
    pub fn complete(&self, op: u64, outcome: Outcome, detail: Value) {
        let mut g = self.lock();
        let Some(first) = g.open.remove(&op).and_then(|i| g.events.get(i)).cloned() else {
            return; // unknown, or completed already: an operation completes once
        };
        let e = Event {
            at_ms: self.now_ms(),
            outcome,
            detail,
            ..first
        };
        push(&mut g, e);
    }

    /// Records a nemesis line (a fault begun or undone) that needs no completion.
    pub fn note(&self, kind: &str, target: &str, detail: Value) {
        let mut g = self.lock();
        let op = g.next_op;
        g.next_op += 1;
        let e = Event {
            at_ms: self.now_ms(),
            process: "nemesis".into(),
            op,
            kind: kind.to_string(),
            target: target.to_string(),
            outcome: Outcome::Ok { status: 0 },
            detail,
        };
        push(&mut g, e);
    }

    /// Every event so far, in order.
    pub fn events(&self) -> Vec<Event> {
        self.lock().events.clone()
    }

    /// Flushes the file.
    pub fn flush(&self) {
        if let Some(f) = self.lock().file.as_mut() {
            let _ = f.flush();
        }
    }
}

fn push(g: &mut Inner, e: Event) {
    if let Some(f) = g.file.as_mut() {
        // The in-memory history is what the checker reads; a full disk loses the file only.
        if let Ok(line) = serde_json::to_string(&e) {
            let _ = writeln!(f, "{line}");
        }
    }
    g.events.push(e);
}

/// Each operation's completion, by op id (invocations without one are absent).
pub fn completions(events: &[Event]) -> std::collections::BTreeMap<u64, &Event> {
    events
        .iter()
        .filter(|e| e.process != "nemesis" && e.outcome != Outcome::Invoke)
        .map(|e| (e.op, e))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn invocations_and_completions_pair_up_and_are_written_as_lines() {
        let dir =
            std::env::temp_dir().join(format!("innsync-chaos-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("h.jsonl");
        let h = History::to_file(&path).unwrap();
        let a = h.invoke("client-0", "book", "WB", json!({"key": "k1"}));
        let b = h.invoke("client-1", "cancel", "RS", json!({}));
        h.complete(
            a,
            Outcome::Ok { status: 201 },
            json!({"reference": "WB-000001"}),
        );
        h.complete(
            b,
            Outcome::Info {
                error: "timed out".into(),
            },
            json!({}),
        );
        h.note("kill", "RS", json!({}));
        // An operation completes once; a second completion is ignored.
        h.complete(a, Outcome::Ok { status: 200 }, json!({}));
        h.flush();
        assert_ne!(a, b);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Event> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[2].op, a);
        assert_eq!(lines[2].kind, "book");
        assert_eq!(lines[2].detail["reference"], "WB-000001");
        let events = h.events();
        let done = completions(&events);
        assert_eq!(done.len(), 2);
        assert!(matches!(done[&b].outcome, Outcome::Info { .. }));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
