//! TLS for a simulated deployment: a CA and a server certificate generated at start with
//! rcgen, served with rustls (ring provider). Tests can ask for an expired certificate, a
//! certificate for other names, and for client certificates (MONGODB-X509): the CA signs
//! them ([`SimTls::client_certificate_pem`]) and the server derives the user from the
//! presented certificate's subject.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use time::{Duration, OffsetDateTime};
use tokio_rustls::TlsAcceptor;

use super::SimError;

/// What certificate the simulator serves, and whether it asks for client certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTlsOptions {
    /// The names the server certificate is valid for (DNS names or IP literals).
    pub names: Vec<String>,
    /// Serve a certificate that expired yesterday.
    pub expired: bool,
    /// Ask clients for a certificate (optional: clients without one still connect, and
    /// then cannot use MONGODB-X509).
    pub request_client_certificates: bool,
    /// Also serve clients that connect without TLS, as mongod's `--tlsMode preferTLS`
    /// does (the first bytes of a connection tell which it is).
    pub allow_plain: bool,
}

impl Default for SimTlsOptions {
    /// A valid certificate for `localhost` and `127.0.0.1`; no client certificates.
    fn default() -> Self {
        SimTlsOptions {
            names: vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
            expired: false,
            request_client_certificates: false,
            allow_plain: false,
        }
    }
}

/// The generated CA, the server's certificate and the acceptor serving it.
#[derive(Clone)]
pub struct SimTls {
    inner: Arc<Material>,
}

struct Material {
    options: SimTlsOptions,
    ca_pem: String,
    ca: Issuer<'static, KeyPair>,
    acceptor: TlsAcceptor,
}

/// The organisation of every certificate the simulator generates.
const ORGANIZATION: &str = "mongo-topology-sim";

impl SimTls {
    /// Generates a CA and a server certificate as `options` say.
    pub fn generate(options: SimTlsOptions) -> Result<SimTls, SimError> {
        // Each CA has its own name: a client trusting another simulator's CA then sees an
        // unknown issuer, as it would with an unrelated real CA.
        let ca_key = KeyPair::generate().map_err(tls_error)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
        ca_params.distinguished_name = DistinguishedName::new();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params
            .distinguished_name
            .push(DnType::OrganizationName, ORGANIZATION);
        ca_params.distinguished_name.push(
            DnType::CommonName,
            format!("mongo-topology-sim test CA {:016x}", rand::random::<u64>()),
        );
        let now = OffsetDateTime::now_utc();
        ca_params.not_before = now - Duration::days(30);
        ca_params.not_after = now + Duration::days(365);
        let ca_cert = ca_params.self_signed(&ca_key).map_err(tls_error)?;
        let ca = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().map_err(tls_error)?;
        let mut params = CertificateParams::new(options.names.clone()).map_err(tls_error)?;
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, ORGANIZATION);
        params.distinguished_name.push(
            DnType::CommonName,
            options.names.first().map_or("server", String::as_str),
        );
        (params.not_before, params.not_after) = if options.expired {
            (now - Duration::days(30), now - Duration::days(1))
        } else {
            (now - Duration::days(1), now + Duration::days(90))
        };
        let server_cert = params.signed_by(&server_key, &ca).map_err(tls_error)?;

        // The process-default provider: *ring*, the one rustls feature this workspace enables
        // (`ring::default_provider` is deprecated from rustls 0.23.48).
        let builder = ServerConfig::builder();
        let provider = Arc::clone(builder.crypto_provider());
        let builder = if options.request_client_certificates {
            let mut roots = RootCertStore::empty();
            roots.add(ca_cert.der().clone()).map_err(tls_error)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(tls_error)?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let chain = vec![server_cert.der().clone(), ca_cert.der().clone()];
        let config = builder.with_single_cert(chain, key).map_err(tls_error)?;
        Ok(SimTls {
            inner: Arc::new(Material {
                options,
                ca_pem: ca_cert.pem(),
                ca,
                acceptor: TlsAcceptor::from(Arc::new(config)),
            }),
        })
    }

    /// The options this material was generated with.
    pub fn options(&self) -> &SimTlsOptions {
        &self.inner.options
    }

    /// The CA certificate, PEM: what clients pass as `tlsCAFile`.
    pub fn ca_pem(&self) -> &str {
        &self.inner.ca_pem
    }

