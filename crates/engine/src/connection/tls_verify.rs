//! The server certificate verifier behind `tlsAllowInvalidCertificates` (and `tlsInsecure`)
//! and `tlsAllowInvalidHostnames`, one verifier told what to forgive, and the plain words for
//! why rustls rejected a certificate.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

/// What a [`ForgivingVerifier`] lets pass that certificate verification would refuse.
#[derive(Debug)]
pub(crate) enum Forgive {
    /// `tlsAllowInvalidCertificates=true` (and `tlsInsecure`): any certificate chain, for
    /// any name.
    AnyCertificate,
    /// `tlsAllowInvalidHostnames=true`: the chain must satisfy this verifier (lead to a
    /// trusted root, be valid now), but the certificate need not name the host. webpki
    /// checks the chain before the name, so a name mismatch is the only error forgiven.
    WrongHostname(Arc<WebPkiServerVerifier>),
}

/// The server certificate verifier of the `tlsAllow*` options: verification as rustls does
/// it, less what [`Forgive`] says. The handshake is still TLS: whatever is forgiven, the
/// server must prove it holds the certificate's key (the handshake signatures are checked).
#[derive(Debug)]
pub(crate) struct ForgivingVerifier {
    forgive: Forgive,
    provider: Arc<CryptoProvider>,
}

impl ForgivingVerifier {
    /// A verifier forgiving `forgive`, checking handshake signatures with `provider`'s
    /// algorithms.
    pub(crate) fn new(forgive: Forgive, provider: Arc<CryptoProvider>) -> Self {
        ForgivingVerifier { forgive, provider }
    }
}

impl ServerCertVerifier for ForgivingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = match &self.forgive {
            Forgive::AnyCertificate => return Ok(ServerCertVerified::assertion()),
            Forgive::WrongHostname(chain) => chain,
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Why the handshake failed, in words an operator acts on, followed by rustls's own text
/// (which carries the details: names presented, validity dates).
pub(crate) fn describe(error: &rustls::Error) -> String {
    let plain = match error {
        rustls::Error::InvalidCertificate(cause) => match cause {
            CertificateError::UnknownIssuer => {
                "the server certificate has an unknown issuer (not signed by a trusted CA: \
                 check tlsCAFile)"
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the server certificate has expired"
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the server certificate is not valid yet"
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                "the server certificate is not valid for the host name"
            }
            CertificateError::Revoked => "the server certificate has been revoked",
            CertificateError::BadSignature => "the server certificate has a bad signature",
            _ => "the server certificate is invalid",
        },
        rustls::Error::AlertReceived(_) => "the server refused the handshake",
        rustls::Error::InvalidMessage(_) => {
            "the server did not answer with TLS (is TLS enabled on the server?)"
        }
        rustls::Error::NoCertificatesPresented => "the server presented no certificate",
        _ => "TLS handshake failed",
    };
    format!("{plain}: {error}")
}

/// Why an I/O error ended the handshake: rustls's error when it is one, else the I/O error
/// (an early end of stream usually means the server does not speak TLS).
pub(crate) fn describe_io(error: &std::io::Error) -> String {
    if let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return describe(tls);
    }
    match error.kind() {
        std::io::ErrorKind::UnexpectedEof
        | std::io::ErrorKind::ConnectionReset
        | std::io::ErrorKind::BrokenPipe => format!(
            "the server closed the connection during the TLS handshake (is TLS enabled on \
             the server?): {error}"
        ),
        std::io::ErrorKind::InvalidData => {
            format!("the server did not answer with TLS (is TLS enabled on the server?): {error}")
        }
        _ => format!("TLS handshake failed: {error}"),
    }
}
