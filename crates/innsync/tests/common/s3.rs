//! The real S3-compatible server the off-site archive tests use: moto's server mode, installed
//! by `scripts/install-moto`, started on a free loopback port with one bucket, stopped on drop;
//! and the environment (endpoint, credentials) the servers and the CLI read it from.

use super::{free_port, until};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The bucket every test archives to.
pub const BUCKET: &str = "innsync-offsite";

/// moto's S3 server on a free loopback port, stopped on drop.
pub struct S3 {
    child: Option<Child>,
    pub url: String,
}

impl S3 {
    /// Stops the server (the bucket becomes unreachable), as an outage would.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `moto_server` the project's script installs (installing it if missing); `None` when
/// python3 is missing on this machine.
pub fn moto_server() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(root.join("scripts/install-moto"))
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let path = String::from_utf8(out.stdout).ok()?;
    Some(PathBuf::from(path.trim()))
}

/// Starts moto, makes [`BUCKET`], and points this process's environment (inherited by every
/// server and CLI process the test starts) at it with test credentials.
pub async fn start_s3(bin: &Path) -> S3 {
    let port = free_port();
    let child = Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let s3 = S3 {
        child: Some(child),
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    let bucket_url = format!("{}/{BUCKET}", s3.url);
    until("the S3 server up and the bucket made", || async {
        let r = http.put(&bucket_url).send().await.ok()?;
        r.status().is_success().then_some(())
    })
    .await;
    std::env::set_var("AWS_ENDPOINT_URL", &s3.url);
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_REGION", "us-east-1");
    s3
}

/// A metric's value from `/metrics` of the server at `base`.
pub async fn metric(http: &reqwest::Client, base: &str, name: &str) -> Option<f64> {
    let text = http
        .get(format!("{base}/metrics"))
        .bearer_auth(super::TOKEN)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.starts_with(&format!("innsync_{name} ")))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
}

/// The `q` quantile of sorted samples (0 when there are none).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}
