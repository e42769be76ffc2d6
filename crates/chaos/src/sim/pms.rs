//! A deterministic simulation of the PMS link: innsync's side ([`PmsLink`]) and the system's
//! ([`SystemSide`]) joined by a simulated byte link that splits writes into arbitrary chunks,
//! delays them and drops the whole connection (both sides see the link go down, bytes in
//! flight are lost, it comes back later). The application is modelled the way the server's
//! driver works: a durable ordered outbox of check-ins, names and check-outs delivered one at
//! a time, and a General Reset answered with a snapshot that covers the outbox up to where it
//! was taken.
//!
//! Checked in every schedule: once the link stays up and the outbox is delivered, the
//! system's database equals the hotel's occupancy (who is in which room, under which name),
//! and the outbox was delivered in order, each message acknowledged once.

use innsync_pms::{
    Command, Extension, GuestName, Message, MessageId, PmsEvent, PmsLink, RoomOccupancy, RoomPlan,
    Settings, SystemSide,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, VecDeque};

/// Simulated milliseconds per step.
pub const STEP_MS: u64 = 5;
/// Steps with faults, then at most this many again to settle.
pub const FAULT_STEPS: u64 = 4_000;

/// What one schedule did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PmsOutcome {
    /// Outbox messages acknowledged.
    pub delivered: u64,
    /// General Resets completed.
    pub resets: u64,
    /// Link drops.
    pub drops: u64,
    /// Messages that failed every resend (retried later).
    pub failed: u64,
}

struct Pipe {
    chunks: VecDeque<(u64, Vec<u8>)>,
}

impl Pipe {
    fn new() -> Self {
        Self {
            chunks: VecDeque::new(),
        }
    }

    /// Queues `bytes` as random chunks arriving in order after a delay.
    fn send(&mut self, rng: &mut StdRng, now: u64, bytes: Vec<u8>, max_delay: u64) {
        let mut at = self.chunks.back().map_or(now, |c| c.0).max(now);
        let mut rest = bytes.as_slice();
        while !rest.is_empty() {
            let n = rng.gen_range(1..=rest.len().min(64));
            at += rng.gen_range(0..=max_delay);
            self.chunks.push_back((at, rest[..n].to_vec()));
            rest = &rest[n..];
        }
    }

    fn due(&mut self, now: u64) -> Vec<u8> {
        let mut out = Vec::new();
        while self.chunks.front().is_some_and(|c| c.0 <= now) {
            if let Some((_, b)) = self.chunks.pop_front() {
                out.extend(b);
            }
        }
        out
    }
}

type Truth = BTreeMap<Extension, (bool, Option<GuestName>)>;

fn ext(n: u32) -> Extension {
    Extension::new(&(100 + n).to_string()).unwrap_or_else(|e| unreachable!("{e}"))
}

fn snapshot(truth: &Truth) -> Vec<RoomOccupancy> {
    truth
        .iter()
        .map(|(e, (occupied, name))| RoomOccupancy {
            extension: e.clone(),
            occupied: *occupied,
            name: name.clone(),
        })
        .collect()
}

