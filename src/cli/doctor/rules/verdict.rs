//! The verdicts proven by doing: nothing reachable, writes that fail, reads that fail (when
//! no more specific rule explains why).

use crate::cli::doctor::finding::{Finding, Severity};
use crate::cli::doctor::observations::{FailureClass, Observations, ProofFailure};

/// No server answered at all.
pub const NOTHING_REACHABLE: &str = "verdict.nothing-reachable";
/// The write verdict failed.
pub const WRITE_FAILS: &str = "verdict.write-fails";
/// The read verdict failed.
pub const READ_FAILS: &str = "verdict.read-fails";

/// Whether a more specific rule explains `failure` (authentication, a direct connection to
/// a non-primary, load-balancer problems, a read preference no member can serve,
/// incompatible servers).
fn explained_elsewhere(observations: &Observations, failure: &ProofFailure, read: bool) -> bool {
    let no_server = failure.class == FailureClass::NoSuitableServer;
    if no_server && !super::wire::incompatible(observations).is_empty() {
        return true;
    }
    if no_server
        && read
        && [
            super::read_preference::tags_match_none as fn(&Observations) -> Vec<Finding>,
            super::read_preference::no_secondary,
            super::read_preference::max_staleness_too_low,
        ]
        .iter()
        .any(|rule| {
            rule(observations)
                .iter()
                .any(|f| f.severity == Severity::Error)
        })
    {
        return true;
    }
    match failure.class {
        FailureClass::Authentication | FailureClass::NotWritable | FailureClass::NoServiceId => {
            true
        }
        FailureClass::Connect | FailureClass::Tls | FailureClass::Other => {
            observations.load_balanced()
        }
        FailureClass::NoSuitableServer => false,
    }
}

/// Whether any server answered hello.
fn anything_answered(observations: &Observations) -> bool {
    observations.hellos().next().is_some()
}

/// `verdict.nothing-reachable`: every probe failed.
pub fn nothing_reachable(observations: &Observations) -> Vec<Finding> {
    if observations.probes.is_empty()
        || anything_answered(observations)
        || observations.load_balanced()
    {
        return Vec::new();
    }
    let each: Vec<String> = observations
        .probes
        .iter()
        .filter(|(address, _)| !observations.tls_explains(address))
        .filter_map(|(address, probe)| {
            let error = probe.hello.as_ref()?.as_ref().err()?;
            Some(format!("{address}: {error}"))
        })
        .collect();
    if each.is_empty() {
        // Every failure is a TLS finding's.
        return Vec::new();
    }
    vec![Finding::new(
        NOTHING_REACHABLE,
        Severity::Error,
        format!("no server answered: {}", each.join("; ")),
        "every operation fails with a server selection timeout",
        "check the host names and ports, that the servers run, and the network path \
         (firewall, VPN, security groups) from this host",
    )
    .servers(observations.probes.keys())]
}

fn verdict_finding(
    observations: &Observations,
    rule: &'static str,
    operation: &str,
    failure: &ProofFailure,
) -> Vec<Finding> {
    if explained_elsewhere(observations, failure, operation == "read")
        || !anything_answered(observations)
    {
        return Vec::new();
    }
    let consequence = match failure.class {
        FailureClass::NoSuitableServer => {
            format!("{operation}s wait serverSelectionTimeoutMS and fail: no server is suitable")
        }
        _ => format!("{operation}s fail: {}", failure.class.name()),
    };
    vec![Finding::new(
        rule,
        Severity::Error,
        format!(
            "a {operation} was tried as the application would and failed: {}",
            failure.message
        ),
        consequence,
        "see the other findings for the cause; without a primary, wait for (or force) an \
         election",
    )
    .servers(failure.address.iter())]
}

