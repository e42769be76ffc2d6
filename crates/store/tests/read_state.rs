//! The read state (`read/board.rs`) never serves a stale cell: two servers take random
//! bookings, cancellations, grants, out-of-order periods and new rooms, and pull each other's
//! changes; after every step each server's long-lived pool (whose board catches up change by
//! change) answers availability and the quote's stock exactly as a fresh pool reading
//! everything from scratch, and the answer's position moves with every write it reflects; the
//! answers from memory (no snapshot) are given only while nothing was committed since.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use chrono::{Days, NaiveDate};
use innsync_core::dates::Nights;
use innsync_core::ServerCode;
use innsync_core::{Authority, Command, GuestInput, InitialStatus, Outcome, Record, RecordId};
use innsync_store::{ReadPool, WriteOutcome, Writer, DB_FILE};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TYPES: [(&str, u32); 3] = [("DLX", 4), ("FAM", 3), ("STD", 5)];

fn day(k: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).unwrap() + Days::new(k)
}

struct Node {
    writer: Writer,
    reads: ReadPool,
    dir: tempfile::TempDir,
}

impl Node {
    async fn submit(&self, cmd: Command) -> Option<Record> {
        match self.writer.submit(cmd, "test", None).await {
            Ok(WriteOutcome::Done(Outcome::Written { record, .. })) => Some(record),
            _ => None,
        }
    }

    /// What the long-lived pool answers must equal what a fresh one reads from scratch;
    /// whether the read was also answered from memory.
    fn check(&self, rng: &mut StdRng, step: usize) -> bool {
        let fresh = ReadPool::new(self.dir.path().join(DB_FILE));
        let from = rng.gen_range(0..40);
        let len = rng.gen_range(1..15);
        let far = rng.gen_bool(0.1);
        let start = if far { 2_000 + from } else { from };
        let nights = Nights {
            from: day(start),
            to: day(start + len),
        };
        let kept = self.reads.availability_at("KRL", nights).unwrap().unwrap();
        let again = fresh.availability_at("KRL", nights).unwrap().unwrap();
        assert_eq!(kept, again, "step {step}: availability over {nights:?}");
        // Nothing written since that read caught the read state up: it answers from memory
        // when the window holds the stay, the same answer.
        let now = self.reads.availability_now("KRL", nights);
        if let Some(now) = &now {
            assert_eq!(now, &again, "step {step}: from memory");
        }
        assert_eq!(self.reads.position_now(), Some(again.position.clone()));
        let (facts, pos) = self.reads.quote_facts_at("KRL", nights).unwrap().unwrap();
        let (fresh_facts, fresh_pos) = fresh.quote_facts_at("KRL", nights).unwrap().unwrap();
        assert_eq!(pos, fresh_pos);
        assert_eq!(facts.stock, fresh_facts.stock, "step {step}: quote stock");
        assert_eq!(facts.room_types, fresh_facts.room_types);
        assert_eq!(facts.rates, fresh_facts.rates);
        assert_eq!(facts.plans, fresh_facts.plans);
        if let Some((now_facts, now_pos)) = self.reads.quote_facts_now("KRL", nights) {
            assert_eq!(now_pos, fresh_pos);
            assert_eq!(
                now_facts.stock, fresh_facts.stock,
                "step {step}: quote from memory"
            );
        }
        now.is_some()
    }
}