/// Runs one schedule; `Err` says what broke.
#[allow(
    clippy::too_many_lines,
    reason = "one simulated schedule, step by step"
)]
pub fn run_pms_schedule(seed: u64) -> Result<PmsOutcome, String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let rooms = rng.gen_range(1..12u32);
    let settings = Settings {
        keepalive_interval_ms: if rng.gen_bool(0.5) { Some(2_000) } else { None },
        commit_duration_ms: rng.gen_range(0..200),
        reset_on_link_start: rng.gen_bool(0.7),
        ..Settings::default()
    };
    let mut pms = PmsLink::new(settings.clone()).map_err(|e| e.to_string())?;
    let plan = RoomPlan::numbered(100, rooms, 2).map_err(|e| e.to_string())?;
    let mut sys = SystemSide::new(settings, 2, plan).map_err(|e| e.to_string())?;
    let mut truth: Truth = (0..rooms).map(|i| (ext(i), (false, None))).collect();
    let mut outbox: Vec<Message> = Vec::new();
    let mut cursor = 0usize; // first message not yet acknowledged
    let mut in_slot: Option<u64> = None;
    let mut reset_covers: Option<usize> = None;
    let (mut to_sys, mut to_pms) = (Pipe::new(), Pipe::new());
    let (mut pms_timer, mut sys_timer): (Option<u64>, Option<u64>) = (None, None);
    let mut up = false;
    let mut back_at = 0u64;
    let max_delay = rng.gen_range(0..30);
    let mut out = PmsOutcome::default();
    let mut now = 0u64;
    let mut settled = 0u64;
    let total = FAULT_STEPS * 3;
    for step in 0..total {
        let faults = step < FAULT_STEPS;
        now += STEP_MS;
        // The link.
        if up && faults && rng.gen_bool(0.002) {
            up = false;
            out.drops += 1;
            to_sys = Pipe::new();
            to_pms = Pipe::new();
            pms.link_down(now);
            sys.link_down(now);
            back_at = now + rng.gen_range(10..3_000);
        }
        if !up && now >= back_at {
            up = true;
            pms.link_up(now);
            sys.link_up(now);
        }
        // The hotel: guests come and go.
        if faults && rng.gen_bool(0.02) {
            let e = ext(rng.gen_range(0..rooms));
            let entry = truth.entry(e.clone()).or_insert((false, None));
            if entry.0 {
                *entry = (false, None);
                outbox.push(Message::CheckOut(e));
            } else {
                let name = GuestName::lossy(&format!("Guest {step}"), 20);
                *entry = (true, Some(name.clone()));
                outbox.push(Message::CheckIn(e.clone()));
                outbox.push(Message::Name { extension: e, name });
            }
        }
        // The outbox, one message at a time.
        if up
            && in_slot.is_none()
            && cursor < outbox.len()
            && pms.ready_for_message()
            && pms
                .submit(now, MessageId(cursor as u64), &outbox[cursor])
                .is_ok()
        {
            in_slot = Some(cursor as u64);
        }
        // Bytes and timers.
        let b = to_sys.due(now);
        if up && !b.is_empty() {
            sys.handle_bytes(now, &b);
        }
        let b = to_pms.due(now);
        if up && !b.is_empty() {
            pms.handle_bytes(now, &b);
        }
        if pms_timer.is_some_and(|t| now >= t) {
            pms_timer = None;
            pms.handle_timeout(now);
        }
        if sys_timer.is_some_and(|t| now >= t) {
            sys_timer = None;
            sys.handle_timeout(now);
        }
        for c in pms.take_commands() {
            match c {
                Command::Send(b) if up => to_sys.send(&mut rng, now, b, max_delay),
                Command::Send(_) => {}
                Command::SetTimer(t) => pms_timer = Some(t),
                Command::ClearTimer => pms_timer = None,
                Command::CloseLink => {
                    if up {
                        up = false;
                        to_sys = Pipe::new();
                        to_pms = Pipe::new();
                        pms.link_down(now);
                        sys.link_down(now);
                        back_at = now + 50;
                    }
                }
                Command::HotelLog(_) => {}
                Command::Deliver(ev) => match ev {
                    PmsEvent::Delivered(MessageId(id)) => {
                        if in_slot != Some(id) || id as usize != cursor {
                            return Err(format!(
                                "seed {seed}: message {id} acknowledged with {in_slot:?} in the slot and the outbox at {cursor}"
                            ));
                        }
                        in_slot = None;
                        cursor += 1;
                        out.delivered += 1;
                    }
                    PmsEvent::Failed(MessageId(id), _) => {
                        if in_slot == Some(id) {
                            in_slot = None;
                        }
                        out.failed += 1;
                    }
                    PmsEvent::LinkDown => in_slot = None,
                    PmsEvent::ResetWanted(_)
                        if pms.start_general_reset(now, snapshot(&truth)).is_ok() =>
                    {
                        reset_covers = Some(outbox.len());
                    }
                    PmsEvent::ResetCompleted { .. } => {
                        out.resets += 1;
                        if let Some(p) = reset_covers.take() {
                            // The snapshot held every change up to p: delivered by the reset.
                            if in_slot.is_none() {
                                cursor = cursor.max(p);
                            }
                        }
                    }
                    PmsEvent::ResetFailed(_) | PmsEvent::ResetInterrupted => reset_covers = None,
                    _ => {}
                },
            }
        }
        for c in sys.take_commands() {
            match c {
                Command::Send(b) if up => to_pms.send(&mut rng, now, b, max_delay),
                Command::SetTimer(t) => sys_timer = Some(t),
                Command::ClearTimer => sys_timer = None,
                _ => {}
            }
        }
        if !faults {
            let done = up
                && cursor == outbox.len()
                && in_slot.is_none()
                && !pms.reset_running()
                && to_sys.chunks.is_empty()
                && to_pms.chunks.is_empty();
            if done {
                settled += 1;
                if settled > 400 {
                    break;
                }
            } else {
                settled = 0;
            }
        }
    }
    if cursor != outbox.len() {
        return Err(format!(
            "seed {seed}: the outbox did not drain after the link healed ({cursor} of {})",
            outbox.len()
        ));
    }
    for (e, (occupied, name)) in &truth {
        let r = sys
            .room(e)
            .ok_or_else(|| format!("seed {seed}: room {e:?} unknown to the system"))?;
        if r.occupied != *occupied || &r.name != name {
            return Err(format!(
                "seed {seed}: room {e:?} is occupied={} name={:?} on the system, occupied={occupied} name={name:?} at the hotel",
                r.occupied, r.name
            ));
        }
    }
    Ok(out)
}
