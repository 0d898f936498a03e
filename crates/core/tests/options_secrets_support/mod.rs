//! The secrets and the connection string the secrets tests share.
#![allow(dead_code)]

/// Every secret used below; none may appear in any rendering.
pub const SECRETS: &[&str] = &[
    "hunter2pw",
    "certpass42",
    "proxypw77",
    "sessiontok99",
    "tokpart55",
    "typo_secret",
];

pub fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} leaks {secret:?}: {text}");
    }
}

pub const FULL: &str = "mongodb://alice:hunter2pw@db1.example.com,db2.example.com/admin\
    ?tlsCertificateKeyFilePassword=certpass42&proxyHost=proxy&proxyUsername=bob\
    &proxyPassword=proxypw77\
    &authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:sessiontok99\
    &readPreference=secondary&readPreferenceTags=dc:ny,rack:1&readPreferenceTags=";
