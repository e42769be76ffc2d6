//! TLS with rustls: the listener's certificate and key from files (reloaded when they change),
//! the environment's private CA that peers' certificates must chain to, and the client side
//! every peer link and cluster RPC uses.
//!
//! Mutual TLS: when a CA is configured the listener asks every client for a certificate but
//! does not insist (browsers have none); a certificate that is presented must chain to the CA,
//! or the handshake fails. Routes between servers then require one when `peer_mtls` is on
//! ([`PeerCertificate`] is added to the request by the listener).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or held nothing usable.
    #[error("{path}: {why}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// rustls refused the certificates or key.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// Where the certificates are.
#[derive(Clone, Debug, Default)]
pub struct TlsFiles {
    /// This server's certificate chain (PEM), presented to clients and, over mutual TLS, to
    /// peers.
    pub cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub key: Option<PathBuf>,
    /// The environment's CA (PEM): peers' certificates must chain to it.
    pub ca: Option<PathBuf>,
}

impl TlsFiles {
    /// Whether the listener serves TLS (a certificate and key are given).
    pub fn serves_tls(&self) -> bool {
        self.cert.is_some() && self.key.is_some()
    }
}

/// The verified certificate a client presented over mutual TLS (its DER leaf).
#[derive(Clone, Debug)]
pub struct PeerCertificate(pub Vec<u8>);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn file_err(path: &Path, why: impl ToString) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        why: why.to_string(),
    }
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(path, e))?;
    if certs.is_empty() {
        return Err(file_err(path, "no certificate in the file"));
    }
    Ok(certs)
}

fn key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_err(path, e))
}

fn roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for c in certs(path)? {
        store.add(c).map_err(|e| file_err(path, e))?;
    }
    Ok(store)
}

/// The listener's configuration from the files, as they are now.
fn server_config(files: &TlsFiles) -> Result<rustls::ServerConfig, TlsError> {
    let (Some(cert), Some(key_path)) = (&files.cert, &files.key) else {
        return Err(TlsError::Config(
            "a TLS listener needs tls_cert and tls_key".into(),
        ));
    };
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match &files.ca {
        Some(ca) => {
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider())
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| TlsError::Config(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs(cert)?, key(key_path)?)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    // HTTP/2 first: a peer link's repeated headers (token, fingerprint, types) then cost a few
    // bytes each after the first request (HPACK), not ~500 bytes an exchange (issue 22).
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The client side of peer links and cluster RPCs: trusts the environment's CA only, and
/// presents this server's certificate (mutual TLS) when it has one. `None` when no CA is
/// configured (peer links then use plain HTTP, as their URLs say).
pub fn client_config(files: &TlsFiles) -> Result<Option<rustls::ClientConfig>, TlsError> {
    let Some(ca) = &files.ca else {
        return Ok(None);
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots(ca)?);
    let config = match (&files.cert, &files.key) {
        (Some(c), Some(k)) => builder
            .with_client_auth_cert(certs(c)?, key(k)?)
            .map_err(|e| TlsError::Config(e.to_string()))?,
        _ => builder.with_no_client_auth(),
    };
    let mut config = config;
    // reqwest uses a preconfigured TLS as it is: offer HTTP/2 here, or links stay on 1.1.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(config))
}

/// A reqwest client builder for talking to peers: the environment's TLS when configured
/// (HTTP/2 when the peer offers it); on plain links HTTP/1.1, or HTTP/2 at once when `h2c`
/// says every peer is an innsync server ([`crate::Settings::peer_h2c`]).
pub fn peer_client_builder(
    tls: Option<&rustls::ClientConfig>,
    h2c: bool,
) -> reqwest::ClientBuilder {
    let b = reqwest::Client::builder();
    match tls {
        Some(c) => b.use_preconfigured_tls(c.clone()),
        None if h2c => b.http2_prior_knowledge(),
        None => b,
    }
}

/// The listener's TLS: the acceptor in use, rebuilt when the certificate files change.
pub struct TlsServer {
    files: TlsFiles,
    current: RwLock<(tokio_rustls::TlsAcceptor, Option<SystemTime>)>,
}

fn newest_change(files: &TlsFiles) -> Option<SystemTime> {
    [&files.cert, &files.key, &files.ca]
        .into_iter()
        .flatten()
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .max()
}

impl TlsServer {
    /// Loads the files; fails (the server does not start) when they are unusable.
    pub fn load(files: TlsFiles) -> Result<Arc<Self>, TlsError> {
        let config = server_config(&files)?;
        let stamp = newest_change(&files);
        Ok(Arc::new(Self {
            files,
            current: RwLock::new((tokio_rustls::TlsAcceptor::from(Arc::new(config)), stamp)),
        }))
    }

    /// The acceptor for the next connection.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        match self.current.read() {
            Ok(c) => c.0.clone(),
            Err(p) => p.into_inner().0.clone(),
        }
    }

    /// Reloads the files if they changed since they were last read. A new certificate is used
    /// for new connections only; unusable files are logged and the old ones kept.
    pub fn reload_if_changed(&self) -> bool {
        let stamp = newest_change(&self.files);
        let known = match self.current.read() {
            Ok(c) => c.1,
            Err(p) => p.into_inner().1,
        };
        if stamp == known {
            return false;
        }
        match server_config(&self.files) {
            Ok(config) => {
                if let Ok(mut c) = self.current.write() {
                    *c = (tokio_rustls::TlsAcceptor::from(Arc::new(config)), stamp);
                }
                tracing::info!("TLS certificate reloaded");
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "TLS files changed but cannot be used; the previous certificate stays");
                false
            }
        }
    }

    /// Looks at the files every `every` until `stop`.
    pub fn spawn_reload(
        self: &Arc<Self>,
        every: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => { me.reload_if_changed(); }
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        })
    }
}

/// The verified client certificate of a TLS connection, if the client presented one.
pub fn peer_certificate<IO>(s: &tokio_rustls::server::TlsStream<IO>) -> Option<PeerCertificate> {
    s.get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| PeerCertificate(c.as_ref().to_vec()))
}
