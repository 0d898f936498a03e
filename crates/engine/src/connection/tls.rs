//! TLS with rustls (no OpenSSL): the `tls*` options of a connection string
//! ([`TlsSettings`]), the client configuration built once per cluster ([`TlsConnector`]),
//! and what a handshake negotiated ([`TlsInfo`]).
//!
//! Verification is on by default, against `tlsCAFile` when given, else the Mozilla roots
//! bundled by `webpki-roots`. `tlsAllowInvalidCertificates` (and `tlsInsecure`) accept any
//! certificate; `tlsAllowInvalidHostnames` checks the chain but not the name. The host name
//! is sent as SNI (an IP literal is not, as TLS forbids).
//!
//! The cryptography is rustls's process-default provider: the one the application installed
//! with `rustls::crypto::CryptoProvider::install_default`, else the one rustls's crate
//! features name (*ring*, the only provider this crate enables). An application whose
//! dependencies enable several rustls providers must install one before starting a TLS
//! cluster, as rustls requires of every client.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;

use crate::bounded_file::read_bounded_text;
use crate::connection::error::ConnectionError;
use crate::connection::tls_verify::{describe_io, Forgive, ForgivingVerifier};
use crate::options::{ConnectionString, Secret};

/// The `tls*` options of a connection string that asks for TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// `tlsCAFile`: PEM file of the CAs to trust instead of the bundled Mozilla roots.
    pub ca_file: Option<PathBuf>,
    /// `tlsCertificateKeyFile`: PEM file with the client certificate (chain) and its key,
    /// presented to servers that ask (MONGODB-X509).
    pub certificate_key_file: Option<PathBuf>,
    /// `tlsCertificateKeyFilePassword`: decrypts an encrypted PKCS#8 key (`ENCRYPTED
    /// PRIVATE KEY`, PBES2). Never shown by `Debug`.
    pub certificate_key_file_password: Option<Secret>,
    /// `tlsAllowInvalidCertificates` (or `tlsInsecure`): accept any server certificate.
    pub allow_invalid_certificates: bool,
    /// `tlsAllowInvalidHostnames` (or `tlsInsecure`): verify the chain, not the name.
    pub allow_invalid_hostnames: bool,
}

impl TlsSettings {
    /// The TLS settings `uri` asks for: `None` unless `tls`/`ssl` is true (or the string is
    /// `mongodb+srv://` without `tls=false`).
    pub fn from_connection_string(uri: &ConnectionString) -> Option<TlsSettings> {
        if !uri.tls() {
            return None;
        }
        let insecure = uri.tls_insecure().unwrap_or(false);
        Some(TlsSettings {
            ca_file: uri.tls_ca_file().map(PathBuf::from),
            certificate_key_file: uri.tls_certificate_key_file().map(PathBuf::from),
            certificate_key_file_password: uri.tls_certificate_key_file_password().cloned(),
            allow_invalid_certificates: insecure
                || uri.tls_allow_invalid_certificates().unwrap_or(false),
            allow_invalid_hostnames: insecure || uri.tls_allow_invalid_hostnames().unwrap_or(false),
        })
    }
}

/// Why the TLS client configuration cannot be built from [`TlsSettings`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// A file named by `tlsCAFile` or `tlsCertificateKeyFile` cannot be read or parsed.
    #[error("cannot read {what} {path:?}: {cause}")]
    File {
        /// `"tlsCAFile"` or `"tlsCertificateKeyFile"`.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        cause: String,
    },
    /// The key of `tlsCertificateKeyFile` is encrypted in a form not supported (the legacy
    /// OpenSSL `Proc-Type: 4,ENCRYPTED` form), or no password was given for it.
    #[error("the private key in tlsCertificateKeyFile {path:?} is encrypted: {cause}")]
    EncryptedKey {
        /// The file.
        path: PathBuf,
        /// What is missing or unsupported.
        cause: String,
    },
    /// `tlsCertificateKeyFilePassword` does not decrypt the key (or its encryption
    /// algorithm is not supported).
    #[error("cannot decrypt the private key in tlsCertificateKeyFile {path:?}: {cause}")]
    Decrypt {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: String,
    },
    /// rustls refused the configuration (e.g. a key that does not match the certificate).
    #[error("invalid TLS configuration: {0}")]
    Config(String),
}

