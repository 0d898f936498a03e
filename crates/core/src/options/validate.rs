//! Rules about combinations of options and hosts: each function is one section of a spec
//! whose violation is an error (not a warning).
//!
//! Kept apart from parsing so the SRV resolver can run [`validate`] again once TXT record
//! options have been merged (Initial DNS Seedlist Discovery spec, "URI Validation": "the
//! driver MUST first do the SRV and TXT lookup and then perform the validation").

use super::connection_string::ConnectionString;
use super::error::UriError;

/// Runs every combination rule.
pub(crate) fn validate(uri: &ConnectionString) -> Result<(), UriError> {
    conflicting_tls_options(uri)?;
    direct_connection(uri)?;
    srv_options(uri)?;
    load_balanced(uri)?;
    socks5_options(uri)?;
    read_preference(uri)?;
    auth_source(uri)?;
    Ok(())
}

/// Authentication spec, "Connection String Options", authSource: "Drivers MUST raise an
/// error if the `authSource` option is specified in the connection string with an empty
/// value", whether or not the string gives credentials (an `authSource` alone requests no
/// authentication, but an empty one is still refused).
fn auth_source(uri: &ConnectionString) -> Result<(), UriError> {
    match uri.auth_source() {
        Some("") => Err(UriError::EmptyAuthSource),
        _ => Ok(()),
    }
}

fn combination(reason: String) -> UriError {
    UriError::Combination(reason)
}

/// URI Options spec, "Conflicting TLS options", rules 1 to 7 (rule 8, `tls` against `ssl`,
/// is applied while collecting the options).
fn conflicting_tls_options(uri: &ConnectionString) -> Result<(), UriError> {
    const CONFLICTS: &[(&str, &str)] = &[
        ("tlsInsecure", "tlsAllowInvalidCertificates"),
        ("tlsInsecure", "tlsAllowInvalidHostnames"),
        ("tlsInsecure", "tlsDisableOCSPEndpointCheck"),
        ("tlsInsecure", "tlsDisableCertificateRevocationCheck"),
        ("tlsAllowInvalidCertificates", "tlsDisableOCSPEndpointCheck"),
        (
            "tlsAllowInvalidCertificates",
            "tlsDisableCertificateRevocationCheck",
        ),
        (
            "tlsDisableOCSPEndpointCheck",
            "tlsDisableCertificateRevocationCheck",
        ),
    ];
    for (a, b) in CONFLICTS {
        if uri.option(a).is_some() && uri.option(b).is_some() {
            return Err(combination(format!("{a} and {b} cannot both be given")));
        }
    }
    Ok(())
}

/// URI Options spec, "directConnection URI option with multiple seeds or SRV URI".
fn direct_connection(uri: &ConnectionString) -> Result<(), UriError> {
    if uri.direct_connection() != Some(true) {
        return Ok(());
    }
    if uri.hosts().len() > 1 {
        return Err(combination(
            "directConnection=true is not allowed with multiple hosts".to_string(),
        ));
    }
    if uri.is_srv() {
        return Err(combination(
            "directConnection=true is not allowed with mongodb+srv".to_string(),
        ));
    }
    Ok(())
}

/// Initial DNS Seedlist Discovery spec, "URI Validation": `srvServiceName` and `srvMaxHosts`
/// need a `mongodb+srv` URI; a positive `srvMaxHosts` excludes `replicaSet` and
/// `loadBalanced=true`.
fn srv_options(uri: &ConnectionString) -> Result<(), UriError> {
    if !uri.is_srv() {
        for name in ["srvServiceName", "srvMaxHosts"] {
            if uri.option(name).is_some() {
                return Err(combination(format!(
                    "{name} is only allowed with mongodb+srv"
                )));
            }
        }
    }
    if uri.srv_max_hosts().unwrap_or(0) > 0 {
        if uri.replica_set().is_some() {
            return Err(combination(
                "a positive srvMaxHosts is not allowed with replicaSet".to_string(),
            ));
        }
        if uri.load_balanced() == Some(true) {
            return Err(combination(
                "a positive srvMaxHosts is not allowed with loadBalanced=true".to_string(),
            ));
        }
    }
    Ok(())
}

/// Load Balancer spec, "URI Validation": with `loadBalanced=true` there must be a single
/// host (checked after DNS for SRV), no `replicaSet`, and no `directConnection=true`.
fn load_balanced(uri: &ConnectionString) -> Result<(), UriError> {
    if uri.load_balanced() != Some(true) {
        return Ok(());
    }
    if uri.hosts().len() > 1 {
        return Err(combination(
            "loadBalanced=true is not allowed with multiple hosts".to_string(),
        ));
    }
    if uri.replica_set().is_some() {
        return Err(combination(
            "loadBalanced=true is not allowed with replicaSet".to_string(),
        ));
    }
    if uri.direct_connection() == Some(true) {
        return Err(combination(
            "loadBalanced=true is not allowed with directConnection=true".to_string(),
        ));
    }
    Ok(())
}

/// SOCKS5 Support spec, "MongoClient Configuration": `proxyPort`, `proxyUsername` and
/// `proxyPassword` need `proxyHost`; `proxyUsername` and `proxyPassword` go together.
fn socks5_options(uri: &ConnectionString) -> Result<(), UriError> {
    if uri.option("proxyHost").is_none() {
        for name in ["proxyPort", "proxyUsername", "proxyPassword"] {
            if uri.option(name).is_some() {
                return Err(combination(format!("{name} requires proxyHost")));
            }
        }
    }
    let username = uri.option("proxyUsername").is_some();
    let password = uri.option("proxyPassword").is_some();
    if username != password {
        return Err(combination(
            "proxyUsername and proxyPassword must be given together".to_string(),
        ));
    }
    Ok(())
}

/// Server Selection spec, "tag_sets": a non-empty tag set with mode "primary" is an error.
/// Max Staleness spec, "API": a positive maxStalenessSeconds with mode "primary" is invalid,
/// "including connection strings with no explicit read preference mode".
fn read_preference(uri: &ConnectionString) -> Result<(), UriError> {
    let primary = uri.read_preference().is_none_or(|mode| mode == "primary");
    if !primary {
        return Ok(());
    }
    if uri.read_preference_tags().iter().any(|set| !set.is_empty()) {
        return Err(combination(
            "readPreferenceTags are not allowed with read preference mode primary".to_string(),
        ));
    }
    if uri.max_staleness_seconds().is_some() {
        return Err(combination(
            "maxStalenessSeconds is not allowed with read preference mode primary".to_string(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::error::UriError;
    use super::super::ConnectionString;

    #[test]
    fn an_empty_auth_source_is_an_error_with_or_without_credentials() {
        for uri in [
            "mongodb://user:password@localhost/foo?authSource=",
            "mongodb://localhost/admin?authSource=",
            "mongodb://localhost/?authSource=&authMechanism=MONGODB-X509",
        ] {
            assert_eq!(
                ConnectionString::parse(uri).unwrap_err(),
                UriError::EmptyAuthSource,
                "{uri}"
            );
        }
        let given = ConnectionString::parse("mongodb://localhost/?authSource=admin").unwrap();
        assert_eq!(given.auth_source(), Some("admin"));
    }
}
