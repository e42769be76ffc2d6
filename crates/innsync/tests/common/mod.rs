//! A real `innsync serve` process on a loopback port, and a JSON client for it.
#![allow(dead_code)]

pub mod mesh;
pub mod s3;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

pub const TOKEN: &str = "isk_test_admin_token_0123456789";

pub struct TestServer {
    child: Option<Child>,
    pub base: String,
    pub dir: PathBuf,
    args: Vec<String>,
    _temp: Option<tempfile::TempDir>,
}

fn spawn(dir: &Path) -> (Child, String) {
    spawn_args(dir, &["serve", "--listen", "127.0.0.1:0", "--server", "WB"])
}

fn spawn_args(dir: &Path, args: &[&str]) -> (Child, String) {
    let mut all: Vec<String> = args
        .iter()
        .skip_while(|a| **a == "serve")
        .map(|a| a.to_string())
        .collect();
    all.extend(["--data-dir".to_string(), dir.display().to_string()]);
    launch(&all, "warn")
}

/// Given among a server's extra arguments, asks the launcher for plain HTTP (the launcher takes
/// it out): for the few tests that speak raw HTTP on a socket. Every other server the launcher
/// starts talks TLS.
pub const PLAIN_HTTP: &str = "--plain-http";

/// The test process's certificates (made once per test binary by `innsync cert`, in a
/// temporary directory): a private CA (`ca.pem`) and one server certificate for 127.0.0.1 and
/// localhost (`WB.pem`, `WB-key.pem`) every server of every test presents, to clients and, over
/// mutual TLS, to its peers.
pub fn test_certs() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("innsync-test-ca-")
            .tempdir()
            .unwrap()
            .keep();
        let env = dir.join("environment.toml");
        std::fs::write(
            &env,
            "name = \"tests\"\nsecret = \"a long shared secret for tests\"\ninitial_master = \"WB\"\n\n[[servers]]\ncode = \"WB\"\nrole = \"web\"\nurl = \"https://127.0.0.1:9\"\n",
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_innsync"))
            .args(["cert", "--san", "localhost", "--environment"])
            .arg(&env)
            .arg("--out")
            .arg(dir.join("certs"))
            .output()
            .expect("run innsync cert");
        assert!(
            out.status.success(),
            "innsync cert: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir.join("certs")
    })
}

/// The settings that make a server talk TLS with the test certificates, and insist on a
/// client certificate from the test CA on links between servers (mutual TLS).
pub fn tls_settings() -> Vec<String> {
    let d = test_certs();
    [
        format!("tls_cert={}", d.join("WB.pem").display()),
        format!("tls_key={}", d.join("WB-key.pem").display()),
        format!("tls_ca={}", d.join("ca.pem").display()),
        "peer_mtls=true".to_string(),
    ]
    .into_iter()
    .flat_map(|s| ["--setting".to_string(), s])
    .collect()
}

/// A reqwest client builder that trusts the test CA and presents the test certificate (so a
/// test may play a peer over mutual TLS), and still speaks plain HTTP to a plain URL: what
/// every test client of a test server starts from.
pub fn client_builder() -> reqwest::ClientBuilder {
    static TLS: std::sync::OnceLock<(reqwest::Certificate, reqwest::Identity)> =
        std::sync::OnceLock::new();
    let (ca, me) = TLS.get_or_init(|| {
        let d = test_certs();
        let pem = std::fs::read(d.join("ca.pem")).unwrap();
        let mut id = std::fs::read(d.join("WB.pem")).unwrap();
        id.extend(std::fs::read(d.join("WB-key.pem")).unwrap());
        (
            reqwest::Certificate::from_pem(&pem).unwrap(),
            reqwest::Identity::from_pem(&id).unwrap(),
        )
    });
    reqwest::Client::builder()
        .add_root_certificate(ca.clone())
        .identity(me.clone())
}

/// A client that trusts the test CA.
pub fn http_client() -> reqwest::Client {
    client_builder().build().unwrap()
}

/// Turns loopback URLs to `https` (or back to `http` when `plain`).
fn loopback_scheme(text: &str, plain: bool) -> String {
    if plain {
        text.replace("https://127.0.0.1", "http://127.0.0.1")
    } else {
        text.replace("http://127.0.0.1", "https://127.0.0.1")
    }
}

