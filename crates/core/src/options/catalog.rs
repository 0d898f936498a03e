//! The table of known URI options: their canonical names, value types and repetition rules.
//!
//! This reads like the "List of specified options" table of the URI Options spec
//! (`uri-options.md`), one row per option, in the spec's alphabetical order. How a value
//! of each [`Kind`] is parsed and validated lives in `values.rs`; rules that involve more
//! than one option live in `validate.rs`.

use super::kind::Kind;

/// What happens when an option appears more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Connection String spec, "Repeated Keys": the behaviour is undefined and a warning
    /// SHOULD be raised; here the last valid value wins and a warning is recorded.
    LastWinsWithWarning,
    /// A list option (Connection String spec, "Lists"): every value is kept, in order.
    Append,
    /// Every instance must have the same value, or parsing fails (URI Options spec,
    /// "Conflicting TLS options", rule 8, for `tls` and its alias `ssl`).
    MustAgree,
    /// Giving the option twice is an error: used for the SOCKS5 proxy options, whose spec
    /// tests reject a repeated `proxyHost`, `proxyPort`, `proxyUsername` or `proxyPassword`
    /// rather than let one of two proxies or credentials win silently (URI Options spec:
    /// options with security implications MUST raise an error instead of being undefined).
    Error,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OptionSpec {
    /// The canonical name, spelled as in the spec table.
    pub name: &'static str,
    /// The value type.
    pub kind: Kind,
    /// What a repeated key does.
    pub repeat: Repeat,
}

impl OptionSpec {
    /// Whether the option's value must never be shown (passwords, tokens).
    pub fn is_secret(&self) -> bool {
        matches!(self.kind, Kind::SecretString | Kind::KeyValuePairs)
    }

    const fn with_repeat(self, repeat: Repeat) -> OptionSpec {
        OptionSpec { repeat, ..self }
    }
}

const fn row(name: &'static str, kind: Kind) -> OptionSpec {
    OptionSpec {
        name,
        kind,
        repeat: Repeat::LastWinsWithWarning,
    }
}

const I32_MAX: i64 = i32::MAX as i64;

const fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}

/// "non-negative integer" (32-bit).
const NON_NEGATIVE: Kind = int(0, I32_MAX);

/// "positive integer" (32-bit).
const POSITIVE: Kind = int(1, I32_MAX);

const READ_PREFERENCE_MODES: &[&str] = &[
    "primary",
    "primaryPreferred",
    "secondary",
    "secondaryPreferred",
    "nearest",
];

/// The mechanisms the Authentication spec defines ("any string; valid values are defined in
/// the auth spec", says the URI Options table). Another value is an invalid value, which the
/// Connection String spec says MUST be ignored with a warning.
const AUTH_MECHANISMS: &[&str] = &[
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "MONGODB-X509",
    "GSSAPI",
    "PLAIN",
    "MONGODB-AWS",
    "MONGODB-OIDC",
    "MONGODB-CR",
];

