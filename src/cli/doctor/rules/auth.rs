//! Authentication: credentials refused, a mechanism the server does not offer for the user,
//! and a user the server does not know in the authentication database.

use crate::cli::doctor::finding::{Finding, Severity};
use crate::cli::doctor::observations::{FailureClass, Observations, ProofFailure};

/// Authentication failed.
pub const FAILED: &str = "auth.failed";
/// The server requires authentication and the connection string has no credentials.
pub const REQUIRED: &str = "auth.required";
/// `authMechanism` is not among the user's mechanisms.
pub const MECHANISM_NOT_OFFERED: &str = "auth.mechanism-not-offered";
/// The user is unknown in the authentication database.
pub const USER_NOT_IN_SOURCE: &str = "auth.user-not-in-source";

/// The user and database authenticated against, `user@db`, and the mechanism.
fn who(observations: &Observations) -> Option<(String, String, String)> {
    let credential = observations.uri.credential()?;
    let user = credential.username.clone().unwrap_or_default();
    let source = credential
        .source
        .clone()
        .unwrap_or_else(|| "admin".to_owned());
    let mechanism = credential
        .mechanism
        .clone()
        .unwrap_or_else(|| "negotiated (SCRAM)".to_owned());
    Some((user, source, mechanism))
}

/// The first verdict that failed for authentication, with the servers it names.
fn authentication_failure(observations: &Observations) -> Option<(&ProofFailure, Vec<String>)> {
    let proof = observations.proof.as_ref()?;
    let failure = [&proof.read, &proof.write].into_iter().find_map(|r| {
        r.as_ref()
            .err()
            .filter(|f| f.class == FailureClass::Authentication)
    })?;
    let servers = failure.address.iter().map(ToString::to_string).collect();
    Some((failure, servers))
}

/// `auth.failed`: the proof's authentication failed.
pub fn failed(observations: &Observations) -> Vec<Finding> {
    let Some((user, source, mechanism)) = who(observations) else {
        return Vec::new();
    };
    let Some((failure, servers)) = authentication_failure(observations) else {
        return Vec::new();
    };
    vec![Finding::new(
        FAILED,
        Severity::Error,
        format!(
            "authentication as {user:?} in database {source:?} with {mechanism} failed: {}",
            failure.message
        ),
        "every connection the application opens fails: no operation runs",
        "check the user name and password (percent-encode @ : / ? # [ ] in them), and \
         authSource: the database the user was created in (usually admin)",
    )
    .servers(servers)]
}

/// `auth.required`: without credentials the proof's connection opened and `ping` answered,
/// but an operation on data was refused with Unauthorized.
pub fn required(observations: &Observations) -> Vec<Finding> {
    if observations.uri.credential().is_some() {
        return Vec::new();
    }
    let Some((failure, servers)) = authentication_failure(observations) else {
        return Vec::new();
    };
    vec![Finding::new(
        REQUIRED,
        Severity::Error,
        format!(
            "the server requires authentication and the connection string has no credentials: {}",
            failure.message
        ),
        "connections open and ping answers, so the application starts; then every find, \
         insert or aggregate fails with Unauthorized (13)",
        "add the user and password to the connection string \
         (mongodb://USER:PASSWORD@HOST/?authSource=admin, percent-encoding @ : / ? # [ ] in them), \
         or give them with --uri-file to keep them out of the process list",
    )
    .servers(servers)]
}

/// The `saslSupportedMechs` the servers answered for the user, if any server did.
fn offered(observations: &Observations) -> Option<Vec<String>> {
    observations.hellos().find_map(|(_, hello)| {
        let mechanisms = hello.get_array("saslSupportedMechs").ok()?;
        Some(
            mechanisms
                .iter()
                .filter_map(|m| m.as_str().map(str::to_owned))
                .collect(),
        )
    })
}

/// `auth.mechanism-not-offered`: `authMechanism` is a SCRAM mechanism the server does not
/// have for this user.
pub fn mechanism_not_offered(observations: &Observations) -> Vec<Finding> {
    let Some(mechanism) = observations.uri.auth_mechanism() else {
        return Vec::new();
    };
    if !mechanism.starts_with("SCRAM-") {
        return Vec::new();
    }
    let Some((user, source, _)) = who(observations) else {
        return Vec::new();
    };
    let Some(offered) = offered(observations) else {
        return Vec::new();
    };
    if offered.iter().any(|m| m == mechanism) {
        return Vec::new();
    }
    vec![Finding::new(
        MECHANISM_NOT_OFFERED,
        Severity::Error,
        format!(
            "authMechanism={mechanism}, and the server offers {:?} only {} (saslSupportedMechs)",
            format!("{source}.{user}"),
            if offered.is_empty() {
                "nothing".to_owned()
            } else {
                offered.join(", ")
            }
        ),
        "authentication fails on every connection",
        match offered.first() {
            Some(first) => {
                format!("use authMechanism={first}, or remove authMechanism to negotiate")
            }
            None => "create the user's credentials for this mechanism".to_owned(),
        },
    )]
}

