//! A small W3C WebDriver client for the UI tests: starts Debian's chromedriver on a free port,
//! opens headless Chromium with a fresh profile, and offers the few commands the tests need
//! (navigate, find, click, type, run a script, accept a confirmation, screenshot), each wait
//! bounded and polling, never a fixed sleep. The driver and the browser are stopped on drop.
#![allow(dead_code)]

use base64::Engine;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The key under which WebDriver returns an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a wait for an element or a text lasts before the test fails.
pub const WAIT: Duration = Duration::from_secs(15);
/// How often waits look again.
const POLL: Duration = Duration::from_millis(100);

/// Debian's chromium binary (the wrapper script and the real binary).
pub const CHROMIUM: [&str; 2] = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"];
/// Debian's chromedriver.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Paths of the browser and driver, from the environment or Debian's locations.
pub fn browser_paths() -> (Option<PathBuf>, Option<PathBuf>) {
    let chromium = std::env::var_os("INNSYNC_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| CHROMIUM.iter().map(PathBuf::from).find(|p| p.exists()))
        .filter(|p| p.exists());
    let driver = std::env::var_os("INNSYNC_CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(CHROMEDRIVER));
    (chromium, Some(driver).filter(|p| p.exists()))
}

/// A WebDriver session on headless Chromium.
pub struct Browser {
    http: reqwest::Client,
    driver_url: String,
    session: String,
    driver: Option<Child>,
    _profile: tempfile::TempDir,
    port: u16,
}

/// An element reference as a script argument.
pub fn element_ref(id: &str) -> Value {
    let mut m = serde_json::Map::new();
    m.insert(ELEMENT.to_string(), Value::String(id.to_string()));
    Value::Object(m)
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session at 1280×800.
    pub async fn start(chromium: &Path, chromedriver: &Path) -> Browser {
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", chromedriver.display()));
        let profile = tempfile::tempdir().expect("profile directory");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        let driver_url = format!("http://127.0.0.1:{port}");
        let mut b = Browser {
            http,
            driver_url,
            session: String::new(),
            driver: Some(driver),
            _profile: profile,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = b
                .http
                .get(format!("{}/status", b.driver_url))
                .send()
                .await
                .ok()
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on port {port} within 30 s"
            );
            tokio::time::sleep(POLL).await;
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,800",
            &format!("--user-data-dir={}", b._profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium.display().to_string(), "args": args},
            "unhandledPromptBehavior": "ignore",
            // The test servers' certificates come from the test process's own CA.
            "acceptInsecureCerts": true,
        }}});
        let v = b.raw("POST", "/session", Some(caps)).await;
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("WebDriver did not open a session: {v}"))
            .to_string();
        b.session = session;
        b.set_window(1280, 800).await;
        b
    }

    async fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.driver_url);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body.unwrap_or_else(|| json!({}))),
        };
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        resp.json::<Value>().await.unwrap_or(Value::Null)
    }

    /// A session command; panics with the driver's message when it fails.
    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let v = self.try_cmd(method, path, body).await;
        match v {
            Ok(v) => v,
            Err(e) => panic!("WebDriver {method} {path} failed: {e}"),
        }
    }

    /// A session command; the driver's error as `Err`.
    async fn try_cmd(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let v = self
            .raw(method, &format!("/session/{}{path}", self.session), body)
            .await;
        match v["value"].get("error") {
            Some(e) => Err(format!(
                "{e}: {}",
                v["value"]["message"].as_str().unwrap_or("")
            )),
            None => Ok(v["value"].clone()),
        }
    }

    /// Sets the window size (1280×800 desk, 820×1180 tablet).
    pub async fn set_window(&self, width: u32, height: u32) {
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({"url": url}))).await;
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.cmd("GET", "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The element matching `css` now, if any.
    pub async fn find(&self, css: &str) -> Option<String> {
        self.try_cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        )
        .await
        .ok()
        .and_then(|v| v[ELEMENT].as_str().map(str::to_string))
    }

    /// How many elements match `css` now.
    pub async fn count(&self, css: &str) -> usize {
        self.try_cmd(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .await
        .ok()
        .and_then(|v| v.as_array().map(Vec::len))
        .unwrap_or(0)
    }

    /// Waits (bounded) for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(e) = self.find(css).await {
                return e;
            }
            if Instant::now() > deadline {
                let url = self.url().await;
                let body = self.text_of("body").await.unwrap_or_default();
                panic!("no element {css:?} within {WAIT:?} on {url}; the page says:\n{body}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The visible text of the first element matching `css`, if any.
    pub async fn text_of(&self, css: &str) -> Option<String> {
        let e = self.find(css).await?;
        self.try_cmd("GET", &format!("/element/{e}/text"), None)
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
    }

    /// Waits (bounded) until the element matching `css` shows `needle`; returns its text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self.text_of(css).await.unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            if Instant::now() > deadline {
                let url = self.url().await;
                panic!(
                    "{css:?} did not show {needle:?} within {WAIT:?} on {url}; it shows {text:?}"
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Clicks the element matching `css` (waiting for it first).
    pub async fn click(&self, css: &str) {
        let e = self.wait_for(css).await;
        self.cmd("POST", &format!("/element/{e}/click"), None).await;
    }

    /// Types `text` into the field matching `css`, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.wait_for(css).await;
        self.cmd("POST", &format!("/element/{e}/clear"), None).await;
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Sets a select's or date field's value as a user would, firing `change` (date pickers
    /// take keystrokes in the locale's order, so tests set them directly).
    pub async fn set_value(&self, css: &str, value: &str) {
        let e = self.wait_for(css).await;
        self.exec(
            "const el = arguments[0]; el.value = arguments[1]; \
             el.dispatchEvent(new Event('input', {bubbles: true})); \
             el.dispatchEvent(new Event('change', {bubbles: true})); \
             return el.value;",
            json!([element_ref(&e), value]),
        )
        .await;
    }

    /// Runs `script` in the page with `args`; returns its result.
    pub async fn exec(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Runs asynchronous `script` (it calls `arguments[arguments.length - 1]` with its result).
    pub async fn exec_async(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Reloads `url` until the element matching `css` shows `needle` (bounded): for what another
    /// server does and replication brings here later.
    pub async fn reload_until(&self, url: &str, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.goto(url).await;
            let text = self.text_of(css).await.unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{css:?} did not show {needle:?} on {url} within 30 s; it shows {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Runs the axe-core accessibility audit (WCAG 2 A and AA rules) on the current page;
    /// returns the serious and critical violations as `rule: impact (first element)` lines.
    pub async fn accessibility_violations(&self, axe_source: &str) -> Vec<String> {
        // WebDriver scripts run outside the page's CSP, so axe can be injected even though the
        // UI forbids inline script.
        self.exec(&format!("{axe_source}\n;return typeof axe;"), json!([]))
            .await;
        let v = self
            .exec_async(
                "const done = arguments[arguments.length - 1];                  axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}, resultTypes: ['violations']})                    .then(r => done(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')                      .map(v => v.id + ': ' + v.impact + ' (' + v.nodes.length + ' elements, e.g. ' + (v.nodes[0] ? v.nodes[0].target.join(' ') : '') + ')')))                    .catch(e => done(['axe failed: ' + e]));",
                json!([]),
            )
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_else(|| vec![format!("axe returned {v}")])
    }

    /// Waits (bounded) for a confirmation dialog, checks its text and accepts it.
    pub async fn accept_confirm(&self, needle: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(v) = self.try_cmd("GET", "/alert/text", None).await {
                let text = v.as_str().unwrap_or_default().to_string();
                assert!(
                    text.contains(needle),
                    "the dialog says {text:?}, not {needle:?}"
                );
                self.cmd("POST", "/alert/accept", None).await;
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no confirmation dialog within {WAIT:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Saves a PNG of the window to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let v = self.cmd("GET", "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .expect("screenshot is base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot directory");
        }
        std::fs::write(path, png).expect("write screenshot");
    }

    /// Ends the session and stops the driver.
    pub async fn quit(mut self) {
        let _ = self.try_cmd("DELETE", "", None).await;
        self.session.clear();
        self.stop_driver();
    }

    fn stop_driver(&mut self) {
        if let Some(mut d) = self.driver.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
    }
}

impl Drop for Browser {
    /// After a failed test: end the session with a plain blocking request (so chromedriver
    /// closes Chromium), then stop the driver.
    fn drop(&mut self) {
        if !self.session.is_empty() {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                let _ = write!(
                    s,
                    "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                    self.session, self.port
                );
                let _ = s.read(&mut [0u8; 512]);
            }
        }
        self.stop_driver();
    }
}

/// Where screenshots go: `target/ui-screenshots/` of the workspace (or `CARGO_TARGET_DIR`).
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("ui-screenshots")
}

/// Chromium and chromedriver, installing them if needed; `None` only when the browser is
/// missing and `INNSYNC_SKIP_BROWSER=1` says to skip.
pub fn browser_or_skip() -> Option<(PathBuf, PathBuf)> {
    if let (Some(c), Some(d)) = browser_paths() {
        return Some((c, d));
    }
    if std::env::var("INNSYNC_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("SKIPPED: chromium/chromedriver are not installed and INNSYNC_SKIP_BROWSER=1");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-browser");
    eprintln!(
        "chromium or chromedriver missing; running {}",
        script.display()
    );
    let ran = std::process::Command::new("bash").arg(&script).status();
    match (browser_paths(), ran) {
        ((Some(c), Some(d)), _) => Some((c, d)),
        (_, ran) => panic!(
            "the UI browser test needs Debian's chromium and chromium-driver \
             ({} and {}), and scripts/install-browser could not install them ({ran:?}). \
             Install them (apt-get install chromium chromium-driver) or set \
             INNSYNC_SKIP_BROWSER=1 to skip this test deliberately.",
            CHROMIUM[1], CHROMEDRIVER
        ),
    }
}

pub async fn log_in(b: &Browser, base: &str, (name, password): (&str, &str)) {
    b.goto(&format!("{base}/ui/login")).await;
    b.fill("input[name=username]", name).await;
    b.fill("input[name=password]", password).await;
    b.click("form[action='/ui/login'] button[type=submit]")
        .await;
    b.wait_text("[data-testid=user]", name).await;
}

pub async fn log_out(b: &Browser) {
    b.click("form[action='/ui/logout'] button").await;
    b.wait_for("input[name=username]").await;
}

/// axe-core's script, installed by `scripts/install-browser` into `target/axe/` (run here when
/// missing). The audit is part of the browser tests: without axe-core they fail, unless the
/// browser itself is skipped.
pub fn axe_source() -> String {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let file = target.join("axe/node_modules/axe-core/axe.min.js");
    if !file.exists() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-browser");
        let ran = std::process::Command::new("bash").arg(&script).status();
        assert!(
            file.exists(),
            "axe-core is missing at {} and scripts/install-browser could not install it ({ran:?})",
            file.display()
        );
    }
    std::fs::read_to_string(&file).expect("read axe.min.js")
}

/// Runs the accessibility audit on the page open now and fails on any serious or critical
/// violation, naming the page.
pub async fn audit(b: &Browser, axe: &str, page: &str) {
    let v = b.accessibility_violations(axe).await;
    assert!(
        v.is_empty(),
        "accessibility violations on {page}:\n{}",
        v.join("\n")
    );
}
