//! The running PMS links of this server: start, replace, reset on demand, and report status.

use super::driver;
use super::link::LinkSettings;
use super::postings::PostingRecord;
use crate::state::AppState;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Notify};

/// Most recent messages kept per link for operators.
pub const LAST_MESSAGES: usize = 20;
/// Most control requests waiting for a link's driver.
pub const CONTROL_QUEUE: usize = 8;

/// What an operator sees of a link.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LinkStatus {
    /// Link name.
    pub name: String,
    /// Its settings.
    pub settings: Option<LinkSettings>,
    /// `starting`, `down`, `up`, `resetting` or `stopped`.
    pub state: String,
    /// Messages sent from the outbox and acknowledged.
    pub delivered: u64,
    /// Messages that failed after every retry (retried later).
    pub failed: u64,
    /// Messages received from the system (STS, MW).
    pub received: u64,
    /// General Resets completed.
    pub resets: u64,
    /// Outbox position delivered so far.
    pub outbox_delivered: i64,
    /// When the last General Reset completed.
    pub last_reset_at: Option<String>,
    /// The latest events, newest last.
    pub last_messages: VecDeque<String>,
    /// Records that could never be sent and were skipped (each also in the booking's history).
    pub skipped: u64,
    /// The latest skipped records in words, with why, newest last.
    pub last_skipped: VecDeque<String>,
    /// Postings received from the system (answered "not posted" until folios exist).
    pub postings: u64,
    /// The latest postings, newest last, for the front desk to charge by hand.
    pub last_postings: VecDeque<PostingRecord>,
}

impl LinkStatus {
    /// Records an event for operators, keeping the list bounded.
    pub fn note(&mut self, line: String) {
        if self.last_messages.len() >= LAST_MESSAGES {
            self.last_messages.pop_front();
        }
        self.last_messages.push_back(line);
    }

    /// Keeps a skipped record for operators, bounded.
    pub fn skip(&mut self, line: String) {
        if self.last_skipped.len() >= LAST_MESSAGES {
            self.last_skipped.pop_front();
        }
        self.last_skipped.push_back(line);
    }

    /// Keeps a posting for operators, bounded.
    pub fn posting(&mut self, p: PostingRecord) {
        if self.last_postings.len() >= LAST_MESSAGES {
            self.last_postings.pop_front();
        }
        self.last_postings.push_back(p);
    }
}

/// A request to a link's driver.
#[derive(Debug)]
pub enum Control {
    /// Run a General Reset now.
    Reset,
    /// Stop the link (it is being replaced or removed).
    Stop,
}

struct Running {
    status: Arc<Mutex<LinkStatus>>,
    control: mpsc::Sender<Control>,
}

/// Every link of this server.
#[derive(Default)]
pub struct PmsLinks {
    links: Mutex<BTreeMap<String, Running>>,
    /// Woken whenever a booking change may have added outbox events.
    pub wake: Arc<Notify>,
}

impl PmsLinks {
    /// Starts (or restarts with new settings) the link `name`.
    pub fn start(&self, state: &AppState, name: &str, settings: LinkSettings, delivered: i64) {
        let status = Arc::new(Mutex::new(LinkStatus {
            name: name.to_string(),
            settings: Some(settings.clone()),
            state: "starting".into(),
            outbox_delivered: delivered,
            ..LinkStatus::default()
        }));
        let (tx, rx) = mpsc::channel(CONTROL_QUEUE);
        let previous = self.links.lock().ok().and_then(|mut l| {
            l.insert(
                name.to_string(),
                Running {
                    status: status.clone(),
                    control: tx,
                },
            )
        });
        if let Some(old) = previous {
            let _ = old.control.try_send(Control::Stop);
        }
        tokio::spawn(driver::drive(
            state.clone(),
            name.to_string(),
            settings,
            delivered,
            status,
            rx,
            self.wake.clone(),
        ));
    }

    /// Asks link `name` for a General Reset; false when there is no such link.
    pub fn reset(&self, name: &str) -> bool {
        let Ok(links) = self.links.lock() else {
            return false;
        };
        match links.get(name) {
            Some(r) => r.control.try_send(Control::Reset).is_ok(),
            None => false,
        }
    }

    /// The status of every link.
    pub fn statuses(&self) -> Vec<LinkStatus> {
        self.links
            .lock()
            .map(|l| {
                l.values()
                    .filter_map(|r| r.status.lock().ok().map(|s| s.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Stops every link (server shutdown).
    pub fn stop_all(&self) {
        if let Ok(l) = self.links.lock() {
            for r in l.values() {
                let _ = r.control.try_send(Control::Stop);
            }
        }
    }
}