/// The arguments a server is started with over TLS: the test certificates (unless the test
/// gives its own), `https` loopback URLs (peers, cluster nodes), and its environment file (rewritten in place, so files a
/// test wrote with `http://` URLs name `https` peers). With [`PLAIN_HTTP`], all of it plain.
fn with_tls(args: &[String]) -> Vec<String> {
    let plain = args.iter().any(|a| a == PLAIN_HTTP);
    let mut out: Vec<String> = args
        .iter()
        .filter(|a| *a != PLAIN_HTTP)
        .map(|a| loopback_scheme(a, plain))
        .collect();
    for pair in out.windows(2) {
        if pair[0] == "--environment" {
            if let Ok(text) = std::fs::read_to_string(&pair[1]) {
                let changed = loopback_scheme(&text, plain);
                if changed != text {
                    std::fs::write(&pair[1], changed).unwrap();
                }
            }
        }
    }
    let own_certs = out.iter().any(|a| a.starts_with("tls_cert="));
    if !plain && !own_certs {
        out.extend(tls_settings());
    }
    out
}

/// Starts `innsync serve ARGS` with the shared launcher (`innsync_chaos::launch`, also used by
/// the benches and the fault harness) as the admin of [`TOKEN`]: the process and its base URL.
/// The server talks TLS (see [`with_tls`]) unless [`PLAIN_HTTP`] is among `args`. The test
/// fails if the server does not start.
pub fn launch(args: &[String], log: &str) -> (Child, String) {
    let plain = args.iter().any(|a| a == PLAIN_HTTP);
    let args = &with_tls(args);
    let l = innsync_chaos::launch::serve(innsync_chaos::launch::Serve {
        binary: Path::new(env!("CARGO_BIN_EXE_innsync")),
        args,
        token: TOKEN,
        log,
    })
    .unwrap_or_else(|e| panic!("innsync serve: {e}"));
    assert!(
        plain || l.addr.starts_with("https://"),
        "a test server talks TLS unless asked for plain HTTP: {}",
        l.addr
    );
    (l.child, l.addr)
}

impl TestServer {
    pub fn start() -> Self {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().to_path_buf();
        let (child, base) = spawn(&dir);
        Self {
            child: Some(child),
            base,
            dir,
            args: vec![],
            _temp: Some(temp),
        }
    }

    /// A server of an environment: `innsync serve --environment FILE --server CODE …`.
    pub fn start_in(
        env_file: &Path,
        code: &str,
        listen: &str,
        peer_urls: &[(String, String)],
    ) -> Self {
        Self::start_in_with(env_file, code, listen, peer_urls, &[])
    }

    /// Like [`TestServer::start_in`], with more arguments (`--setting NAME=VALUE`).
    pub fn start_in_with(
        env_file: &Path,
        code: &str,
        listen: &str,
        peer_urls: &[(String, String)],
        extra: &[&str],
    ) -> Self {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().to_path_buf();
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--environment".into(),
            env_file.display().to_string(),
            "--server".into(),
            code.into(),
            "--listen".into(),
            listen.into(),
        ];
        for (peer, url) in peer_urls {
            args.push("--peer-url".into());
            args.push(format!("{peer}={url}"));
        }
        args.extend(extra.iter().map(|a| a.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let (child, base) = spawn_args(&dir, &refs);
        Self {
            child: Some(child),
            base,
            dir,
            args,
            _temp: Some(temp),
        }
    }

    /// kill -9: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    pub fn restart(&mut self) {
        self.kill9();
        let (child, base) = if self.args.is_empty() {
            spawn(&self.dir)
        } else {
            let refs: Vec<&str> = self.args.iter().map(String::as_str).collect();
            spawn_args(&self.dir, &refs)
        };
        self.child = Some(child);
        self.base = base;
    }

