//! Spec runner for the connection-string and uri-options suites.
//!
//! Both suites share one format (see their tests/README.md): each case gives a `uri`,
//! whether it is `valid`, whether parsing emits a `warning`, and optionally the expected
//! `hosts`, `auth` and `options`. A null field means "no assertion". `options` lists only
//! the options to check: options that the case does not mention are not asserted.

use std::net::Ipv4Addr;
use std::path::Path;

use mongo_topology::options::{ConnectionString, OptionValue};
use mongo_topology::ServerAddress;
use serde_json::Value;

use crate::harness::{run_described_tests, Case};

pub fn run_connection_string_file(path: &Path, json: &Value) -> Vec<Case> {
    run_file(path, json)
}

pub fn run_uri_options_file(path: &Path, json: &Value) -> Vec<Case> {
    run_file(path, json)
}

fn run_file(_path: &Path, json: &Value) -> Vec<Case> {
    run_described_tests(json, |name, test| Case::from_result(name, run_case(test)))
}

fn run_case(test: &Value) -> Result<(), String> {
    let uri = test
        .get("uri")
        .and_then(Value::as_str)
        .ok_or("case has no uri")?;
    let valid = test
        .get("valid")
        .and_then(Value::as_bool)
        .ok_or("case has no valid")?;
    let parsed = ConnectionString::parse(uri);
    let parsed = match (parsed, valid) {
        (Err(_), false) => return Ok(()),
        (Ok(parsed), false) => return Err(format!("expected an error, parsed {parsed:?}")),
        (Err(error), true) => return Err(format!("expected success, got error: {error}")),
        (Ok(parsed), true) => parsed,
    };
    if let Some(expected) = test.get("warning").and_then(Value::as_bool) {
        let warned = !parsed.warnings().is_empty();
        if warned != expected {
            return Err(format!(
                "expected warning={expected}, got warnings {:?}",
                parsed.warnings()
            ));
        }
    }
    if let Some(hosts) = test.get("hosts").and_then(Value::as_array) {
        check_hosts(&parsed, hosts)?;
    }
    if let Some(auth) = test.get("auth").filter(|a| !a.is_null()) {
        check_auth(&parsed, auth)?;
    }
    if let Some(options) = test.get("options").and_then(Value::as_object) {
        for (name, expected) in options {
            check_option(&parsed, name, expected)?;
        }
    }
    Ok(())
}

/// Hosts are compared in order: type, host and port, each only when not null (older
/// uri-options files write `{type: null, host: null, port: null}` to assert nothing).
/// TCP host names compare case-insensitively (SDAM normalises them to lower case);
/// UNIX sockets compare by their decoded path.
fn check_hosts(parsed: &ConnectionString, expected: &[Value]) -> Result<(), String> {
    let actual: Vec<(&str, String, Option<u16>)> = match parsed.srv_hostname() {
        Some(hostname) => vec![("hostname", hostname.to_string(), None)],
        None => parsed.hosts().iter().map(describe).collect(),
    };
    if actual.len() != expected.len() {
        return Err(format!(
            "expected {} hosts, got {:?}",
            expected.len(),
            parsed.hosts()
        ));
    }
    for (i, ((kind, host, port), want)) in actual.iter().zip(expected).enumerate() {
        let mismatch = |what: &str| {
            format!(
                "host {}: {what} differs: got {kind} {host} {port:?}, expected {want}",
                i + 1
            )
        };
        if let Some(want_kind) = want.get("type").and_then(Value::as_str) {
            if want_kind != *kind {
                return Err(mismatch("type"));
            }
        }
        if let Some(want_host) = want.get("host").and_then(Value::as_str) {
            let same_host = if *kind == "unix" {
                want_host == host
            } else {
                want_host.eq_ignore_ascii_case(host)
            };
            if !same_host {
                return Err(mismatch("host"));
            }
        }
        if let Some(want_port) = want.get("port").and_then(Value::as_u64) {
            if Some(want_port) != port.map(u64::from) {
                return Err(mismatch("port"));
            }
        }
    }
    Ok(())
}

/// The connection-string suite's host types: "ipv4", "ip_literal", "hostname", "unix".
fn describe(address: &ServerAddress) -> (&'static str, String, Option<u16>) {
    match address {
        ServerAddress::Unix { path } => ("unix", path.to_string(), None),
        ServerAddress::Tcp { host, port } => {
            let kind = if host.contains(':') {
                "ip_literal"
            } else if host.parse::<Ipv4Addr>().is_ok() {
                "ipv4"
            } else {
                "hostname"
            };
            (kind, host.to_string(), Some(*port))
        }
    }
}

fn check_auth(parsed: &ConnectionString, auth: &Value) -> Result<(), String> {
    let credential = parsed.credential();
    let username = credential.as_ref().and_then(|c| c.username.as_deref());
    let password = credential
        .as_ref()
        .and_then(|c| c.password.as_ref())
        .map(|p| p.expose());
    for (field, actual) in [
        ("username", username),
        ("password", password),
        ("db", parsed.default_database()),
    ] {
        match auth.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(want)) if Some(want.as_str()) == actual => {}
            // Never print the actual password, even in a test failure.
            Some(_) => return Err(format!("auth {field} differs")),
        }
    }
    Ok(())
}

/// Option names compare case-insensitively; values compare by their JSON type.
pub fn check_option(parsed: &ConnectionString, name: &str, expected: &Value) -> Result<(), String> {
    let actual = parsed.option(name);
    let same = match (expected, actual) {
        (Value::Bool(want), Some(OptionValue::Bool(got))) => want == got,
        (Value::Number(want), Some(OptionValue::Int(got))) => want.as_i64() == Some(*got),
        (Value::String(want), Some(OptionValue::String(got))) => want == got,
        (Value::String(want), Some(OptionValue::Secret(got))) => want == got.expose(),
        (Value::Array(want), Some(OptionValue::List(got))) => {
            want.len() == got.len()
                && want
                    .iter()
                    .zip(got)
                    .all(|(w, g)| w.as_str() == Some(g.as_str()))
        }
        (Value::Array(want), Some(OptionValue::TagSets(got))) => {
            want.len() == got.len()
                && want.iter().zip(got).all(|(w, g)| {
                    w.as_object().is_some_and(|w| {
                        w.len() == g.len()
                            && w.iter()
                                .all(|(k, v)| v.as_str() == g.get(k).map(String::as_str))
                    })
                })
        }
        // Property values are strings in a URI; the suites write some as JSON booleans
        // or numbers (e.g. CANONICALIZE_HOST_NAME: true), compared by their text.
        (Value::Object(want), Some(OptionValue::Properties(got))) => {
            want.len() == got.iter().count()
                && want.iter().all(|(k, v)| {
                    let text = match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Bool(_) | Value::Number(_) => Some(v.to_string()),
                        _ => None,
                    };
                    text.is_some() && text.as_deref() == got.get(k)
                })
        }
        _ => false,
    };
    if same {
        Ok(())
    } else {
        Err(format!(
            "option {name}: expected {expected}, got {actual:?}"
        ))
    }
}
