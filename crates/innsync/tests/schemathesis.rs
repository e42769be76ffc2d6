//! The OpenAPI document is exact (issue 16): schemathesis, installed by
//! `scripts/install-schemathesis` into `target/schemathesis/`, runs every operation of
//! `/api/v1/openapi.json` against a real server over TLS, for a bounded number of examples
//! per operation (`INNSYNC_SCHEMATHESIS_EXAMPLES`, 3 unless set), with all of its checks:
//! no server error, every status, content type, header and body as documented, bad input
//! refused, authentication enforced where declared. Skipped, with a message, only when
//! python3 is missing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test that cannot go on fails, loudly"
)]

mod common;

use common::{environment_file, free_port, seed, test_certs, TestServer, TOKEN};
use std::path::Path;
use std::process::Command;

/// `st`, installed if missing; None when python3 is absent.
fn schemathesis() -> Option<String> {
    let python = Command::new("python3").arg("--version").output();
    if !python.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: python3 is not installed, so schemathesis cannot run");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-schemathesis");
    let out = Command::new(&script)
        .output()
        .expect("run install-schemathesis");
    assert!(
        out.status.success(),
        "{}: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let st = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .expect("the path of st")
        .trim()
        .to_string();
    Some(st)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_as_the_openapi_document_says() {
    let Some(st) = schemathesis() else {
        return;
    };
    // Idle connections are kept a minute: schemathesis may pause between requests on a busy
    // machine, and its client does not retry a request on a connection the server closed.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let env = environment_file(dir.path(), &[("WB", port)]);
    let s = TestServer::start_in_with(
        &env,
        "WB",
        &format!("127.0.0.1:{port}"),
        &[],
        &["--setting", "header_read_timeout=60s"],
    );
    seed(&s.api(), 2).await;
    let examples = std::env::var("INNSYNC_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "3".into());
    let out = tokio::task::spawn_blocking({
        let base = s.base.clone();
        // Run in the test's directory: Hypothesis keeps a cache (`.hypothesis/`) where it runs.
        let work = dir.path().to_path_buf();
        move || {
            Command::new(st)
                .current_dir(work)
                .args(["run", &format!("{base}/api/v1/openapi.json")])
                .args(["--experimental=openapi-3.1", "--base-url", &base])
                .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
                .args(["--checks", "all", "--no-color"])
                // Logging out would revoke the token every later operation runs with.
                .args(["--exclude-path", "/api/v1/logout"])
                .args(["--hypothesis-max-examples", &examples])
                .args(["--hypothesis-seed", "16"])
                // No shrinking: a failure is reported as found (bounded time in CI).
                .args(["--hypothesis-phases", "explicit,generate"])
                // Nothing written into the working tree (no `.hypothesis/` example database).
                .args(["--hypothesis-database", "none"])
                .args(["--hypothesis-deadline", "10000"])
                .arg("--request-tls-verify")
                .arg(test_certs().join("ca.pem"))
                .output()
                .expect("run schemathesis")
        }
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found operations that differ from the document:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.check_invariants();
}