/// The safety net run after every rule: a verdict that failed while no rule reported an
/// error is reported as `verdict.write-fails` / `verdict.read-fails`, so that a failed
/// verdict is never an exit status 0.
pub fn unexplained(observations: &Observations, findings: &[Finding]) -> Vec<Finding> {
    if findings.iter().any(|f| f.severity == Severity::Error) {
        return Vec::new();
    }
    let Some(proof) = &observations.proof else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (rule, operation, verdict) in [
        (WRITE_FAILS, "write", &proof.write),
        (READ_FAILS, "read", &proof.read),
    ] {
        if let Err(failure) = verdict {
            out.push(
                Finding::new(
                    rule,
                    Severity::Error,
                    format!(
                        "a {operation} was tried as the application would and failed: {}",
                        failure.message
                    ),
                    format!("{operation}s fail ({})", failure.class.name()),
                    "see the error: no more specific rule recognised the cause",
                )
                .servers(failure.address.iter()),
            );
        }
    }
    out
}

/// `verdict.write-fails`: the write verdict failed for a reason no other rule names.
pub fn write_fails(observations: &Observations) -> Vec<Finding> {
    match observations.proof.as_ref().map(|p| &p.write) {
        Some(Err(failure)) => verdict_finding(observations, WRITE_FAILS, "write", failure),
        _ => Vec::new(),
    }
}

/// `verdict.read-fails`: the read verdict failed for a reason no other rule names.
pub fn read_fails(observations: &Observations) -> Vec<Finding> {
    match observations.proof.as_ref().map(|p| &p.read) {
        Some(Err(failure)) => verdict_finding(observations, READ_FAILS, "read", failure),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{healthy_set, observe, with_failure};
    use super::*;
    use crate::cli::doctor::observations::Proof;

    #[test]
    fn nothing_reachable_names_every_server() {
        let mut observations = observe("mongodb://a,b/");
        assert!(nothing_reachable(&observations).is_empty());
        with_failure(
            &mut observations,
            "a:27017",
            "cannot connect to a:27017: refused",
        );
        with_failure(
            &mut observations,
            "b:27017",
            "cannot connect to b:27017: refused",
        );
        let findings = nothing_reachable(&observations);
        assert_eq!(findings[0].servers, ["a:27017", "b:27017"]);
        assert!(nothing_reachable(&healthy_set("mongodb://a/")).is_empty());
        with_failure(&mut observations, "a:27017", "TLS error: unknown issuer");
        with_failure(&mut observations, "b:27017", "TLS error: unknown issuer");
        assert!(
            nothing_reachable(&observations).is_empty(),
            "the TLS rules explain it"
        );
    }

    #[test]
    fn a_write_without_a_primary() {
        let mut observations = healthy_set("mongodb://a/?replicaSet=rs0");
        assert!(write_fails(&observations).is_empty());
        let failure = ProofFailure {
            class: FailureClass::NoSuitableServer,
            address: None,
            message: "no primary".into(),
        };
        let read = observations.proof.take().map(|p| p.read).unwrap();
        observations.proof = Some(Proof {
            read,
            write: Err(failure.clone()),
        });
        assert_eq!(write_fails(&observations)[0].rule, WRITE_FAILS);
        assert!(read_fails(&observations).is_empty());
        let mut auth = failure;
        auth.class = FailureClass::Authentication;
        observations.proof = Some(Proof {
            read: Err(auth.clone()),
            write: Err(auth),
        });
        assert!(write_fails(&observations).is_empty() && read_fails(&observations).is_empty());
        // A read no member can serve because of its tags is the tags rule's.
        let mut tagged = healthy_set(
            "mongodb://a/?replicaSet=rs0&readPreference=secondary&readPreferenceTags=dc:west",
        );
        let no_server = ProofFailure {
            class: FailureClass::NoSuitableServer,
            address: None,
            message: "no server is suitable".into(),
        };
        tagged.proof = Some(Proof {
            read: Err(no_server.clone()),
            write: Err(no_server),
        });
        assert!(read_fails(&tagged).is_empty());
        assert_eq!(write_fails(&tagged).len(), 1);
        // No rule reported an error: the safety net does.
        let net = unexplained(&observations, &[]);
        assert_eq!(net.len(), 2, "{net:?}");
        assert_eq!(net[0].severity, Severity::Error);
        let error = Finding::new("x.y", Severity::Error, "", "", "");
        assert!(unexplained(&observations, &[error]).is_empty());
        assert!(unexplained(&healthy_set("mongodb://a/"), &[]).is_empty());
    }
}