/// The cryptography every TLS connection of the engine uses: the application's process-wide
/// rustls provider when it installed one (`CryptoProvider::install_default`), else *ring*.
///
/// `ClientConfig::builder()` would pick the provider from rustls's crate features, and panic
/// when the application's build links two of them (e.g. another dependency enables
/// aws-lc-rs) without installing a default; a connection string must never make the
/// library panic. rustls 0.23.48 marks `ring::default_provider` deprecated (for want of
/// post-quantum key exchange), so it is called only on that fallback path, with the
/// deprecation allowed there and nowhere else: a build against any 0.23 shows no warning.
fn crypto_provider() -> Arc<CryptoProvider> {
    if let Some(installed) = CryptoProvider::get_default() {
        return Arc::clone(installed);
    }
    #[allow(deprecated)]
    let ring = rustls::crypto::ring::default_provider();
    Arc::new(ring)
}

/// The rustls client configuration of one cluster, shared by all its connections.
#[derive(Clone, Debug)]
pub struct TlsConnector {
    config: Arc<ClientConfig>,
}

impl TlsConnector {
    /// Builds the configuration: root store, verifier, client certificate.
    pub fn new(settings: &TlsSettings) -> Result<TlsConnector, TlsSetupError> {
        let provider = crypto_provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::Config(e.to_string()))?;
        let builder = if settings.allow_invalid_certificates {
            let verifier = ForgivingVerifier::new(Forgive::AnyCertificate, provider);
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
        } else {
            let roots = Arc::new(root_store(settings.ca_file.as_deref())?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| TlsSetupError::Config(e.to_string()))?;
            if settings.allow_invalid_hostnames {
                let verifier = ForgivingVerifier::new(Forgive::WrongHostname(webpki), provider);
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(verifier))
            } else {
                builder.with_webpki_verifier(webpki)
            }
        };
        let config = match &settings.certificate_key_file {
            Some(path) => {
                let password = settings.certificate_key_file_password.as_ref();
                let (chain, key) = client_identity(path, password)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| TlsSetupError::Config(e.to_string()))?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(TlsConnector {
            config: Arc::new(config),
        })
    }

    /// Runs the TLS handshake over `tcp` to `host` (sent as SNI unless it is an IP
    /// literal). The caller bounds it with the connect timeout.
    pub(crate) async fn handshake(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> Result<(tokio_rustls::client::TlsStream<TcpStream>, TlsInfo), ConnectionError> {
        let name = ServerName::try_from(host.to_owned()).map_err(|e| ConnectionError::Tls {
            cause: format!("{host:?} is not a valid TLS server name: {e}"),
        })?;
        let connector = tokio_rustls::TlsConnector::from(Arc::clone(&self.config));
        let stream = connector
            .connect(name, tcp)
            .await
            .map_err(|e| ConnectionError::Tls {
                cause: describe_io(&e),
            })?;
        let info = TlsInfo::of(stream.get_ref().1);
        Ok((stream, info))
    }
}

/// What a TLS handshake negotiated, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// The protocol version, e.g. `"TLSv1.3"`.
    pub protocol: String,
    /// The server certificate's subject, RDNs in certificate order (e.g.
    /// `O=Example, CN=db.example.net`), when it could be parsed.
    pub peer_subject: Option<String>,
    /// When the server certificate expires.
    pub peer_not_after: Option<SystemTime>,
}

impl TlsInfo {
    fn of(session: &rustls::ClientConnection) -> TlsInfo {
        let protocol = session
            .protocol_version()
            .and_then(|v| v.as_str())
            .map_or_else(|| "unknown".to_owned(), |v| v.replace('_', "."));
        let leaf = session.peer_certificates().and_then(|chain| chain.first());
        let parsed = leaf.and_then(|der| x509_parser::parse_x509_certificate(der).ok());
        let (peer_subject, peer_not_after) = match parsed {
            Some((_, cert)) => {
                let not_after = cert.validity().not_after.timestamp();
                let expiry = u64::try_from(not_after)
                    .ok()
                    .and_then(|secs| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs)));
                (Some(cert.subject().to_string()), expiry)
            }
            None => (None, None),
        };
        TlsInfo {
            protocol,
            peer_subject,
            peer_not_after,
        }
    }
}

/// `tlsCAFile`'s certificates, or the bundled Mozilla roots.
fn root_store(ca_file: Option<&Path>) -> Result<RootCertStore, TlsSetupError> {
    let Some(path) = ca_file else {
        return Ok(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        });
    };
    let text = read_bounded_text(path).map_err(|e| file_error("tlsCAFile", path, e))?;
    let mut store = RootCertStore::empty();
    for cert in certificates_in("tlsCAFile", path, &text)? {
        store
            .add(cert)
            .map_err(|e| file_error("tlsCAFile", path, e))?;
    }
    Ok(store)
}

