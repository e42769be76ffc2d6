//! Allotments across a partitioned environment, on real stores: four servers (WB the master,
//! RS and RA offices, PA the property server owning KRL), each its own SQLite file and writer,
//! linked by a simulated network that carries the real change logs (`changes_after` →
//! `Writer::replicate`). A seeded schedule books and cancels on every server, grants and
//! returns units, runs the standing rule, hands the master over, cuts and restores links, and
//! delivers batches twice and out of order. After every heal: every server is identical, and on
//! every night no holder has sold more than it holds and the night is not sold beyond its
//! rooms.
//!
//! `INNSYNC_SIM_STEPS` and `INNSYNC_SIM_SEEDS` run it longer (the default keeps `cargo test`
//! quick); a failure names the seed and step to replay.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use innsync_core::allotment::AllotmentRule;
use innsync_core::dates::Nights;
use innsync_core::{
    Authority, Command, GuestInput, InitialStatus, Outcome, Record, RecordId, ServerCode,
};
use innsync_store::{Change, Clock, ReadPool, StoreError, WriteOutcome, Writer, WriterSettings};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

const CODES: [&str; 4] = ["WB", "RS", "RA", "PA"];
const PA: usize = 3;
const TYPES: [(&str, u32); 2] = [("DLX", 3), ("FAM", 2)];
const HORIZON: u64 = 14;

struct Node {
    code: ServerCode,
    writer: Writer,
    reads: ReadPool,
}

struct Sim {
    nodes: Vec<Node>,
    /// Links that are up, as unordered pairs (i < j).
    up: BTreeSet<(usize, usize)>,
    now: Arc<Mutex<DateTime<Utc>>>,
    rng: StdRng,
    /// Bookings acknowledged, with the server that owns them.
    bookings: Vec<(usize, RecordId)>,
    /// The last batch delivered and how many of it were held back, to deliver again.
    last_batch: Option<(usize, Vec<Change>, u64)>,
    master: usize,
    epoch: u64,
    _dirs: Vec<tempfile::TempDir>,
}

fn temp_dir() -> tempfile::TempDir {
    // Real SQLite files; on tmpfs when there is one, so thousands of commits stay quick.
    match std::path::Path::new("/dev/shm").is_dir() {
        true => tempfile::tempdir_in("/dev/shm").expect("tempdir"),
        false => tempfile::tempdir().expect("tempdir"),
    }
}

fn authority_of(i: usize, master: usize) -> Authority {
    if i == master {
        Authority::Env
    } else {
        Authority::Server(ServerCode::parse(CODES[i]).unwrap())
    }
}

impl Sim {
    async fn new(seed: u64) -> Self {
        let now = Arc::new(Mutex::new(
            "2026-12-01T06:00:00Z".parse::<DateTime<Utc>>().unwrap(),
        ));
        let codes: Vec<ServerCode> = CODES
            .iter()
            .map(|c| ServerCode::parse(c).unwrap())
            .collect();
        let mut nodes = vec![];
        let mut dirs = vec![];
        for code in &codes {
            let dir = temp_dir();
            let n = now.clone();
            let clock: Clock = Arc::new(move || *n.lock().unwrap());
            let (writer, reads) = Writer::open(
                dir.path(),
                code.clone(),
                clock,
                WriterSettings {
                    initial_master: Some(codes[0].clone()),
                    property_owners: vec![("KRL".into(), codes[PA].clone())],
                    holders: codes.clone(),
                    ..WriterSettings::default()
                },
            )
            .unwrap();
            nodes.push(Node {
                code: code.clone(),
                writer,
                reads,
            });
            dirs.push(dir);
        }
        let mut up = BTreeSet::new();
        for i in 0..nodes.len() {
            for j in i + 1..nodes.len() {
                up.insert((i, j));
            }
        }
        let mut sim = Sim {
            nodes,
            up,
            now,
            rng: StdRng::seed_from_u64(seed),
            bookings: vec![],
            last_batch: None,
            master: 0,
            epoch: 1,
            _dirs: dirs,
        };
        let mut setup = vec![common::property("KRL", "Kraal Lodge", None)];
        for (t, rooms) in TYPES {
            setup.push(common::room_type("KRL", t, t, 2));
            for r in 0..rooms {
                setup.push(Command::CreateRoom {
                    property: "KRL".into(),
                    number: format!("{t}{r}"),
                    room_type: t.into(),
                });
            }
        }
        for c in setup {
            sim.submit(PA, c).await.unwrap();
        }
        sim.heal().await;
        sim
    }