async fn pull(to: &Node, from: &Node) {
    common::pull((&to.writer, &to.reads), &from.reads).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kept_read_state_always_equals_a_fresh_read() {
    let wb = ServerCode::parse("WB").unwrap();
    let pa = ServerCode::parse("PA").unwrap();
    let all = [wb.clone(), pa.clone()];
    let mut nodes = vec![];
    for me in [&wb, &pa] {
        let dir = tempfile::tempdir().unwrap();
        let (writer, reads) = common::open(dir.path(), me, &all, &[("KRL", &pa)]);
        nodes.push(Node { writer, reads, dir });
    }
    let (w, p) = (0, 1);
    nodes[p]
        .submit(common::property("KRL", "Kraal Lodge", None))
        .await
        .unwrap();
    let mut rooms = vec![];
    for (t, n) in TYPES {
        nodes[p]
            .submit(common::room_type("KRL", t, t, 2))
            .await
            .unwrap();
        for r in 0..n {
            let number = format!("{t}{r}");
            nodes[p]
                .submit(Command::CreateRoom {
                    property: "KRL".into(),
                    number: number.clone(),
                    room_type: t.into(),
                })
                .await
                .unwrap();
            rooms.push(number);
        }
    }
    pull(&nodes[w], &nodes[p]).await;
    let mut rng = StdRng::seed_from_u64(20);
    let mut bookings: Vec<(usize, RecordId)> = vec![];
    let mut last_tag = nodes[p].reads.position().unwrap().etag();
    let mut from_memory = 0;
    for step in 0..300 {
        let at = rng.gen_range(0..2);
        let ty = TYPES[rng.gen_range(0..TYPES.len())].0.to_string();
        let a = rng.gen_range(0..40);
        let (arrival, departure) = (day(a), day(a + rng.gen_range(1..5)));
        let wrote = match rng.gen_range(0..100) {
            0..=49 => {
                let cmd = Command::CreateBooking {
                    property: "KRL".into(),
                    room_type: ty,
                    arrival,
                    departure,
                    units: rng.gen_range(1..3),
                    guest: GuestInput::New {
                        name: "Read Guest".into(),
                        email: None,
                        phone: None,
                    },
                    status: InitialStatus::Confirmed,
                    hold_until: None,
                    notes: None,
                    pricing: None,
                };
                let out = nodes[at].submit(cmd).await;
                if let Some(Record::Booking(b)) = &out {
                    bookings.push((at, b.meta.id.clone()));
                }
                out.is_some().then_some(at)
            }
            50..=64 if !bookings.is_empty() => {
                let (owner, id) = bookings.swap_remove(rng.gen_range(0..bookings.len()));
                nodes[owner]
                    .submit(Command::CancelBooking {
                        id,
                        reason: None,
                        if_match: None,
                    })
                    .await
                    .map(|_| owner)
            }
            65..=79 => nodes[p]
                .submit(Command::GrantAllotment {
                    property: "KRL".into(),
                    room_type: ty,
                    from: arrival,
                    to: departure,
                    units: 1,
                    to_holder: Authority::Env,
                    from_holder: None,
                    reason: None,
                })
                .await
                .map(|_| p),
            80..=89 => nodes[p]
                .submit(Command::SetOutOfOrder {
                    property: "KRL".into(),
                    number: rooms[rng.gen_range(0..rooms.len())].clone(),
                    from: arrival,
                    to: departure,
                    reason: "leak".into(),
                })
                .await
                .map(|_| p),
            90..=92 => {
                let number = format!("NEW{step}");
                rooms.push(number.clone());
                nodes[p]
                    .submit(Command::CreateRoom {
                        property: "KRL".into(),
                        number,
                        room_type: ty,
                    })
                    .await
                    .map(|_| p)
            }
            _ => {
                pull(&nodes[w], &nodes[p]).await;
                pull(&nodes[p], &nodes[w]).await;
                None
            }
        };
        if let Some(at) = wrote {
            // A commit since the read state caught up: nothing is answered from memory.
            let near = Nights {
                from: day(1),
                to: day(4),
            };
            assert_eq!(nodes[at].reads.availability_now("KRL", near), None);
            assert!(nodes[at].reads.quote_facts_now("KRL", near).is_none());
            assert_eq!(nodes[at].reads.position_now(), None);
            let tag = nodes[at].reads.position().unwrap().etag();
            if at == p {
                assert_ne!(tag, last_tag, "step {step}: a write moves the position");
                last_tag = tag;
            }
        }
        for node in &nodes {
            from_memory += usize::from(node.check(&mut rng, step));
        }
    }
    // The window holds every stay but the far ones (a tenth), once it sits where they fall.
    assert!(
        from_memory > 400,
        "{from_memory} of 600 reads answered from memory"
    );
}