    /// Writes the CA certificate (PEM) to `path`.
    pub fn write_ca_file(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.ca_pem())
    }

    /// A client certificate signed by the CA, with its key, as one PEM text (what clients
    /// pass as `tlsCertificateKeyFile`). Its subject is [`SimTls::client_subject`].
    pub fn client_certificate_pem(&self, common_name: &str) -> Result<String, SimError> {
        let (cert, key) = self.client_certificate(common_name)?;
        Ok(format!("{}{}", cert.pem(), key.serialize_pem()))
    }

    /// [`SimTls::client_certificate_pem`] with the key encrypted with `password` (PKCS#8
    /// `ENCRYPTED PRIVATE KEY`: PBES2, PBKDF2-SHA256 with 2,048 iterations, AES-256-CBC, as
    /// `openssl pkcs8 -topk8` writes by default).
    pub fn encrypted_client_certificate_pem(
        &self,
        common_name: &str,
        password: &str,
    ) -> Result<String, SimError> {
        use pkcs8::pkcs5::pbes2::Parameters;
        let (cert, key) = self.client_certificate(common_name)?;
        let der = key.serialize_der();
        let info = pkcs8::PrivateKeyInfoRef::try_from(der.as_slice()).map_err(tls_error)?;
        let params = Parameters::generate_pbkdf2_sha256_aes256cbc(
            2048,
            &rand::random::<[u8; 16]>(),
            rand::random::<[u8; 16]>(),
        )
        .map_err(tls_error)?;
        let encrypted = info
            .encrypt_with_params(params, password)
            .map_err(tls_error)?;
        let pem = encrypted
            .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
            .map_err(tls_error)?;
        Ok(format!("{}{}", cert.pem(), pem.as_str()))
    }

    /// A client certificate signed by the CA, and its key.
    fn client_certificate(
        &self,
        common_name: &str,
    ) -> Result<(rcgen::Certificate, KeyPair), SimError> {
        let key = KeyPair::generate().map_err(tls_error)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::OrganizationName, ORGANIZATION);
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, "clients");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let now = OffsetDateTime::now_utc();
        (params.not_before, params.not_after) = (now - Duration::days(1), now + Duration::days(90));
        let cert = params.signed_by(&key, &self.inner.ca).map_err(tls_error)?;
        Ok((cert, key))
    }

    /// The subject (RFC 2253, as mongod names `$external` users) of the certificate
    /// [`SimTls::client_certificate_pem`] makes for `common_name`.
    pub fn client_subject(common_name: &str) -> String {
        format!("CN={common_name},OU=clients,O={ORGANIZATION}")
    }

    /// The acceptor serving the server certificate.
    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.inner.acceptor
    }
}

impl fmt::Debug for SimTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimTls")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl PartialEq for SimTls {
    /// The same generated material.
    fn eq(&self, other: &SimTls) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// The subject of a client's certificate in RFC 2253 form (last RDN first, `,` between):
/// the `$external` user name MONGODB-X509 authenticates. `None` when it cannot be parsed.
pub(crate) fn certificate_subject(der: &CertificateDer<'_>) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut parts = Vec::new();
    for rdn in cert.subject().iter_rdn() {
        for attribute in rdn.iter() {
            let oid = attribute.attr_type().to_id_string();
            let name = match oid.as_str() {
                "2.5.4.3" => "CN",
                "2.5.4.6" => "C",
                "2.5.4.7" => "L",
                "2.5.4.8" => "ST",
                "2.5.4.10" => "O",
                "2.5.4.11" => "OU",
                other => other,
            };
            parts.push(format!("{name}={}", attribute.as_str().ok()?));
        }
    }
    parts.reverse();
    Some(parts.join(","))
}

fn tls_error(error: impl fmt::Display) -> SimError {
    SimError::InvalidRequest(format!("cannot set up TLS: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn client_certificates_carry_the_announced_subject() {
        let tls = SimTls::generate(SimTlsOptions {
            request_client_certificates: true,
            ..SimTlsOptions::default()
        })
        .unwrap();
        let pem = tls.client_certificate_pem("app").unwrap();
        let der = CertificateDer::pem_slice_iter(pem.as_bytes())
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(
            certificate_subject(&der).as_deref(),
            Some(SimTls::client_subject("app").as_str())
        );
    }
}
