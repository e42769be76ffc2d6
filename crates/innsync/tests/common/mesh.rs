//! A mesh of fault-injecting proxies between real servers, and the helpers environment tests
//! share: every directed link through its own proxy, so any link can be cut, delayed or made
//! lossy on its own.

use super::{until, Api, TestServer};
use innsync_faultproxy::Proxy;

/// One proxy per directed link between `codes` (listening on `real` ports), so any link can be
/// cut, delayed or made lossy on its own.
pub async fn proxy_mesh(
    codes: &[&str],
    real: &[u16],
) -> std::collections::BTreeMap<(String, String), innsync_faultproxy::ProxyHandle> {
    let mut links = std::collections::BTreeMap::new();
    for (i, from) in codes.iter().enumerate() {
        for (j, to) in codes.iter().enumerate() {
            if i != j {
                let p = Proxy::start(
                    "127.0.0.1:0",
                    format!("127.0.0.1:{}", real[j]).parse().unwrap(),
                )
                .await
                .unwrap();
                links.insert((from.to_string(), to.to_string()), p);
            }
        }
    }
    links
}

/// Every server of `codes`, each reaching its peers only through the mesh's proxies.
pub fn start_behind(
    env: &std::path::Path,
    codes: &[&str],
    real: &[u16],
    links: &std::collections::BTreeMap<(String, String), innsync_faultproxy::ProxyHandle>,
) -> Vec<TestServer> {
    start_behind_with(env, codes, real, links, &[])
}

/// Like [`start_behind`], with more arguments for every server (`--setting NAME=VALUE`).
pub fn start_behind_with(
    env: &std::path::Path,
    codes: &[&str],
    real: &[u16],
    links: &std::collections::BTreeMap<(String, String), innsync_faultproxy::ProxyHandle>,
    extra: &[&str],
) -> Vec<TestServer> {
    codes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let peers: Vec<(String, String)> = codes
                .iter()
                .filter(|p| *p != c)
                .map(|p| {
                    (
                        p.to_string(),
                        format!("https://{}", links[&(c.to_string(), p.to_string())].addr()),
                    )
                })
                .collect();
            TestServer::start_in_with(env, c, &format!("127.0.0.1:{}", real[i]), &peers, extra)
        })
        .collect()
}

/// Every server of `ports`, started with `env`, each on its own port.
pub fn start_all(env: &std::path::Path, ports: &[(&str, u16)]) -> Vec<TestServer> {
    ports
        .iter()
        .map(|(c, p)| TestServer::start_in(env, c, &format!("127.0.0.1:{p}"), &[]))
        .collect()
}

pub async fn digest(api: &Api) -> String {
    api.get("/api/v1/digest").await.body["digest"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub async fn admin_known(api: &Api) {
    until("the admin user to replicate", || async {
        (api.get("/api/v1/me").await.status == 200).then_some(())
    })
    .await;
}

/// Three servers of one environment, WB (the initial master), RS and PA, each reaching the
/// others only through its own proxy per directed link: the set-up the environment tests share.
pub struct ThreeServers {
    /// Holds the environment file and the data directories.
    pub dir: tempfile::TempDir,
    /// The environment file.
    pub env: std::path::PathBuf,
    /// `WB`, `RS`, `PA`.
    pub codes: [&'static str; 3],
    /// Each server's own port.
    pub real: Vec<u16>,
    /// The proxy of each directed link `(from, to)`.
    pub links: std::collections::BTreeMap<(String, String), innsync_faultproxy::ProxyHandle>,
    /// The servers, in the order of `codes`.
    pub servers: Vec<TestServer>,
}

/// Starts [`ThreeServers`]; `env_extra` is appended to the environment file (rules),
/// `extra` given to every server (`--setting NAME=VALUE`).
pub async fn three_servers(env_extra: &str, extra: &[&str]) -> ThreeServers {
    let dir = tempfile::tempdir().unwrap();
    let codes = ["WB", "RS", "PA"];
    let real: Vec<u16> = codes.iter().map(|_| super::free_port()).collect();
    let env = super::environment_file(
        dir.path(),
        &[("WB", real[0]), ("RS", real[1]), ("PA", real[2])],
    );
    if !env_extra.is_empty() {
        let mut text = std::fs::read_to_string(&env).unwrap();
        text.push_str(env_extra);
        std::fs::write(&env, text).unwrap();
    }
    let links = proxy_mesh(&codes, &real).await;
    let servers = start_behind_with(&env, &codes, &real, &links, extra);
    ThreeServers {
        dir,
        env,
        codes,
        real,
        links,
        servers,
    }
}

/// Which servers wrote env-owned changes at which epoch, from a server's own change log.
pub fn env_writers(
    dir: &std::path::Path,
) -> std::collections::BTreeMap<u64, std::collections::BTreeSet<String>> {
    let conn = rusqlite::Connection::open_with_flags(
        dir.join("innsync.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut st = conn
        .prepare(
            "SELECT epoch, origin FROM changes WHERE authority = 'env' AND kind != 'master_token'",
        )
        .unwrap();
    let mut out: std::collections::BTreeMap<u64, std::collections::BTreeSet<String>> =
        Default::default();
    for row in st
        .query_map([], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
        })
        .unwrap()
    {
        let (e, o) = row.unwrap();
        out.entry(e).or_default().insert(o);
    }
    out
}
