//! Backups and restore with real processes and files (docs/disaster-recovery.md): an online
//! backup, wipe and restore gives the identical digest; a corrupted backup is refused by
//! verify and restore; a point-in-time restore lands exactly on the state at the chosen time
//! and a time before the backup is refused; a restored server recovers its own later changes
//! from its peer before it takes writes, so no sequence number is used twice.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use common::{booking, environment_file, free_port, seed, until, Api, TOKEN};
use innsync_faultproxy::Proxy;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

struct Server {
    port: u16,
    dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

impl Server {
    fn start(dir: &Path, extra: &[String]) -> Self {
        let mut extra = extra.to_vec();
        if !extra.iter().any(|a| a == "--server") {
            extra.extend(["--server".into(), "WB".into()]);
        }
        Self::start_on(dir, free_port(), &extra)
    }

    fn spawn(&mut self) {
        let (child, _) = common::launch(&self.args, "error");
        self.child = Some(child);
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn api(&self) -> Api {
        Api::new(&format!("https://127.0.0.1:{}", self.port), TOKEN)
    }

    /// kill -9 and the data directory emptied: the disaster.
    fn wipe(&mut self) {
        self.kill9();
        std::fs::remove_dir_all(&self.dir).unwrap();
        std::fs::create_dir_all(&self.dir).unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn innsync(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_innsync"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

async fn digest(api: &Api) -> String {
    let a = api.get("/api/v1/digest").await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    a.body["digest"].as_str().unwrap().to_string()
}

async fn book(api: &Api, n: u64, from: u64) -> Vec<String> {
    let mut refs = Vec::new();
    for i in 0..n {
        let a = api
            .post("/api/v1/bookings", booking(from + i % 200, 1))
            .await;
        assert_eq!(a.status, 201, "{:?}", a.body);
        refs.push(a.body["reference"].as_str().unwrap().to_string());
    }
    refs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_wipe_restore_gives_the_identical_digest() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let mut s = Server::start(&data, &[]);
    let api = s.api();
    seed(&api, 20).await;
    book(&api, 40, 1).await;
    let at_backup = digest(&api).await;
    // Online: the server keeps running and writing.
    let b = temp.path().join("backup-1");
    let (ok, out) = innsync(&["backup", "create", "--data-dir", &p(&data), "--to", &p(&b)]);
    assert!(ok, "{out}");
    let (ok, out) = innsync(&["backup", "verify", &p(&b)]);
    assert!(ok && out.contains("verified"), "{out}");
    // A second backup into the same directory is refused.
    let (ok, out) = innsync(&["backup", "create", "--data-dir", &p(&data), "--to", &p(&b)]);
    assert!(!ok && out.contains("already holds a backup"), "{out}");
    book(&api, 5, 100).await;
    assert_ne!(digest(&api).await, at_backup);
    // Restoring over a live data directory is refused and changes nothing.
    let (ok, out) = innsync(&["restore", "--from", &p(&b), "--data-dir", &p(&data)]);
    assert!(!ok && out.contains("already holds a database"), "{out}");
    s.wipe();
    let (ok, out) = innsync(&["restore", "--from", &p(&b), "--data-dir", &p(&data)]);
    assert!(ok, "{out}");
    s.spawn();
    let api = s.api();
    assert_eq!(digest(&api).await, at_backup);
    let (ok, out) = innsync(&["check", "--data-dir", &p(&data)]);
    assert!(ok, "{out}");
    // A server alone has no peer holding later changes of its own: it takes writes again.
    until("writes accepted after the restore", || async {
        let a = api.post("/api/v1/bookings", booking(7, 1)).await;
        (a.status == 201).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_backup_is_refused_by_verify_and_restore() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let s = Server::start(&data, &[]);
    seed(&s.api(), 5).await;
    let b = temp.path().join("backup");
    let (ok, out) = innsync(&["backup", "create", "--data-dir", &p(&data), "--to", &p(&b)]);
    assert!(ok, "{out}");
    // One byte flipped in the middle of the file.
    let file = b.join("innsync.db");
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let (ok, out) = innsync(&["backup", "verify", &p(&b)]);
    assert!(!ok && out.contains("corrupted"), "{out}");
    let target = temp.path().join("restored");
    let (ok, out) = innsync(&["restore", "--from", &p(&b), "--data-dir", &p(&target)]);
    assert!(!ok && out.contains("corrupted"), "{out}");
    assert!(
        !target.join("innsync.db").exists(),
        "a refused restore writes nothing"
    );
    // No manifest: said so.
    std::fs::remove_file(b.join("manifest.json")).unwrap();
    let (ok, out) = innsync(&["backup", "verify", &p(&b)]);
    assert!(!ok && out.contains("manifest.json"), "{out}");
}

/// Waits until the archive holds every change the database has committed.
async fn archived_everything(data: &Path, archive: &Path) {
    let db = data.join("innsync.db");
    let archive = archive.to_path_buf();
    until("the archive caught up", || {
        let (db, archive) = (db.clone(), archive.clone());
        async move {
            let c = rusqlite::Connection::open_with_flags(
                &db,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .ok()?;
            let n: i64 = c
                .query_row("SELECT COALESCE(MAX(n), 0) FROM change_order", [], |r| {
                    r.get(0)
                })
                .ok()?;
            let last = std::fs::read_dir(&archive)
                .ok()?
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter_map(|n| {
                    n.strip_suffix(".jsonl")?
                        .rsplit('-')
                        .next()?
                        .parse::<i64>()
                        .ok()
                })
                .max()
                .unwrap_or(0);
            (last >= n).then_some(())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn point_in_time_restore_lands_exactly_at_the_chosen_time() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let archive = temp.path().join("archive");
    let s = Server::start(
        &data,
        &[
            "--setting".into(),
            format!("archive_dir={}", archive.display()),
            "--setting".into(),
            "archive_interval=50ms".into(),
        ],
    );
    let api = s.api();
    seed(&api, 20).await;
    let b = temp.path().join("base");
    let (ok, out) = innsync(&["backup", "create", "--data-dir", &p(&data), "--to", &p(&b)]);
    assert!(ok, "{out}");
    let before_backup = chrono::Utc::now() - chrono::Duration::hours(1);
    book(&api, 15, 1).await;
    let at_t = digest(&api).await;
    let t = chrono::Utc::now();
    // The clock moves past T before the next write.
    until("the clock past T", || async {
        (chrono::Utc::now() > t + chrono::Duration::milliseconds(5)).then_some(())
    })
    .await;
    book(&api, 15, 50).await;
    let cancel = api
        .post(
            &format!("/api/v1/bookings/{}/cancel", book(&api, 1, 80).await[0]),
            serde_json::json!({"reason": "x"}),
        )
        .await;
    assert_eq!(cancel.status, 200, "{:?}", cancel.body);
    let at_end = digest(&api).await;
    archived_everything(&data, &archive).await;
    let t_text = t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    // To T: exactly the state at T.
    let r1 = temp.path().join("r1");
    let (ok, out) = innsync(&[
        "restore",
        "--from",
        &p(&b),
        "--data-dir",
        &p(&r1),
        "--until",
        &t_text,
        "--archive",
        &p(&archive),
    ]);
    assert!(ok, "{out}");
    let s1 = Server::start(&r1, &[]);
    assert_eq!(digest(&s1.api()).await, at_t, "restored to T");
    let (ok, out) = innsync(&["check", "--data-dir", &p(&r1)]);
    assert!(ok, "{out}");
    // Without a time: everything archived.
    let r2 = temp.path().join("r2");
    let (ok, out) = innsync(&[
        "restore",
        "--from",
        &p(&b),
        "--data-dir",
        &p(&r2),
        "--archive",
        &p(&archive),
    ]);
    assert!(ok, "{out}");
    let s2 = Server::start(&r2, &[]);
    assert_eq!(
        digest(&s2.api()).await,
        at_end,
        "restored to the end of the archive"
    );
    // The restored server goes on where the log ended: its next booking is new.
    let api2 = s2.api();
    until("writes accepted on the restored server", || async {
        (api2.post("/api/v1/bookings", booking(150, 1)).await.status == 201).then_some(())
    })
    .await;
    // Before the backup: refused, with what to do instead.
    let r3 = temp.path().join("r3");
    let early = before_backup.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (ok, out) = innsync(&[
        "restore",
        "--from",
        &p(&b),
        "--data-dir",
        &p(&r3),
        "--until",
        &early,
        "--archive",
        &p(&archive),
    ]);
    assert!(!ok && out.contains("older backup"), "{out}");
    assert!(!r3.join("innsync.db").exists());
    // A bad time: a clear message.
    let (ok, out) = innsync(&[
        "restore",
        "--from",
        &p(&b),
        "--data-dir",
        &p(&r3),
        "--until",
        "yesterday",
    ]);
    assert!(!ok && out.contains("RFC 3339"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_server_recovers_its_own_later_changes_before_taking_writes() {
    let temp = tempfile::tempdir().unwrap();
    let (wb_port, rs_port) = (free_port(), free_port());
    let env = environment_file(temp.path(), &[("WB", wb_port), ("RS", rs_port)]);
    // WB reaches RS through a proxy that the test can cut.
    let to_rs = Proxy::start(
        "127.0.0.1:0",
        format!("127.0.0.1:{rs_port}").parse().unwrap(),
    )
    .await
    .unwrap();
    let env_args = |code: &str, extra: &[String]| -> Vec<String> {
        let mut a = vec![
            "--environment".to_string(),
            p(&env),
            "--server".into(),
            code.into(),
        ];
        a.extend(extra.iter().cloned());
        a
    };
    let wb_dir = temp.path().join("wb");
    let rs_dir = temp.path().join("rs");
    let mut wb = Server::start_on(
        &wb_dir,
        wb_port,
        &env_args(
            "WB",
            &["--peer-url".into(), format!("RS=http://{}", to_rs.addr())],
        ),
    );
    let rs = Server::start_on(&rs_dir, rs_port, &env_args("RS", &[]));
    let (wapi, rapi) = (wb.api(), rs.api());
    until("the admin on RS", || async {
        (rapi.get("/api/v1/me").await.status == 200).then_some(())
    })
    .await;
    seed(&wapi, 20).await;
    book(&wapi, 10, 1).await;
    let b = temp.path().join("backup");
    let (ok, out) = innsync(&[
        "backup",
        "create",
        "--data-dir",
        &p(&wb_dir),
        "--to",
        &p(&b),
    ]);
    assert!(ok, "{out}");
    // Written after the backup, and pulled by RS.
    let later = book(&wapi, 10, 50).await;
    let wb_digest = digest(&wapi).await;
    until("RS holds everything WB wrote", || async {
        (digest(&rapi).await == wb_digest).then_some(())
    })
    .await;
    wb.wipe();
    let (ok, out) = innsync(&["restore", "--from", &p(&b), "--data-dir", &p(&wb_dir)]);
    assert!(ok, "{out}");
    to_rs.cut();
    wb.spawn();
    let wapi = wb.api();
    // RS is out of reach: WB does not know how far its own log went, so it takes no writes.
    let a = wapi.post("/api/v1/bookings", booking(120, 1)).await;
    let detail = a.problem(503, "unavailable");
    assert!(detail.contains("restored from a backup"), "{detail}");
    to_rs.heal();
    until("WB recovered its later changes from RS", || async {
        (digest(&wapi).await == wb_digest).then_some(())
    })
    .await;
    for r in &later {
        assert_eq!(wapi.get(&format!("/api/v1/bookings/{r}")).await.status, 200);
    }
    // Writes resume, with new ids and seqs: RS takes the new booking as a new change.
    let fresh = until("writes accepted again", || async {
        let a = wapi.post("/api/v1/bookings", booking(130, 1)).await;
        (a.status == 201).then(|| a.body["reference"].as_str().unwrap().to_string())
    })
    .await;
    assert!(!later.contains(&fresh));
    until("RS has the new booking", || async {
        (rapi.get(&format!("/api/v1/bookings/{fresh}")).await.status == 200).then_some(())
    })
    .await;
    let final_digest = digest(&wapi).await;
    until("WB and RS identical", || async {
        (digest(&rapi).await == final_digest).then_some(())
    })
    .await;
    let (ok, out) = innsync(&["check", "--data-dir", &p(&wb_dir)]);
    assert!(ok, "{out}");
}

impl Server {
    fn start_on(dir: &Path, port: u16, extra: &[String]) -> Self {
        let mut args: Vec<String> = vec![
            "--listen".into(),
            format!("127.0.0.1:{port}"),
            "--data-dir".into(),
            dir.display().to_string(),
        ];
        args.extend(extra.iter().cloned());
        let mut s = Self {
            port,
            dir: dir.to_path_buf(),
            args,
            child: None,
        };
        s.spawn();
        s
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_are_taken_and_only_the_newest_kept() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let root = temp.path().join("backups");
    let s = Server::start(
        &data,
        &[
            "--setting".into(),
            format!("backup_dir={}", root.display()),
            "--setting".into(),
            "backup_interval=200ms".into(),
            "--setting".into(),
            "backup_keep=2".into(),
        ],
    );
    seed(&s.api(), 3).await;
    let backups = || -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    // Several rounds go by: never more than two are left, and the newest is good.
    let first = until("a first scheduled backup", || async {
        backups().first().cloned()
    })
    .await;
    until("the first one removed by retention", || async {
        (!first.exists() && backups().len() == 2).then_some(())
    })
    .await;
    // The newest complete one (the manifest is written last).
    let newest = backups()
        .into_iter()
        .rev()
        .find(|d| d.join("manifest.json").exists())
        .unwrap();
    let (ok, out) = innsync(&["backup", "verify", &p(&newest)]);
    assert!(ok, "{out}");
}
