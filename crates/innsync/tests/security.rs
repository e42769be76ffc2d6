//! Safe on the open internet (issue 16), against real processes on real sockets: no
//! unauthenticated client can stall replication or the API, slow clients are cut off,
//! connections are limited per address, peers are refused before their body is read, logins
//! are throttled, and servers talk TLS to each other with certificates from `innsync cert`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::too_many_lines,
    reason = "a test (or bench) that cannot go on fails, loudly; a scenario reads top to bottom"
)]

mod common;

use common::{
    booking, environment_file, free_port, seed, until, Api, TestServer, PLAIN_HTTP, TOKEN,
};
use serde_json::json;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A connection from `source` (any 127.x.y.z address is loopback on Linux), so a test can
/// play many clients at once.
async fn connect_from(source: [u8; 4], to: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    s.bind(SocketAddr::from((source, 0)))?;
    s.connect(to).await
}

fn addr_of(base: &str) -> SocketAddr {
    base.trim_start_matches("http://")
        .trim_start_matches("https://")
        .parse()
        .unwrap()
}

/// Reads until the server closes or `limit` passes: what it sent, and whether it closed.
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into(), false),
        }
    }
}

/// Two servers, WB (master) and RS, with the property seeded on WB and known on RS.
async fn two_servers(extra_wb: &[&str]) -> (tempfile::TempDir, TestServer, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let (p_wb, p_rs) = (free_port(), free_port());
    let env = environment_file(dir.path(), &[("WB", p_wb), ("RS", p_rs)]);
    // Plain HTTP: these tests speak raw HTTP on sockets (TLS only adds a handshake in front).
    let mut wb_args = vec![PLAIN_HTTP];
    wb_args.extend_from_slice(extra_wb);
    let wb = TestServer::start_in_with(&env, "WB", &format!("127.0.0.1:{p_wb}"), &[], &wb_args);
    let rs =
        TestServer::start_in_with(&env, "RS", &format!("127.0.0.1:{p_rs}"), &[], &[PLAIN_HTTP]);
    seed(&wb.api(), 3).await;
    let rs_api = rs.api();
    until("the property on RS", || async {
        (rs_api.get("/api/v1/properties/KRL").await.status == 200).then_some(())
    })
    .await;
    (dir, wb, rs)
}

