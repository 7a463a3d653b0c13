//! TLS with rustls (ring provider): root certificates, CA file, client certificates (mutual TLS),
//! SNI and host name checks.

use super::transport::BoxStream;
use super::Error;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{self, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;

/// Where trusted root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Roots {
    /// The system's bundle if one is found, plus the bundled Mozilla roots.
    #[default]
    Default,
    /// The system's PEM bundle only (`SSL_CERT_FILE`, or Debian's, Fedora's or macOS's path).
    System,
    /// The Mozilla roots compiled into the binary (webpki-roots).
    Bundled,
    /// Only the certificates in this PEM file (mosquitto's `--cafile`).
    CaFile(PathBuf),
}

/// TLS settings. The default verifies the broker against [`Roots::Default`] and its host name.
#[derive(Clone, Default)]
pub struct TlsOptions {
    pub roots: Roots,
    /// Client certificate chain and private key, PEM files, for mutual TLS.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// The name sent as SNI and checked against the certificate, when it differs from the host
    /// connected to (an IP address, a tunnel).
    pub server_name: Option<String>,
    /// ALPN protocols to offer (e.g. `b"mqtt"` for some cloud brokers).
    pub alpn: Vec<Vec<u8>>,
    /// **Dangerous**: accept any certificate for any name. Anyone on the path can read and
    /// change the traffic. For testing against a broker with a throwaway certificate only.
    pub dangerous_accept_any_certificate: bool,
    /// A complete rustls configuration, used as is (the fields above are then ignored).
    pub config: Option<Arc<ClientConfig>>,
}

impl core::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("roots", &self.roots)
            .field("client_cert", &self.client_cert)
            .field("server_name", &self.server_name)
            .field("dangerous_accept_any_certificate", &self.dangerous_accept_any_certificate)
            .field("config", &self.config.is_some())
            .finish_non_exhaustive()
    }
}

impl TlsOptions {
    /// Trust only the CA certificates in `path`.
    pub fn with_ca_file(path: impl Into<PathBuf>) -> Self {
        TlsOptions { roots: Roots::CaFile(path.into()), ..TlsOptions::default() }
    }

    /// Builds the rustls configuration these options describe.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, Error> {
        if let Some(c) = &self.config {
            return Ok(c.clone());
        }
        let provider = Arc::new(crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_root_certificates(self.root_store()?);
        let mut config = match &self.client_cert {
            Some((cert, key)) => {
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| Error::Tls(format!("client certificate {}: {e}", cert.display())))?;
                if chain.is_empty() {
                    return Err(Error::Tls(format!("no certificate in {}", cert.display())));
                }
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| Error::Tls(format!("client key {}: {e}", key.display())))?;
                builder.with_client_auth_cert(chain, key).map_err(|e| Error::Tls(e.to_string()))?
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn.clone();
        if self.dangerous_accept_any_certificate {
            config.dangerous().set_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)));
        }
        Ok(Arc::new(config))
    }

    fn root_store(&self) -> Result<RootCertStore, Error> {
        let mut store = RootCertStore::empty();
        let bundled = |s: &mut RootCertStore| s.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        match &self.roots {
            Roots::Default => {
                if let Some(path) = system_bundle() {
                    add_pem_file(&mut store, &path)?;
                }
                bundled(&mut store);
            }
            Roots::System => {
                let path =
                    system_bundle().ok_or_else(|| Error::Tls("no system certificate bundle found".into()))?;
                add_pem_file(&mut store, &path)?;
            }
            Roots::Bundled => bundled(&mut store),
            Roots::CaFile(path) => {
                add_pem_file(&mut store, path)?;
                if store.is_empty() {
                    return Err(Error::Tls(format!("no certificate in {}", path.display())));
                }
            }
        }
        Ok(store)
    }
}

fn system_bundle() -> Option<PathBuf> {
    let env = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    let known =
        ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];
    env.into_iter().chain(known.iter().map(PathBuf::from)).find(|p| p.is_file())
}

fn add_pem_file(store: &mut RootCertStore, path: &std::path::Path) -> Result<(), Error> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| Error::Tls(format!("CA file {}: {e}", path.display())))?;
    store.add_parsable_certificates(certs);
    Ok(())
}

/// Runs the TLS handshake over `raw`, verifying the broker as `host` (or `server_name`).
pub(crate) async fn wrap(tls: &TlsOptions, host: &str, raw: BoxStream) -> Result<BoxStream, Error> {
    let config = tls.client_config()?;
    let name = tls.server_name.as_deref().unwrap_or(host);
    let name = ServerName::try_from(name.to_owned())
        .map_err(|_| Error::InvalidOptions(format!("'{name}' is not a valid TLS server name")))?;
    let stream = tokio_rustls::TlsConnector::from(config).connect(name, raw).await.map_err(|e| {
        match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            Some(t) => Error::Tls(t.to_string()),
            None => Error::Tls(e.to_string()),
        }
    })?;
    Ok(Box::new(stream))
}

/// The verifier behind `dangerous_accept_any_certificate`: signatures are still checked, the
/// certificate and its name are not.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