/// `auth.user-not-in-source`: the servers answered `saslSupportedMechs` for
/// `authSource.user` with nothing: the user is not known in that database.
pub fn user_not_in_source(observations: &Observations) -> Vec<Finding> {
    let Some((user, source, mechanism)) = who(observations) else {
        return Vec::new();
    };
    if user.is_empty() || !(mechanism.starts_with("SCRAM-") || mechanism.starts_with("negotiated"))
    {
        return Vec::new();
    }
    let answered = observations.hellos().count();
    if answered == 0 || offered(observations).is_some_and(|m| !m.is_empty()) {
        return Vec::new();
    }
    let auth_failed = observations.proof.as_ref().is_some_and(|p| {
        [&p.read, &p.write]
            .into_iter()
            .any(|r| matches!(r, Err(f) if f.class == FailureClass::Authentication))
    });
    if !auth_failed {
        return Vec::new();
    }
    vec![Finding::new(
        USER_NOT_IN_SOURCE,
        Severity::Warning,
        format!(
            "asked for the mechanisms of {source}.{user} (saslSupportedMechs): the servers \
             know none, so no user {user:?} exists in database {source:?}; whether it exists \
             in another database cannot be checked without logging in there"
        ),
        "authentication fails on every connection",
        format!(
            "set authSource to the database the user was created in (tried {source:?}; \
             users are usually in admin), or create the user in {source:?}"
        ),
    )]
}

#[cfg(test)]
mod tests {
    use mongo_topology::bson::doc;

    use super::super::fixtures::{healthy_set, member, with_hello};
    use super::*;
    use crate::cli::doctor::observations::{Proof, ProofFailure};

    fn auth_failure() -> Proof {
        let failure = ProofFailure {
            class: FailureClass::Authentication,
            address: Some(super::super::fixtures::addr("a:27017")),
            message: "Authentication failed.".into(),
        };
        Proof {
            read: Err(failure.clone()),
            write: Err(failure),
        }
    }

    #[test]
    fn refused_credentials_are_an_error_without_the_password() {
        let mut observations = healthy_set("mongodb://app:s3cret@a/?replicaSet=rs0");
        assert!(failed(&observations).is_empty());
        observations.proof = Some(auth_failure());
        let findings = failed(&observations);
        assert_eq!(findings[0].severity, Severity::Error);
        assert!(findings[0].evidence.contains("\"app\""));
        assert!(!format!("{findings:?}").contains("s3cret"));
        assert!(failed(&healthy_set("mongodb://a/?replicaSet=rs0")).is_empty());
    }

    #[test]
    fn a_mechanism_not_offered() {
        let mut observations =
            healthy_set("mongodb://app:pw@a/?replicaSet=rs0&authMechanism=SCRAM-SHA-256");
        assert!(mechanism_not_offered(&observations).is_empty());
        let mut hello = member("a:27017", true);
        hello.insert("saslSupportedMechs", vec!["SCRAM-SHA-1"]);
        with_hello(&mut observations, "a:27017", hello.clone());
        let findings = mechanism_not_offered(&observations);
        assert!(findings[0].evidence.contains("SCRAM-SHA-1"), "{findings:?}");
        hello.insert("saslSupportedMechs", vec!["SCRAM-SHA-1", "SCRAM-SHA-256"]);
        with_hello(&mut observations, "a:27017", hello);
        assert!(mechanism_not_offered(&observations).is_empty());
    }

    #[test]
    fn a_user_unknown_in_the_auth_source() {
        let mut observations = healthy_set("mongodb://app:pw@a/?replicaSet=rs0&authSource=app");
        observations.proof = Some(auth_failure());
        let findings = user_not_in_source(&observations);
        assert!(findings[0].fix.contains("tried \"app\""), "{findings:?}");
        let mut hello = member("a:27017", true);
        hello.insert("saslSupportedMechs", vec!["SCRAM-SHA-256"]);
        with_hello(&mut observations, "a:27017", hello);
        assert!(user_not_in_source(&observations).is_empty());
        let _ = doc! {};
    }
}