/// The "List of specified options" of the URI Options spec, plus `timeoutMS` (Client Side
/// Operations Timeout spec: a non-negative integer, 0 meaning no timeout).
#[rustfmt::skip]
pub(crate) const OPTIONS: &[OptionSpec] = &[
    row("appname",                              Kind::AppName),
    row("authMechanism",                        Kind::OneOf(AUTH_MECHANISMS)),
    row("authMechanismProperties",              Kind::KeyValuePairs),
    row("authSource",                           Kind::String),
    row("compressors",                          Kind::Compressors),
    row("connectTimeoutMS",                     NON_NEGATIVE),
    row("directConnection",                     Kind::Bool),
    row("enableOverloadRetargeting",            Kind::Bool),
    row("heartbeatFrequencyMS",                 int(500, I32_MAX)),
    row("journal",                              Kind::Bool),
    row("loadBalanced",                         Kind::Bool),
    row("localThresholdMS",                     NON_NEGATIVE),
    row("maxAdaptiveRetries",                   NON_NEGATIVE),
    row("maxConnecting",                        POSITIVE),
    row("maxIdleTimeMS",                        NON_NEGATIVE),
    row("maxPoolSize",                          NON_NEGATIVE),
    row("maxStalenessSeconds",                  Kind::MaxStaleness),
    row("minPoolSize",                          NON_NEGATIVE),
    row("proxyHost",                            Kind::String).with_repeat(Repeat::Error),
    row("proxyPort",                            int(0, u16::MAX as i64)).with_repeat(Repeat::Error),
    row("proxyUsername",                        Kind::String).with_repeat(Repeat::Error),
    row("proxyPassword",                        Kind::SecretString).with_repeat(Repeat::Error),
    row("readConcernLevel",                     Kind::String),
    row("readPreference",                       Kind::OneOf(READ_PREFERENCE_MODES)),
    row("readPreferenceTags",                   Kind::TagSet).with_repeat(Repeat::Append),
    row("replicaSet",                           Kind::String),
    row("retryReads",                           Kind::Bool),
    row("retryWrites",                          Kind::Bool),
    row("serverMonitoringMode",                 Kind::OneOf(&["stream", "poll", "auto"])),
    row("serverSelectionTimeoutMS",             POSITIVE),
    row("serverSelectionTryOnce",               Kind::Bool),
    row("socketTimeoutMS",                      NON_NEGATIVE),
    row("srvMaxHosts",                          NON_NEGATIVE),
    row("srvServiceName",                       Kind::SrvServiceName),
    row("timeoutMS",                            NON_NEGATIVE),
    row("tls",                                  Kind::Bool).with_repeat(Repeat::MustAgree),
    row("tlsAllowInvalidCertificates",          Kind::Bool),
    row("tlsAllowInvalidHostnames",             Kind::Bool),
    row("tlsCAFile",                            Kind::String),
    row("tlsCertificateKeyFile",                Kind::String),
    row("tlsCertificateKeyFilePassword",        Kind::SecretString),
    row("tlsDisableCertificateRevocationCheck", Kind::Bool),
    row("tlsDisableOCSPEndpointCheck",          Kind::Bool),
    row("tlsInsecure",                          Kind::Bool),
    row("w",                                    Kind::WriteConcernW),
    row("waitQueueTimeoutMS",                   POSITIVE),
    row("wTimeoutMS",                           int(0, i64::MAX)),
    row("zlibCompressionLevel",                 int(-1, 9)),
];

/// Other names accepted for an option: `(alias, canonical name)`.
///
/// URI Options spec: `ssl` is an "alias of tls; required to ensure that Atlas connection
/// strings continue to work".
pub(crate) const ALIASES: &[(&str, &str)] = &[("ssl", "tls")];

/// Finds the row for a key as written in a URI. Connection String spec, "Keys": keys are
/// normalised by lower-casing ASCII A-Z; other characters are left as they are.
pub(crate) fn lookup(key: &str) -> Option<&'static OptionSpec> {
    let name = ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(key))
        .map_or(key, |(_, canonical)| canonical);
    OPTIONS
        .iter()
        .find(|spec| spec.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive_and_knows_aliases() {
        assert_eq!(lookup("REPLICASET").map(|s| s.name), Some("replicaSet"));
        assert_eq!(lookup("ssl").map(|s| s.name), Some("tls"));
        assert_eq!(lookup("SSL").map(|s| s.name), Some("tls"));
        assert_eq!(lookup("wtimeout"), None);
    }

    #[test]
    fn auth_mechanism_accepts_only_the_auth_spec_mechanisms() {
        let Some(spec) = lookup("authmechanism") else {
            panic!("authMechanism is in the table");
        };
        for known in [
            "SCRAM-SHA-256",
            "MONGODB-X509",
            "GSSAPI",
            "PLAIN",
            "MONGODB-OIDC",
        ] {
            assert!(
                crate::options::values::parse_value(spec.kind, known).is_ok(),
                "{known}"
            );
        }
        for unknown in ["KERBEROS", "scram-sha-256", "", "SCRAM-SHA-512"] {
            assert!(
                crate::options::values::parse_value(spec.kind, unknown).is_err(),
                "{unknown}"
            );
        }
    }

    #[test]
    fn names_are_unique() {
        for (i, a) in OPTIONS.iter().enumerate() {
            for b in &OPTIONS[i + 1..] {
                assert!(!a.name.eq_ignore_ascii_case(b.name), "{} twice", a.name);
            }
        }
    }
}