/// The certificate chain and key of `tlsCertificateKeyFile`.
fn client_identity(
    path: &Path,
    password: Option<&Secret>,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsSetupError> {
    const WHAT: &str = "tlsCertificateKeyFile";
    let text = read_bounded_text(path).map_err(|e| file_error(WHAT, path, e))?;
    let encrypted = |cause: &str| TlsSetupError::EncryptedKey {
        path: path.to_owned(),
        cause: cause.to_owned(),
    };
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(encrypted(
            "the legacy OpenSSL encryption is not supported: convert the key to PKCS#8 \
             (`openssl pkcs8 -topk8`)",
        ));
    }
    let chain = certificates_in(WHAT, path, &text)?;
    if let Some(block) = pem_block(&text, "ENCRYPTED PRIVATE KEY") {
        let Some(password) = password else {
            return Err(encrypted("give tlsCertificateKeyFilePassword"));
        };
        return Ok((chain, decrypt_key(path, block, password)?));
    }
    let key = PrivateKeyDer::from_pem_slice(text.as_bytes())
        .map_err(|e| file_error(WHAT, path, format!("no private key: {e}")))?;
    Ok((chain, key))
}

/// The PEM block labelled `label` in `text`, markers included.
fn pem_block<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)?;
    let length = text.get(start..)?.find(&end)? + end.len();
    text.get(start..start + length)
}

/// Decrypts a PKCS#8 `ENCRYPTED PRIVATE KEY` block (PBES2: PBKDF2 or scrypt, AES).
fn decrypt_key(
    path: &Path,
    block: &str,
    password: &Secret,
) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    let fail = |cause: String| TlsSetupError::Decrypt {
        path: path.to_owned(),
        cause,
    };
    let (_, document) =
        pkcs8::der::Document::from_pem(block).map_err(|e| fail(format!("malformed PEM: {e}")))?;
    let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(document.as_bytes())
        .map_err(|e| fail(format!("malformed encrypted key: {e}")))?;
    let plain = info.decrypt(password.expose()).map_err(|e| {
        fail(format!(
            "wrong tlsCertificateKeyFilePassword or unsupported encryption ({e})"
        ))
    })?;
    Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        plain.as_bytes().to_vec(),
    )))
}

/// Every certificate of the PEM text read from `path`; at least one.
fn certificates_in(
    what: &'static str,
    path: &Path,
    text: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs = CertificateDer::pem_slice_iter(text.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(what, path, e))?;
    if certs.is_empty() {
        return Err(file_error(what, path, "no PEM certificate in the file"));
    }
    Ok(certs)
}

fn file_error(what: &'static str, path: &Path, cause: impl ToString) -> TlsSetupError {
    TlsSetupError::File {
        what,
        path: path.to_owned(),
        cause: cause.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::tls_verify::describe;

    #[test]
    fn settings_follow_the_uri() {
        let uri = ConnectionString::parse("mongodb://h/?tls=true&tlsInsecure=true").unwrap();
        let tls = TlsSettings::from_connection_string(&uri).unwrap();
        assert!(tls.allow_invalid_certificates && tls.allow_invalid_hostnames);
        let uri = ConnectionString::parse(
            "mongodb://h/?ssl=true&tlsCAFile=/ca.pem&tlsAllowInvalidHostnames=true",
        )
        .unwrap();
        let tls = TlsSettings::from_connection_string(&uri).unwrap();
        assert_eq!(tls.ca_file.as_deref(), Some(Path::new("/ca.pem")));
        assert!(tls.allow_invalid_hostnames && !tls.allow_invalid_certificates);
        let plain = ConnectionString::parse("mongodb://h/?tlsCAFile=/ca.pem").unwrap();
        assert_eq!(TlsSettings::from_connection_string(&plain), None);
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let settings = TlsSettings {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..TlsSettings::default()
        };
        let error = TlsConnector::new(&settings).unwrap_err();
        assert!(error.to_string().contains("tlsCAFile"), "{error}");
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
    }

    #[test]
    fn causes_are_named() {
        use rustls::CertificateError;
        let text = describe(&rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert!(text.contains("unknown issuer"), "{text}");
        let text = describe(&rustls::Error::InvalidCertificate(
            CertificateError::Expired,
        ));
        assert!(text.contains("expired"), "{text}");
    }
}
