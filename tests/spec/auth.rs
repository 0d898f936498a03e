//! Spec runner for the Authentication spec's connection-string cases
//! (`auth/tests/legacy/connection-string.json`, format in auth/tests/README.md).
//!
//! A URI is valid when it parses and its credential resolves
//! ([`MongoCredential::from_connection_string`]): the spec wants errors "as early as
//! possible", i.e. when the client is built. Every mechanism is resolved and validated,
//! including those the engine cannot carry out yet (GSSAPI, MONGODB-AWS, MONGODB-OIDC,
//! PLAIN, MONGODB-X509).
//!
//! One case is skipped, with its reason in [`SKIPPED`]: the file contradicts itself on
//! MONGODB-AWS credentials in the URI (the spec's 2025-09-30 change removed them, but only
//! some of the file's cases and not the "MongoCredential Properties" text were updated).

use std::path::Path;

use mongo_topology::auth::MongoCredential;
use mongo_topology::options::ConnectionString;
use serde_json::Value;

use crate::harness::{run_described_tests, Case, Outcome};

/// Cases not run, by description, with the reason.
const SKIPPED: &[(&str, &str)] = &[(
    "should throw an exception if username and password provided (MONGODB-AWS)",
    "contradicts the case \"should use username and password if specified (MONGODB-AWS)\", \
     whose URI differs only by the host name; the spec's MONGODB-AWS \"MongoCredential \
     Properties\" still say username and password MAY be specified, which is what runs here",
)];

pub fn run_file(_path: &Path, json: &Value) -> Vec<Case> {
    run_described_tests(json, |name, test| {
        match SKIPPED.iter().find(|(skipped, _)| *skipped == name) {
            Some((_, reason)) => Case::new(name, Outcome::Skipped((*reason).to_owned())),
            None => Case::from_result(name, run_case(test)),
        }
    })
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
    let resolved = ConnectionString::parse(uri)
        .map_err(|e| e.to_string())
        .and_then(|parsed| {
            MongoCredential::from_connection_string(&parsed).map_err(|e| e.to_string())
        });
    let credential = match (resolved, valid) {
        (Err(_), false) => return Ok(()),
        (Ok(credential), false) => return Err(format!("expected an error, got {credential:?}")),
        (Err(error), true) => return Err(format!("expected success, got error: {error}")),
        (Ok(credential), true) => credential,
    };
    match (test.get("credential"), credential) {
        (None, _) => Ok(()),
        (Some(Value::Null), None) => Ok(()),
        (Some(Value::Null), Some(found)) => Err(format!("expected no credential, got {found:?}")),
        (Some(_), None) => Err("expected a credential, got none".to_owned()),
        (Some(expected), Some(found)) => check_credential(expected, &found),
    }
}

fn check_credential(expected: &Value, found: &MongoCredential) -> Result<(), String> {
    let same = |field: &str, got: Option<&str>| -> Result<(), String> {
        match expected.get(field) {
            None => Ok(()),
            Some(Value::Null) if got.is_none() => Ok(()),
            Some(Value::String(want)) if got == Some(want.as_str()) => Ok(()),
            Some(want) => Err(format!("{field}: expected {want}, got {got:?}")),
        }
    };
    same("username", found.username.as_deref())?;
    same(
        "password",
        found.password.as_ref().map(|secret| secret.expose()),
    )?;
    same("source", Some(found.source.as_str()))?;
    same("mechanism", found.mechanism.map(|m| m.name()))?;
    match expected.get("mechanism_properties") {
        None => Ok(()),
        Some(Value::Null) if found.mechanism_properties.is_empty() => Ok(()),
        Some(Value::Object(want)) => {
            for (key, value) in want {
                let got = found
                    .mechanism_properties
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v);
                if value.as_str() != got {
                    return Err(format!(
                        "mechanism_properties.{key}: expected {value}, got {got:?}"
                    ));
                }
            }
            Ok(())
        }
        Some(want) => Err(format!(
            "mechanism_properties: expected {want}, got {:?}",
            found.mechanism_properties
        )),
    }
}
