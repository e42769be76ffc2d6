//! Thousands of seeded schedules of the simulated environment and PMS link, each checking the
//! protocol invariants. A failure names its seed; replay it with `run_schedule(seed, mode)`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

use innsync_chaos::sim::environment::{run_schedule, Mode, Outcome};

/// Schedules per mode; `INNSYNC_SIM_SCHEDULES` runs more (the long mode).
fn schedules(default: u64) -> u64 {
    std::env::var("INNSYNC_SIM_SCHEDULES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn sweep(mode: Mode, base: u64, n: u64) -> Vec<Outcome> {
    (base..base + n)
        .map(|seed| match run_schedule(seed, mode) {
            Ok(o) => o,
            Err(b) => panic!(
                "seed {} broke an invariant ({mode:?}): {}\nreplay: run_schedule({}, {mode:?})",
                b.seed, b.what, b.seed
            ),
        })
        .collect()
}

#[test]
fn handovers_under_loss_duplication_reordering_and_partitions_keep_one_master_per_epoch() {
    let mode = Mode {
        takeovers: false,
        timetable: false,
        crashes: false,
    };
    let out = sweep(mode, 0, schedules(600));
    let grants: u64 = out.iter().map(|o| o.grants).sum();
    let aborts: u64 = out.iter().map(|o| o.aborts).sum();
    let held: u64 = out.iter().map(|o| o.held).sum();
    let dups: u64 = out.iter().map(|o| o.duplicates).sum();
    assert!(
        grants > 100 && aborts > 10,
        "grants {grants} aborts {aborts}"
    );
    assert!(held > 100 && dups > 100, "held {held} duplicates {dups}");
}

#[test]
fn crashes_and_a_timetable_on_skewed_clocks_keep_one_master_per_epoch() {
    let mode = Mode {
        takeovers: false,
        timetable: true,
        crashes: true,
    };
    let out = sweep(mode, 10_000, schedules(600));
    let timetabled: u64 = out.iter().map(|o| o.timetable_handovers).sum();
    let crashes: u64 = out.iter().map(|o| o.crashes).sum();
    assert!(
        timetabled > 100 && crashes > 100,
        "timetable {timetabled} crashes {crashes}"
    );
}

#[test]
fn forced_takeovers_leave_only_the_epoch_s_master_s_env_writes_counting() {
    let mode = Mode {
        takeovers: true,
        timetable: true,
        crashes: true,
    };
    let out = sweep(mode, 20_000, schedules(600));
    let takeovers: u64 = out.iter().map(|o| o.takeovers).sum();
    let quarantined: u64 = out.iter().map(|o| o.quarantined).sum();
    assert!(
        takeovers > 100 && quarantined > 10,
        "takeovers {takeovers} quarantined {quarantined}"
    );
}

#[test]
fn the_pms_link_over_a_splitting_dropping_link_leaves_both_sides_identical() {
    use innsync_chaos::sim::pms::run_pms_schedule;
    let n = schedules(600);
    let (mut delivered, mut resets, mut drops) = (0, 0, 0);
    for seed in 0..n {
        let o = run_pms_schedule(seed)
            .unwrap_or_else(|e| panic!("{e}\nreplay: run_pms_schedule({seed})"));
        delivered += o.delivered;
        resets += o.resets;
        drops += o.drops;
    }
    assert!(
        delivered > 1_000 && resets > 100 && drops > 100,
        "delivered {delivered} resets {resets} drops {drops}"
    );
}