/// Books on WB and returns how long RS took to show the booking.
async fn booking_reaches(wb: &Api, rs: &Api) -> Duration {
    let b = wb.ok("/api/v1/bookings", booking(3, 2)).await;
    let reference = b["reference"].as_str().unwrap().to_string();
    let started = Instant::now();
    until("the booking on RS", || async {
        (rs.get(&format!("/api/v1/bookings/{reference}"))
            .await
            .status
            == 200)
            .then_some(())
    })
    .await;
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replication_goes_on_under_1100_stalled_unauthenticated_connections() {
    // Connections are held for the whole test (no header timeout cuts them first), so only
    // authentication before the body and the peers' own pool keep replication going.
    let (_dir, wb, rs) = two_servers(&[
        "--setting",
        "header_read_timeout=120s",
        "--setting",
        "body_read_timeout=120s",
    ])
    .await;
    let (wb_api, rs_api) = (wb.api(), rs.api());
    let warm = booking_reaches(&wb_api, &rs_api).await;
    let to = addr_of(&wb.base);
    let mut held = Vec::new();
    // 11 client addresses × 100 connections, under the per-address limit (128): half start
    // a pull body they never finish, half never finish their headers (slowloris); the first
    // of each address also stalls a login.
    for a in 0..11u8 {
        for i in 0..100 {
            let mut s = connect_from([127, 0, 1, 2 + a], to).await.unwrap();
            let req: &[u8] = if i == 0 {
                b"POST /api/v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"username\""
            } else if i % 2 == 0 {
                b"POST /api/v1/replication/pull HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"cursor\":{"
            } else {
                b"POST /api/v1/replication/pull HTTP/1.1\r\nHost: x\r\nX-Innsync-Serv"
            };
            s.write_all(req).await.unwrap();
            held.push(s);
        }
    }
    assert_eq!(held.len(), 1_100);
    let took = booking_reaches(&wb_api, &rs_api).await;
    assert!(
        took < Duration::from_secs(1),
        "a booking took {took:?} to reach RS under 1,100 stalled connections (before: {warm:?})"
    );
    // Login still answers while the stalled logins wait.
    let login = wb_api
        .anonymous()
        .post(
            "/api/v1/login",
            json!({"username": "admin", "password": "not the password"}),
        )
        .await;
    login.problem(401, "unauthorized");
    // The unauthenticated pulls were refused at once, before their bodies: 401, no field names.
    let (answer, _) = read_until_closed(&mut held[2], Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(!answer.contains("cursor"), "{answer}");
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_routes_answer_401_before_reading_a_body() {
    let (_dir, wb, _rs) = two_servers(&[]).await;
    let to = addr_of(&wb.base);
    for path in [
        "/api/v1/replication/pull",
        "/api/v1/replication/relay",
        "/api/v1/replication/offer",
        "/api/v1/replication/await",
    ] {
        let mut s = TcpStream::connect(to).await.unwrap();
        // A body is announced and never sent: the answer must not wait for it.
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let (answer, _) = read_until_closed(&mut s, Duration::from_secs(2)).await;
        assert!(answer.starts_with("HTTP/1.1 401"), "{path}: {answer}");
        assert!(
            answer.contains("\"code\":\"unauthorized\""),
            "{path}: {answer}"
        );
        for field in ["cursor", "limit", "wait_ms", "actor", "record"] {
            assert!(!answer.contains(field), "{path} leaks {field}: {answer}");
        }
    }
    // An API write with a wrong token is refused before its body too.
    let mut s = TcpStream::connect(to).await.unwrap();
    s.write_all(b"POST /api/v1/bookings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer isk_wrong\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = read_until_closed(&mut s, Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_one_address_cannot_take_every_connection() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let env = environment_file(dir.path(), &[("WB", port)]);
    let wb = TestServer::start_in_with(
        &env,
        "WB",
        &format!("127.0.0.1:{port}"),
        &[],
        &[
            PLAIN_HTTP,
            "--setting",
            "header_read_timeout=1s",
            "--setting",
            "body_read_timeout=1s",
            "--setting",
            "max_connections_per_address=8",
        ],
    );
    let to = addr_of(&wb.base);
    // Slowloris: headers never finished — closed after the header read timeout.
    let mut s = TcpStream::connect(to).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(closed, "a slowloris connection was not cut off");
    assert!(started.elapsed() < Duration::from_secs(4));
    // An idle connection is closed too.
    let mut idle = TcpStream::connect(to).await.unwrap();
    let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(closed, "an idle connection was kept");
    // An authenticated booking that sends 5 of its 100 bytes is answered, not kept forever.
    let mut s = TcpStream::connect(to).await.unwrap();
    let head = format!("POST /api/v1/bookings HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"pro");
    s.write_all(head.as_bytes()).await.unwrap();
    let (answer, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(
        closed || answer.starts_with("HTTP/1.1 4"),
        "a half-sent body was waited for: {answer:?}"
    );
    assert!(!answer.starts_with("HTTP/1.1 2"), "{answer}");
    // One address: at most 8 connections; the 9th is closed at once, others still served.
    let mut mine = Vec::new();
    for _ in 0..8 {
        mine.push(connect_from([127, 0, 2, 9], to).await.unwrap());
    }
    let mut ninth = connect_from([127, 0, 2, 9], to).await.unwrap();
    let (_, closed) = read_until_closed(&mut ninth, Duration::from_millis(900)).await;
    assert!(closed, "a 9th connection from one address was kept");
    assert_eq!(wb.api().get("/healthz").await.status, 200);
    drop(mine);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_are_throttled_per_account_and_logout_revokes_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let env = environment_file(dir.path(), &[("WB", port)]);
    let wb = TestServer::start_in_with(
        &env,
        "WB",
        &format!("127.0.0.1:{port}"),
        &[],
        &["--setting", "login_per_account_per_minute=3"],
    );
    let api = wb.api();
    api.ok(
        "/api/v1/users",
        json!({"username": "clerk", "password": "a good long password", "roles": ["front_desk"]}),
    )
    .await;
    let anon = api.anonymous();
    let wrong = json!({"username": "clerk", "password": "guessing wrongly"});
    // Three failures a minute are allowed; the fourth goes past the rate.
    for _ in 0..4 {
        anon.post("/api/v1/login", wrong.clone())
            .await
            .problem(401, "unauthorized");
    }
    // Past the account's rate: refused before the password is checked, even the right one.
    let a = anon.post("/api/v1/login", wrong.clone()).await;
    a.problem(429, "too_many_requests");
    assert!(a.headers.contains_key("retry-after"));
    let right = json!({"username": "clerk", "password": "a good long password"});
    anon.post("/api/v1/login", right)
        .await
        .problem(429, "too_many_requests");
    // Another account is not affected.
    let admin_login = anon
        .post(
            "/api/v1/login",
            json!({"username": "nobody", "password": "whatever it is"}),
        )
        .await;
    admin_login.problem(401, "unauthorized");
    // Logout: the token stops working at once, though it was just used (cached).
    let t = api
        .ok(
            "/api/v1/users",
            json!({"username": "clerk2", "password": "another long password", "roles": ["front_desk"]}),
        )
        .await;
    assert_eq!(t["username"], "clerk2");
    let login = anon
        .post(
            "/api/v1/login",
            json!({"username": "clerk2", "password": "another long password"}),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    let session = api.with_token(login.body["token"].as_str().unwrap());
    assert_eq!(session.get("/api/v1/me").await.status, 200);
    let out = session.post("/api/v1/logout", json!({})).await;
    assert_eq!(out.status, 204, "{:?}", out.body);
    session.get("/api/v1/me").await.problem(401, "unauthorized");
}

/// `innsync cert` for an environment file into `out`.
fn make_certs(env: &std::path::Path, out: &std::path::Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_innsync"))
        .args(["cert", "--environment"])
        .arg(env)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "innsync cert: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

fn tls_args(dir: &std::path::Path, code: &str, ca_dir: &std::path::Path) -> Vec<String> {
    [
        format!("tls_cert={}", dir.join(format!("{code}.pem")).display()),
        format!("tls_key={}", dir.join(format!("{code}-key.pem")).display()),
        format!("tls_ca={}", ca_dir.join("ca.pem").display()),
        "peer_mtls=true".to_string(),
    ]
    .into_iter()
    .flat_map(|s| ["--setting".to_string(), s])
    .collect()
}

fn tls_api(base: &str, ca: &std::path::Path) -> Api {
    let pem = std::fs::read(ca.join("ca.pem")).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    Api {
        http,
        base: base.to_string(),
        token: Some(TOKEN.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_replicate_over_mutual_tls_and_refuse_a_certificate_of_another_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (p_wb, p_rs) = (free_port(), free_port());
    let env = environment_file(dir.path(), &[("WB", p_wb), ("RS", p_rs)]);
    let text = std::fs::read_to_string(&env)
        .unwrap()
        .replace("http://", "https://");
    std::fs::write(&env, text).unwrap();
    let certs = dir.path().join("certs");
    make_certs(&env, &certs);
    let other = dir.path().join("other-ca");
    make_certs(&env, &other);
    // A server whose URL is https refuses to start without certificates.
    let refused = Command::new(env!("CARGO_BIN_EXE_innsync"))
        .args([
            "serve",
            "--server",
            "WB",
            "--listen",
            "127.0.0.1:0",
            "--environment",
        ])
        .arg(&env)
        .arg("--data-dir")
        .arg(dir.path().join("nocert"))
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("tls_cert"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let wb_args = tls_args(&certs, "WB", &certs);
    let wb_refs: Vec<&str> = wb_args.iter().map(String::as_str).collect();
    let wb = TestServer::start_in_with(&env, "WB", &format!("127.0.0.1:{p_wb}"), &[], &wb_refs);
    assert!(wb.base.starts_with("https://"), "{}", wb.base);
    // RS's certificate comes from another CA (and it trusts only that one).
    let rs_args = tls_args(&other, "RS", &other);
    let rs_refs: Vec<&str> = rs_args.iter().map(String::as_str).collect();
    let mut rs = TestServer::start_in_with(&env, "RS", &format!("127.0.0.1:{p_rs}"), &[], &rs_refs);
    let wb_api = tls_api(&wb.base, &certs);
    let rs_api = tls_api(&rs.base, &other);
    seed(&wb_api, 2).await;
    // Plain HTTP to a TLS listener gets nothing.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{p_wb}/healthz"))
        .send()
        .await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));
    // The certificates of two CAs do not meet: WB cannot reach RS, and nothing crosses (RS
    // never learns the admin user, which only arrives from the master).
    until("WB to report RS unreachable", || async {
        let e = wb_api.get("/api/v1/environment").await;
        let text = e.body.to_string();
        (e.status == 200 && text.contains("\"reachable\":false")).then_some(())
    })
    .await;
    rs_api.get("/api/v1/me").await.problem(401, "unauthorized");
    // With a certificate from the environment's CA, RS replicates over TLS.
    drop(rs_api);
    rs.kill9();
    let rs_args = tls_args(&certs, "RS", &certs);
    let rs_refs: Vec<&str> = rs_args.iter().map(String::as_str).collect();
    let rs = TestServer::start_in_with(&env, "RS", &format!("127.0.0.1:{p_rs}"), &[], &rs_refs);
    let rs_api = tls_api(&rs.base, &certs);
    until("the property on RS over TLS", || async {
        (rs_api.get("/api/v1/properties/KRL").await.status == 200).then_some(())
    })
    .await;
    let took = booking_reaches(&wb_api, &rs_api).await;
    assert!(took < Duration::from_secs(2), "{took:?}");
}

/// The DER of the first certificate of a PEM file.
fn der_of(pem_file: &std::path::Path) -> Vec<u8> {
    use base64::Engine as _;
    let text = std::fs::read_to_string(pem_file).unwrap();
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

/// The certificate the server at `base` presents to a new connection.
async fn served_certificate(base: &str, ca: &std::path::Path) -> Option<Vec<u8>> {
    let pem = std::fs::read(ca.join("ca.pem")).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .tls_info(true)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let r = http.get(format!("{base}/healthz")).send().await.ok()?;
    r.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .map(<[u8]>::to_vec)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewed_certificate_is_served_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let env = environment_file(dir.path(), &[("WB", port)]);
    let certs = dir.path().join("certs");
    make_certs(&env, &certs);
    let first = der_of(&certs.join("WB.pem"));
    let mut args = tls_args(&certs, "WB", &certs);
    args.extend(["--setting".into(), "tls_reload_interval=100ms".into()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let wb = TestServer::start_in_with(&env, "WB", &format!("127.0.0.1:{port}"), &[], &refs);
    assert_eq!(
        served_certificate(&wb.base, &certs).await,
        Some(first.clone())
    );
    // Renewed on disk (same CA, new key and certificate), the server is not touched.
    make_certs(&env, &certs);
    let renewed = der_of(&certs.join("WB.pem"));
    assert_ne!(renewed, first);
    until("the renewed certificate to be served", || async {
        (served_certificate(&wb.base, &certs).await.as_ref() == Some(&renewed)).then_some(())
    })
    .await;
    // Files that cannot be used are not taken: the renewed certificate stays in service.
    std::fs::write(certs.join("WB.pem"), "not a certificate").unwrap();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            served_certificate(&wb.base, &certs).await.as_ref(),
            Some(&renewed)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_says_not_ready_while_writes_fail_and_ready_again_after() {
    let s = TestServer::start();
    let api = s.api();
    seed(&api, 1).await;
    assert_eq!(api.anonymous().get("/readyz").await.status, 200);
    // Another process holds the database's write lock: every write of the server fails (after
    // its busy timeout), as on a full disk — the same path: the batch's transaction fails.
    let db = s.dir.join("innsync.db");
    let lock = rusqlite::Connection::open(&db).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let refused = api.post("/api/v1/bookings", booking(3, 1)).await;
    assert_eq!(refused.status, 503, "{:?}", refused.body);
    let ready = api.anonymous().get("/readyz").await;
    assert_eq!(ready.status, 503, "{:?}", ready.body);
    assert_eq!(ready.body["ready"], false);
    // Reads still answer while writes fail.
    assert_eq!(api.get("/api/v1/properties/KRL").await.status, 200);
    // The lock goes (space freed): the next write succeeds and the server is ready again.
    lock.execute_batch("ROLLBACK").unwrap();
    drop(lock);
    api.ok("/api/v1/bookings", booking(3, 1)).await;
    let ready = api.anonymous().get("/readyz").await;
    assert_eq!(ready.status, 200, "{:?}", ready.body);
    assert_eq!(ready.body["ready"], true);
    s.check_invariants();
}

/// Rewrites the secrets of an environment file (the rest stays, so its fingerprint does too).
fn set_secrets(file: &std::path::Path, secret: &str, rotating: Option<&str>) {
    let text = std::fs::read_to_string(file).unwrap();
    let rest: String = text
        .lines()
        .filter(|l| !l.starts_with("secret =") && !l.starts_with("rotating_secret ="))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut head = format!("secret = \"{secret}\"\n");
    if let Some(r) = rotating {
        head.push_str(&format!("rotating_secret = \"{r}\"\n"));
    }
    std::fs::write(file, head + &rest).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_secret_rotates_server_by_server_without_refusals() {
    const OLD: &str = "a long shared secret for tests";
    const NEW: &str = "the next long secret, rotated in";
    let (d_wb, d_rs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (p_wb, p_rs) = (free_port(), free_port());
    let ports = [("WB", p_wb), ("RS", p_rs)];
    // Each server its own copy of the file: during a rotation they differ in their secrets.
    let (f_wb, f_rs) = (
        environment_file(d_wb.path(), &ports),
        environment_file(d_rs.path(), &ports),
    );
    let mut wb = TestServer::start_in(&f_wb, "WB", &format!("127.0.0.1:{p_wb}"), &[]);
    let mut rs = TestServer::start_in(&f_rs, "RS", &format!("127.0.0.1:{p_rs}"), &[]);
    seed(&wb.api(), 6).await;
    until("the property on RS", || async {
        (rs.api().get("/api/v1/properties/KRL").await.status == 200).then_some(())
    })
    .await;
    // Each step: one server restarted with its new file, then a booking on each side reaches
    // the other (RS books on its own authority: a guest).
    let steps: [(&str, &str, Option<&str>); 5] = [
        ("RS", OLD, Some(NEW)), // 1. every file accepts the new secret
        ("WB", OLD, Some(NEW)),
        ("WB", NEW, Some(OLD)), // 2. every file sends the new one, still accepts the old
        ("RS", NEW, Some(OLD)),
        ("WB", NEW, None), // 3. the old secret goes
    ];
    for (i, (code, secret, rotating)) in steps.into_iter().enumerate() {
        let (server, file) = if code == "WB" {
            (&mut wb, &f_wb)
        } else {
            (&mut rs, &f_rs)
        };
        set_secrets(file, secret, rotating);
        server.restart();
        let (wb_api, rs_api) = (wb.api(), rs.api());
        let took = booking_reaches(&wb_api, &rs_api).await;
        assert!(took < Duration::from_secs(5), "step {i}: {took:?}");
        let g = rs_api
            .ok(
                "/api/v1/guests",
                json!({"name": format!("Guest {i}"), "email": format!("g{i}@example.com")}),
            )
            .await;
        let id = g["id"].as_str().unwrap().to_string();
        until(&format!("step {i}: RS's guest on WB"), || async {
            (wb_api.get(&format!("/api/v1/guests/{id}")).await.status == 200).then_some(())
        })
        .await;
    }
    // RS still holds the old secret beside the new; WB no longer accepts the old one: a peer
    // proving only the old secret is refused.
    set_secrets(&f_rs, OLD, None);
    rs.restart();
    until("WB to report RS refused", || async {
        let e = wb.api().get("/api/v1/environment").await;
        (e.status == 200 && e.body.to_string().contains("\"reachable\":false")).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_login_is_throttled_like_the_api_and_its_cookie_is_secure() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let env = environment_file(dir.path(), &[("WB", port)]);
    let wb = TestServer::start_in_with(
        &env,
        "WB",
        &format!("127.0.0.1:{port}"),
        &[],
        &[
            "--setting",
            "login_per_account_per_minute=3",
            "--setting",
            "ui_tls=true",
        ],
    );
    let api = wb.api();
    api.ok(
        "/api/v1/users",
        json!({"username": "desk", "password": "a good long password", "roles": ["front_desk"]}),
    )
    .await;
    let http = common::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = |name: &'static str, password: &'static str| {
        let (http, base) = (http.clone(), wb.base.clone());
        async move {
            http.post(format!("{base}/ui/login"))
                .form(&[("username", name), ("password", password)])
                .send()
                .await
                .unwrap()
        }
    };
    // The right password: a session cookie scripts cannot read, sent over TLS only.
    let ok = login("desk", "a good long password").await;
    assert_eq!(ok.status(), 303);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(cookie.contains(flag), "{flag} missing: {cookie}");
    }
    // Wrong passwords: three a minute, then refused before the password is looked at.
    for _ in 0..4 {
        let r = login("desk", "guessing wrongly").await;
        assert_eq!(r.status(), 401);
        assert!(r
            .text()
            .await
            .unwrap()
            .contains("Wrong username or password"));
    }
    let r = login("desk", "guessing wrongly").await;
    assert_eq!(r.status(), 429);
    assert!(r.text().await.unwrap().contains("Too many failed logins"));
    assert_eq!(login("desk", "a good long password").await.status(), 429);
    // One throttle for the UI and the API: the account is refused there too.
    api.anonymous()
        .post(
            "/api/v1/login",
            json!({"username": "desk", "password": "a good long password"}),
        )
        .await
        .problem(429, "too_many_requests");
    // Another account is not affected.
    assert_eq!(login("nobody", "whatever it is").await.status(), 401);
}
