//! Secrets from a connection string never appear in Display, Debug, errors or warnings
//! (logs: `options_secrets_logs.rs`).

use mongo_topology_core::options::ConnectionString;

mod options_secrets_support;

use options_secrets_support::{assert_no_secret, FULL};

#[test]
fn display_and_debug_are_redacted() {
    let uri = ConnectionString::parse(FULL).unwrap();
    let shown = uri.to_string();
    assert_no_secret("Display", &shown);
    assert!(shown
        .starts_with("mongodb://alice:*****@db1.example.com:27017,db2.example.com:27017/admin?"));
    assert!(
        shown.contains("tlsCertificateKeyFilePassword=*****"),
        "{shown}"
    );
    assert!(shown.contains("proxyPassword=*****"), "{shown}");
    assert!(shown.contains("AWS_SESSION_TOKEN:*****"), "{shown}");
    assert!(
        shown.contains("readPreferenceTags=dc:ny,rack:1&readPreferenceTags="),
        "{shown}"
    );
    assert_no_secret("Debug", &format!("{uri:?}"));
    assert_no_secret("alternate Debug", &format!("{uri:#?}"));
    let credential = uri.credential().unwrap();
    assert_no_secret("Credential Debug", &format!("{credential:?}"));
    assert_no_secret(
        "options Debug",
        &format!("{:?}", uri.options().collect::<Vec<_>>()),
    );
    // The secrets are still there for the code that needs them.
    assert_eq!(credential.password.unwrap().expose(), "hunter2pw");
    assert_eq!(
        uri.tls_certificate_key_file_password().unwrap().expose(),
        "certpass42"
    );
    assert_eq!(uri.proxy_password().unwrap().expose(), "proxypw77");
    assert_eq!(
        credential.mechanism_properties.get("AWS_SESSION_TOKEN"),
        Some("sessiontok99")
    );
}

#[test]
fn the_redacted_form_parses_again() {
    let uri = ConnectionString::parse(FULL).unwrap();
    let again = ConnectionString::parse(&uri.to_string()).unwrap();
    assert_eq!(again.hosts(), uri.hosts());
    assert_eq!(again.read_preference_tags(), uri.read_preference_tags());
    assert_eq!(again.options().count(), uri.options().count());
}

#[test]
fn errors_do_not_echo_secrets() {
    for bad in [
        // Password with an unescaped "/" or "?": the split lands inside the userinfo.
        "mongodb://alice:hunter2pw/x@localhost/db",
        "mongodb://alice:hunter2pw?x@localhost",
        "mongodb://alice:hunter2pw:more@localhost",
        "mongodb://alice:hunter2pw@@localhost",
        "mongodb://alice:hunter2pw%zz@localhost",
        "mongodb://alice:hunter2pw@localhost:0",
        "mongodb://alice:hunter2pw@[::1",
        "hunter2pw://localhost",
        "mongodb://localhost/?proxyPassword=proxypw77",
        "mongodb://localhost/?proxyPassword:proxypw77",
        "mongodb://localhost/?proxyHost=p&proxyPassword=proxypw77",
        "mongodb://alice:hunter2pw@a,b/?directConnection=true",
    ] {
        let error = ConnectionString::parse(bad).unwrap_err();
        assert_no_secret("error Display", &error.to_string());
        assert_no_secret("error Debug", &format!("{error:?}"));
    }
}

#[test]
fn warnings_do_not_echo_secrets() {
    let uri = ConnectionString::parse(
        "mongodb://localhost/?authMechanismProperties=AWS_SESSION_TOKEN:tokpart55,tokpart55\
         &passwrd=typo_secret",
    )
    .unwrap();
    assert_eq!(uri.warnings().len(), 2, "{:?}", uri.warnings());
    for warning in uri.warnings() {
        assert_no_secret("warning", &warning.to_string());
        assert_no_secret("warning Debug", &format!("{warning:?}"));
    }
}