    fn today(&self) -> NaiveDate {
        self.now.lock().unwrap().date_naive()
    }

    async fn submit(&self, at: usize, cmd: Command) -> Result<WriteOutcome, StoreError> {
        self.nodes[at].writer.submit(cmd, "sim", None).await
    }

    fn linked(&self, a: usize, b: usize) -> bool {
        self.up.contains(&(a.min(b), a.max(b)))
    }

    /// `to` pulls one batch from `from`, perhaps reordered; how many changes it applied.
    async fn pull(&mut self, to: usize, from: usize, chaos: bool) -> u64 {
        let cursors = self.nodes[to].reads.cursors().unwrap();
        let mut batch = self.nodes[from].reads.changes_after(&cursors, 200).unwrap();
        if batch.is_empty() {
            return 0;
        }
        if chaos && self.rng.gen_bool(0.2) {
            // Out of order: changes beyond a gap are held and pulled again later.
            let k = self.rng.gen_range(0..batch.len());
            batch.rotate_left(k);
        }
        let report = self.nodes[to]
            .writer
            .replicate(batch.clone())
            .await
            .unwrap();
        assert_eq!(report.conflicts, 0, "no change is refused here: {report:?}");
        self.last_batch = Some((to, batch, report.held));
        report.applied
    }

    /// Every link up; pull until nothing moves.
    async fn heal(&mut self) {
        for i in 0..self.nodes.len() {
            for j in i + 1..self.nodes.len() {
                self.up.insert((i, j));
            }
        }
        loop {
            let mut moved = 0;
            for to in 0..self.nodes.len() {
                for from in 0..self.nodes.len() {
                    if to != from {
                        moved += self.pull(to, from, false).await;
                    }
                }
            }
            if moved == 0 {
                break;
            }
        }
    }

    fn holder(&self, i: usize) -> Authority {
        authority_of(i, self.master)
    }

    fn pick_nights(&mut self) -> (NaiveDate, NaiveDate) {
        let start = self.rng.gen_range(0..HORIZON);
        let len = self.rng.gen_range(1..4);
        let from = self.today() + chrono::Days::new(start);
        (from, from + chrono::Days::new(len))
    }

