//! `innsync cert`: a private CA for an environment and a certificate per server of its file,
//! so the servers talk TLS to each other (and, with `peer_mtls`, prove themselves by
//! certificate) without a public CA.
//!
//! The CA is made once (`ca.pem`, `ca-key.pem`) and reused on later runs, so a server added to
//! the file later gets a certificate the others already trust. Each server's certificate
//! (`CODE.pem`, `CODE-key.pem`) names the host of its URL in the file (and any `--san`), and
//! serves both as a server and a client certificate.

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// Arguments of `innsync cert`.
#[derive(clap::Args)]
pub struct CertArgs {
    /// The environment file whose servers get certificates.
    #[arg(long)]
    pub environment: PathBuf,
    /// Where the CA and the certificates are written (the CA there is reused).
    #[arg(long)]
    pub out: PathBuf,
    /// Extra names (DNS names or IP addresses) every server certificate carries.
    #[arg(long = "san")]
    pub sans: Vec<String>,
    /// Only these servers (by code); every server of the file when none is given.
    #[arg(long = "server")]
    pub servers: Vec<String>,
}

/// The CA's parameters: the same name each time, so a CA rebuilt from its key signs
/// certificates that chain to the `ca.pem` written the first time.
fn ca_params(environment: &str) -> anyhow::Result<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(DnType::CommonName, format!("innsync CA {environment}"));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2049, 12, 31);
    Ok(p)
}

/// Writes a file readable by its owner only (keys).
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", path.display()))?;
    }
    Ok(())
}

/// Makes (or reuses) the CA and writes a certificate per server; prints what it wrote.
pub fn run(a: CertArgs) -> anyhow::Result<()> {
    let env = super::serve::read_environment(&a.environment)?;
    for line in issue(&env, &a.out, &a.sans, &a.servers)? {
        println!("{line}");
    }
    println!(
        "serve each server with --setting tls_cert=OUT/CODE.pem --setting tls_key=OUT/CODE-key.pem --setting tls_ca=OUT/ca.pem"
    );
    Ok(())
}

/// Makes (or reuses) the CA in `out` and writes a certificate for each server of `env` (of
/// `servers` when not empty); says what it wrote, a line each.
pub fn issue(
    env: &innsync_environment::Environment,
    out: &Path,
    sans: &[String],
    servers: &[String],
) -> anyhow::Result<Vec<String>> {
    let mut said = Vec::new();
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let ca_key_path = out.join("ca-key.pem");
    let ca_path = out.join("ca.pem");
    let ca_key = if ca_key_path.exists() {
        let pem = std::fs::read_to_string(&ca_key_path)
            .with_context(|| format!("reading {}", ca_key_path.display()))?;
        KeyPair::from_pem(&pem).with_context(|| format!("{}", ca_key_path.display()))?
    } else {
        let k = KeyPair::generate()?;
        write_private(&ca_key_path, &k.serialize_pem())?;
        k
    };
    let ca = ca_params(&env.name)?.self_signed(&ca_key)?;
    if !ca_path.exists() {
        std::fs::write(&ca_path, ca.pem())
            .with_context(|| format!("writing {}", ca_path.display()))?;
        said.push(format!("CA: {}", ca_path.display()));
    }
    for server in &env.servers {
        let code = server.code.to_string();
        if !servers.is_empty() && !servers.contains(&code) {
            continue;
        }
        let mut names: Vec<String> = server
            .url
            .host_str()
            .map(str::to_string)
            .into_iter()
            .collect();
        names.extend(sans.iter().cloned());
        // An IPv6 host comes bracketed in a URL.
        let names: Vec<String> = names
            .into_iter()
            .map(|n| n.trim_start_matches('[').trim_end_matches(']').to_string())
            .collect();
        let mut p = CertificateParams::new(names.clone())?;
        p.distinguished_name.push(DnType::CommonName, code.clone());
        p.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let key = KeyPair::generate()?;
        let cert = p.signed_by(&key, &ca, &ca_key)?;
        let cert_path = out.join(format!("{code}.pem"));
        std::fs::write(&cert_path, cert.pem())
            .with_context(|| format!("writing {}", cert_path.display()))?;
        write_private(&out.join(format!("{code}-key.pem")), &key.serialize_pem())?;
        said.push(format!(
            "{code}: {} (names: {})",
            cert_path.display(),
            names.join(", ")
        ));
    }
    Ok(said)
}
