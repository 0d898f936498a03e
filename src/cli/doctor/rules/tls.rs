//! TLS: TLS off against a TLS-only server and on against a server without TLS, unknown
//! issuers, name mismatches, IP-literal seeds against certificates without IP addresses,
//! certificates near expiry, and the options that turn verification off.

use std::net::IpAddr;
use std::time::Duration;

use mongo_topology::ServerAddress;

use super::text::list;
use crate::cli::doctor::finding::{Finding, Severity};
use crate::cli::doctor::observations::Observations;

/// The server requires TLS and the string does not enable it.
pub const SERVER_REQUIRES_TLS: &str = "tls.server-requires-tls";
/// TLS is enabled and the server does not speak it.
pub const SERVER_WITHOUT_TLS: &str = "tls.server-without-tls";
/// The certificate's issuer is not trusted.
pub const UNKNOWN_ISSUER: &str = "tls.unknown-issuer";
/// The certificate is not valid for the host name used.
pub const NAME_MISMATCH: &str = "tls.name-mismatch";
/// An IP-literal seed against a certificate without that IP address.
pub const IP_LITERAL_SEED: &str = "tls.ip-literal-seed";
/// A certificate expired or expiring within 30 days.
pub const EXPIRY: &str = "tls.expiry";
/// Verification turned off by options.
pub const INSECURE_OPTIONS: &str = "tls.insecure-options";

/// Certificates expiring sooner than this get a warning.
const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);

fn is_ip(address: &ServerAddress) -> bool {
    address.host().parse::<IpAddr>().is_ok()
}

/// The servers whose TLS handshake failed with an error containing `needle`.
fn tls_errors<'a>(
    observations: &'a Observations,
    needle: &str,
) -> Vec<(&'a ServerAddress, &'a str)> {
    observations
        .tls
        .iter()
        .filter_map(|(address, state)| {
            let error = state.as_ref().err()?;
            error.contains(needle).then_some((address, error.as_str()))
        })
        .collect()
}

/// `tls.server-requires-tls`: TLS is off, the plain connection was dropped, and a TLS
/// handshake with the same server succeeded.
pub fn server_requires_tls(observations: &Observations) -> Vec<Finding> {
    if observations.uri.tls() {
        return Vec::new();
    }
    let servers: Vec<&ServerAddress> = observations
        .tls
        .iter()
        .filter(|(_, state)| state.is_ok())
        .map(|(address, _)| address)
        .collect();
    if servers.is_empty() {
        return Vec::new();
    }
    let names: Vec<String> = servers.iter().map(ToString::to_string).collect();
    vec![Finding::new(
        SERVER_REQUIRES_TLS,
        Severity::Error,
        format!(
            "{} closed the plain connection and completed a TLS handshake",
            list(&names)
        ),
        "every connection fails: the server requires TLS",
        "add tls=true (and tlsCAFile=<the CA> unless the system trusts it)",
    )
    .servers(servers)]
}

/// `tls.server-without-tls`: TLS is on and the server did not answer with TLS.
pub fn server_without_tls(observations: &Observations) -> Vec<Finding> {
    if !observations.uri.tls() {
        return Vec::new();
    }
    let servers = tls_errors(observations, "is TLS enabled on the server?");
    one_finding(
        SERVER_WITHOUT_TLS,
        Severity::Error,
        &servers,
        "every connection fails: the server does not speak TLS on this port",
        "enable TLS on the server (net.tls.mode requireTLS), or remove tls=true if the \
         network is trusted",
    )
}

/// `tls.unknown-issuer`: the certificate chain does not lead to a trusted CA.
pub fn unknown_issuer(observations: &Observations) -> Vec<Finding> {
    let servers = tls_errors(observations, "unknown issuer");
    one_finding(
        UNKNOWN_ISSUER,
        Severity::Error,
        &servers,
        "every connection fails certificate verification",
        "give the CA that signed the server certificates with tlsCAFile=<path> (not \
         tlsAllowInvalidCertificates, which accepts any server)",
    )
}