    /// `innsync check` on this server's data directory (it may be running): every invariant
    /// recomputed from the records.
    pub fn check_invariants(&self) {
        let out = Command::new(env!("CARGO_BIN_EXE_innsync"))
            .args(["check", "--data-dir"])
            .arg(&self.dir)
            .output()
            .expect("run innsync check");
        assert!(
            out.status.success(),
            "innsync check {}: {}",
            self.dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn api(&self) -> Api {
        Api::new(&self.base, TOKEN)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    /// Asserts a problem+json answer with this status and code, and returns its detail.
    pub fn problem(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status.as_u16(), status, "{:?}", self.body);
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "{:?}",
            self.body
        );
        assert_eq!(self.body["code"], code, "{:?}", self.body);
        assert_eq!(self.body["status"], status);
        let detail = self.body["detail"].as_str().unwrap_or_default().to_string();
        assert!(!detail.is_empty());
        detail
    }
}

impl Api {
    pub fn new(base: &str, token: &str) -> Self {
        Self {
            http: http_client(),
            base: base.to_string(),
            token: Some(token.to_string()),
        }
    }

    pub fn anonymous(&self) -> Self {
        Self {
            token: None,
            ..self.clone()
        }
    }

    pub fn with_token(&self, t: &str) -> Self {
        Self {
            token: Some(t.to_string()),
            ..self.clone()
        }
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some((ct, bytes)) = body {
            req = req.header("content-type", ct).body(bytes);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let b = body.map(|v| ("application/json", serde_json::to_vec(&v).unwrap()));
        self.raw(method, path, b, headers).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.send(Method::PUT, path, Some(body), &[]).await
    }

    /// POST that must succeed.
    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let a = self.post(path, body).await;
        assert!(a.status.is_success(), "{path}: {} {:?}", a.status, a.body);
        a.body
    }
}

pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

pub fn day(n: u64) -> String {
    (today() + chrono::Days::new(n)).to_string()
}

/// Property KRL (UTC) with room type DLX of `rooms` rooms (101, 102…), priced 100.00 ZAR.
pub async fn seed(api: &Api, rooms: usize) {
    api.ok(
        "/api/v1/properties",
        json!({"code": "KRL", "name": "Kraal Lodge", "timezone": "UTC", "currency": "ZAR"}),
    )
    .await;
    api.ok(
        "/api/v1/properties/KRL/room-types",
        json!({"code": "DLX", "name": "Deluxe", "max_occupancy": 2}),
    )
    .await;
    api.ok(
        "/api/v1/properties/KRL/room-types",
        json!({"code": "STD", "name": "Standard", "max_occupancy": 2}),
    )
    .await;
    for i in 0..rooms {
        api.ok(
            "/api/v1/properties/KRL/rooms",
            json!({"number": format!("{}", 101 + i), "room_type": "DLX"}),
        )
        .await;
    }
    api.ok(
        "/api/v1/properties/KRL/rooms",
        json!({"number": "201", "room_type": "STD"}),
    )
    .await;
    let a = api
        .put(
            "/api/v1/properties/KRL/rates/DLX",
            json!({"from": day(0), "to": day(400), "amount": 10000, "currency": "ZAR"}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
}

pub fn booking(arrival: u64, nights: u64) -> Value {
    json!({"property": "KRL", "room_type": "DLX", "arrival": day(arrival), "departure": day(arrival + nights),
           "units": 1, "guest": {"name": "Ann Smith", "email": "ann@example.com"}})
}

/// A free loopback port below the kernel's ephemeral range (32768 and up), so an outgoing
/// connection never takes it as its local port — which matters when a server is killed and
/// restarted on the same port.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 10) as u16 * 1_000;
    for _ in 0..1_000 {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 1_000;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {base} and {}", base + 999);
}

/// Polls `check` until it returns Some, failing after a bounded wait.
pub async fn until<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// An environment file for servers on these ports (WB web and initial master, RS office,
/// PA property server owning KRL).
pub fn environment_file(dir: &Path, ports: &[(&str, u16)]) -> PathBuf {
    let mut s = String::from(
        "name = \"test\"\nsecret = \"a long shared secret for tests\"\ninitial_master = \"WB\"\n",
    );
    for (code, port) in ports {
        let role = match *code {
            "WB" => "web",
            "PA" => "property",
            _ => "reservation",
        };
        s.push_str(&format!("\n[[servers]]\ncode = \"{code}\"\nrole = \"{role}\"\nurl = \"https://127.0.0.1:{port}\"\n"));
        if *code == "PA" {
            s.push_str("properties = [\"KRL\"]\n");
        }
    }
    let p = dir.join("environment.toml");
    std::fs::write(&p, s).unwrap();
    p
}