    async fn step(&mut self) {
        let n = self.nodes.len();
        let roll = self.rng.gen_range(0..100);
        let at = self.rng.gen_range(0..n);
        let ty = TYPES[self.rng.gen_range(0..TYPES.len())].0.to_string();
        match roll {
            0..=34 => {
                let (arrival, departure) = self.pick_nights();
                let cmd = Command::CreateBooking {
                    property: "KRL".into(),
                    room_type: ty,
                    arrival,
                    departure,
                    units: self.rng.gen_range(1..3),
                    guest: GuestInput::New {
                        name: "Sim Guest".into(),
                        email: None,
                        phone: None,
                    },
                    status: InitialStatus::Confirmed,
                    hold_until: None,
                    notes: None,
                    pricing: None,
                };
                if let Ok(WriteOutcome::Done(Outcome::Written {
                    record: Record::Booking(b),
                    ..
                })) = self.submit(at, cmd).await
                {
                    self.bookings.push((at, b.meta.id));
                }
            }
            35..=44 => {
                if self.bookings.is_empty() {
                    return;
                }
                let k = self.rng.gen_range(0..self.bookings.len());
                let (_, id) = self.bookings[k].clone();
                // Cancelled where it is owned: its owner's server (the master for env's).
                let Some(b) = self.nodes[at].reads.booking(id.as_str()).unwrap() else {
                    return;
                };
                let owner = match &b.meta.owner {
                    Authority::Env => self.master,
                    Authority::Server(s) => CODES.iter().position(|c| *c == s.as_str()).unwrap(),
                };
                let _ = self
                    .submit(
                        owner,
                        Command::CancelBooking {
                            id,
                            reason: Some("sim".into()),
                            if_match: None,
                        },
                    )
                    .await;
            }
            45..=59 => {
                let to = self.rng.gen_range(0..n);
                let (from, until) = self.pick_nights();
                let units = self.rng.gen_range(1..3);
                let (giver, receiver) = (self.holder(at), self.holder(to));
                let _ = self
                    .submit(
                        at,
                        Command::GrantAllotment {
                            property: "KRL".into(),
                            room_type: ty,
                            from,
                            to: until,
                            units,
                            to_holder: receiver,
                            from_holder: Some(giver),
                            reason: Some("sim".into()),
                        },
                    )
                    .await;
            }
            60..=63 => {
                let rule = AllotmentRule {
                    name: "env keeps 1".into(),
                    property: "KRL".into(),
                    room_types: vec![],
                    holder: Authority::Env,
                    units: 1,
                    days_ahead: HORIZON as u32,
                    release_days: 2,
                };
                self.submit(at, Command::RunAllotmentRule { rule })
                    .await
                    .expect("a rule run is never refused");
            }
            64..=66 => {
                // A handover to a server the master can reach: it catches up, then the grant.
                let to = self.rng.gen_range(0..2);
                if to == self.master || !self.linked(self.master, to) {
                    return;
                }
                while self.pull(to, self.master, false).await > 0 {}
                let cmd = Command::GrantMaster {
                    to: self.nodes[to].code.clone(),
                    epoch: self.epoch + 1,
                    reason: "sim".into(),
                };
                self.submit(self.master, cmd).await.unwrap();
                while self.pull(to, self.master, false).await > 0 {}
                self.master = to;
                self.epoch += 1;
            }
            67..=74 => {
                let (a, b) = (self.rng.gen_range(0..n), self.rng.gen_range(0..n));
                if a != b {
                    let pair = (a.min(b), a.max(b));
                    if !self.up.remove(&pair) {
                        self.up.insert(pair);
                    }
                }
            }
            75..=77 => {
                // A batch delivered again: what it applied before is a duplicate now.
                if let Some((to, batch, held)) = self.last_batch.take() {
                    let r = self.nodes[to].writer.replicate(batch).await.unwrap();
                    // Only what was held back for a gap may apply now; nothing twice.
                    assert!(
                        r.applied <= held,
                        "a duplicate is never applied twice: {r:?}"
                    );
                }
            }
            78..=79 => {
                *self.now.lock().unwrap() += Duration::hours(self.rng.gen_range(1..20));
            }
            _ => {
                let (a, b) = (at, self.rng.gen_range(0..n));
                if a != b && self.linked(a, b) {
                    self.pull(a, b, true).await;
                }
            }
        }
    }

    /// The checks after a heal.
    fn check(&self, seed: u64, step: usize) {
        let nights = Nights {
            from: self.today(),
            to: self.today() + chrono::Days::new(HORIZON + 4),
        };
        let digest = self.nodes[0].reads.digest().unwrap();
        for node in &self.nodes {
            let here = format!("seed {seed} step {step} on {}", node.code);
            assert_eq!(
                node.reads.digest().unwrap(),
                digest,
                "{here}: servers differ"
            );
            node.reads
                .check_invariants()
                .unwrap_or_else(|e| panic!("{here}: {e}"));
            let h = node.reads.holdings("KRL", nights).unwrap().unwrap();
            for t in &h.room_types {
                for night in &t.nights {
                    assert!(
                        night.sold <= night.in_service,
                        "{here}: {} oversold: {night:?}",
                        t.code
                    );
                    for hn in &night.holders {
                        assert!(
                            i64::from(hn.sold) <= hn.held,
                            "{here}: {} on {} {} sold {} of {} held",
                            t.code,
                            night.date,
                            hn.holder,
                            hn.sold,
                            hn.held
                        );
                    }
                }
            }
        }
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_night_is_sold_twice_across_partitions() {
    let steps = env_number("INNSYNC_SIM_STEPS", 2_500) as usize;
    let seeds = env_number("INNSYNC_SIM_SEEDS", 3);
    for seed in 0..seeds {
        let mut sim = Sim::new(seed).await;
        let mut acknowledged = 0;
        for step in 1..=steps {
            sim.step().await;
            if step % 100 == 0 || step == steps {
                sim.heal().await;
                sim.check(seed, step);
            }
            acknowledged = sim.bookings.len();
        }
        // Something was sold from every holder, so the checks saw real contention.
        let sold_by: BTreeSet<usize> = sim.bookings.iter().map(|(at, _)| *at).collect();
        assert!(
            acknowledged > 50 && sold_by.len() == CODES.len(),
            "seed {seed}: too little sold to mean anything ({acknowledged} by {sold_by:?})"
        );
        eprintln!("seed {seed}: {steps} steps, {acknowledged} bookings acknowledged, checks held");
    }
}