/// `tls.name-mismatch`: the certificate is not valid for the host name used (host names;
/// IP literals are [`ip_literal_seed`]'s).
pub fn name_mismatch(observations: &Observations) -> Vec<Finding> {
    let servers: Vec<_> = tls_errors(observations, "not valid for the host name")
        .into_iter()
        .filter(|(address, _)| !is_ip(address))
        .collect();
    one_finding(
        NAME_MISMATCH,
        Severity::Error,
        &servers,
        "every connection to these servers fails hostname verification",
        "connect with a name the certificate lists (its subjectAltName DNS entries), or \
         reissue the certificate with the names the replica set config advertises",
    )
}

/// `tls.ip-literal-seed`: an IP-literal address whose certificate does not list it.
pub fn ip_literal_seed(observations: &Observations) -> Vec<Finding> {
    let servers: Vec<_> = tls_errors(observations, "not valid for the host name")
        .into_iter()
        .filter(|(address, _)| is_ip(address))
        .collect();
    one_finding(
        IP_LITERAL_SEED,
        Severity::Error,
        &servers,
        "the certificate has no IP address entry for the address used: every connection \
         fails verification",
        "use the host names the certificate is issued for instead of IP addresses, or add \
         IP subjectAltName entries to the certificate",
    )
}

/// `tls.expiry`: certificates that expired or expire within 30 days.
pub fn expiry(observations: &Observations) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (address, state) in &observations.tls {
        match state {
            Ok(info) => {
                let Some(not_after) = info.peer_not_after else {
                    continue;
                };
                let left = not_after
                    .duration_since(observations.now)
                    .unwrap_or(Duration::ZERO);
                if left < EXPIRY_WARNING {
                    findings.push(
                        Finding::new(
                            EXPIRY,
                            Severity::Warning,
                            format!(
                                "the certificate of {address} expires in {} days",
                                left.as_secs() / 86_400
                            ),
                            "when it expires every new connection fails verification",
                            "renew the certificate before it expires",
                        )
                        .servers([address]),
                    );
                }
            }
            Err(error) if error.contains("has expired") => findings.push(
                Finding::new(
                    EXPIRY,
                    Severity::Error,
                    format!("{address}: {error}"),
                    "every connection fails verification",
                    "renew the server certificate",
                )
                .servers([address]),
            ),
            Err(_) => {}
        }
    }
    findings
}

/// `tls.insecure-options`: tlsInsecure or tlsAllowInvalid* in use.
pub fn insecure_options(observations: &Observations) -> Vec<Finding> {
    let uri = &observations.uri;
    let on: Vec<&str> = [
        ("tlsInsecure", uri.tls_insecure()),
        (
            "tlsAllowInvalidCertificates",
            uri.tls_allow_invalid_certificates(),
        ),
        (
            "tlsAllowInvalidHostnames",
            uri.tls_allow_invalid_hostnames(),
        ),
    ]
    .into_iter()
    .filter(|(_, value)| *value == Some(true))
    .map(|(name, _)| name)
    .collect();
    if on.is_empty() {
        return Vec::new();
    }
    vec![Finding::new(
        INSECURE_OPTIONS,
        Severity::Warning,
        format!("{} =true", list(&on)),
        "the client accepts any server presenting any certificate: traffic (and \
         credentials) can be intercepted; real certificate problems stay hidden until the \
         option is removed",
        "remove the option and give tlsCAFile=<the CA>; fix the certificate names instead \
         of ignoring them",
    )]
}

/// One finding naming every server of `servers`, with their errors as evidence.
fn one_finding(
    rule: &'static str,
    severity: Severity,
    servers: &[(&ServerAddress, &str)],
    consequence: &str,
    fix: &str,
) -> Vec<Finding> {
    if servers.is_empty() {
        return Vec::new();
    }
    let evidence: Vec<String> = servers
        .iter()
        .map(|(address, error)| format!("{address}: {error}"))
        .collect();
    vec![
        Finding::new(rule, severity, evidence.join("; "), consequence, fix)
            .servers(servers.iter().map(|(address, _)| address)),
    ]
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use mongo_topology::TlsInfo;

    use super::super::fixtures::{addr, observe};
    use super::*;

    fn info(not_after: SystemTime) -> TlsInfo {
        TlsInfo {
            protocol: "TLSv1.3".into(),
            peer_subject: Some("CN=db".into()),
            peer_not_after: Some(not_after),
        }
    }

    fn with_tls(uri: &str, address: &str, state: Result<TlsInfo, String>) -> Observations {
        let mut observations = observe(uri);
        observations.tls.insert(addr(address), state);
        observations
    }

    #[test]
    fn a_tls_only_server_without_tls() {
        let now = observe("mongodb://a").now;
        let observations = with_tls("mongodb://a", "a:27017", Ok(info(now)));
        assert_eq!(server_requires_tls(&observations)[0].servers, ["a:27017"]);
        let observations = with_tls("mongodb://a/?tls=true", "a:27017", Ok(info(now)));
        assert!(server_requires_tls(&observations).is_empty());
    }

    #[test]
    fn handshake_failures_are_classified() {
        let err = |e: &str| Err(format!("TLS error: {e}"));
        let plain = with_tls(
            "mongodb://a/?tls=true",
            "a:27017",
            err("the server did not answer with TLS (is TLS enabled on the server?): x"),
        );
        assert_eq!(server_without_tls(&plain).len(), 1);
        let reset = with_tls("mongodb://a/?tls=true", "a:27017", err("the server closed the connection during the TLS handshake (is TLS enabled on the server?): reset"));
        assert_eq!(server_without_tls(&reset).len(), 1);
        assert!(unknown_issuer(&plain).is_empty());
        let issuer = with_tls("mongodb://a/?tls=true", "a:27017", err("the server certificate has an unknown issuer (not signed by a trusted CA: check tlsCAFile): x"));
        assert_eq!(unknown_issuer(&issuer)[0].servers, ["a:27017"]);
        let mismatch = "the server certificate is not valid for the host name: x";
        let by_name = with_tls("mongodb://a/?tls=true", "a:27017", err(mismatch));
        assert_eq!(name_mismatch(&by_name).len(), 1);
        assert!(ip_literal_seed(&by_name).is_empty());
        let by_ip = with_tls(
            "mongodb://10.0.0.1/?tls=true",
            "10.0.0.1:27017",
            err(mismatch),
        );
        assert!(name_mismatch(&by_ip).is_empty());
        assert_eq!(ip_literal_seed(&by_ip)[0].servers, ["10.0.0.1:27017"]);
    }

    #[test]
    fn certificates_near_expiry() {
        let now = observe("mongodb://a").now;
        let day = Duration::from_secs(86_400);
        let soon = with_tls("mongodb://a/?tls=true", "a:27017", Ok(info(now + day * 10)));
        assert!(expiry(&soon)[0].evidence.contains("in 10 days"));
        let later = with_tls("mongodb://a/?tls=true", "a:27017", Ok(info(now + day * 90)));
        assert!(expiry(&later).is_empty());
        let expired = with_tls(
            "mongodb://a/?tls=true",
            "a:27017",
            Err("TLS error: the server certificate has expired: x".into()),
        );
        assert_eq!(expiry(&expired)[0].severity, Severity::Error);
    }

    #[test]
    fn insecure_options_are_named() {
        let findings = insecure_options(&observe(
            "mongodb://a/?tls=true&tlsAllowInvalidHostnames=true",
        ));
        assert!(findings[0].evidence.contains("tlsAllowInvalidHostnames"));
        assert!(insecure_options(&observe("mongodb://a/?tls=true")).is_empty());
    }
}
