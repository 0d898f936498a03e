//! The report: plain text (every observed text through `display_untrusted`) or one JSON
//! object with a `findings` array.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::finding::{Finding, Severity};
use super::observations::{Observations, ProofFailure, ProvenServer};
use crate::cli::untrusted::{display_untrusted, LINE_CHARS};

/// One line of untrusted text.
fn clean(text: &str) -> String {
    display_untrusted(text, LINE_CHARS).into_owned()
}

fn verdict_text(verdict: &Result<ProvenServer, ProofFailure>) -> String {
    match verdict {
        Ok(server) => {
            let service = server
                .service_id
                .map(|id| format!(", serviceId {}", id.to_hex()))
                .unwrap_or_default();
            format!(
                "works (proven on {}, {}{service})",
                server.address, server.server_type
            )
        }
        Err(failure) => format!("FAILS ({}): {}", failure.class.name(), failure.message),
    }
}

fn counts(findings: &[Finding]) -> (usize, usize, usize) {
    let count = |severity| findings.iter().filter(|f| f.severity == severity).count();
    (
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info),
    )
}

/// The plain-text report.
pub fn text(observations: &Observations, findings: &[Finding]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "connection string: {}",
        clean(&observations.uri.to_string())
    );
    if let Some(topology) = &observations.topology {
        let _ = writeln!(
            out,
            "discovery: {}, {} server(s), {} in {} ms",
            topology.topology_type,
            topology.servers.len(),
            if observations.discovery_complete {
                "every server checked"
            } else {
                "NOT every server checked"
            },
            observations.discovery_elapsed.as_millis()
        );
    }
    if let Some(proof) = &observations.proof {
        let _ = writeln!(out, "reads:  {}", clean(&verdict_text(&proof.read)));
        let _ = writeln!(out, "writes: {}", clean(&verdict_text(&proof.write)));
    }
    for finding in findings {
        out.push('\n');
        let servers = if finding.servers.is_empty() {
            String::new()
        } else {
            format!("  [{}]", clean(&finding.servers.join(", ")))
        };
        let _ = writeln!(
            out,
            "{:<7} {}{servers}",
            finding.severity.name().to_uppercase(),
            finding.rule
        );
        let _ = writeln!(out, "  seen:   {}", clean(&finding.evidence));
        let _ = writeln!(out, "  means:  {}", clean(&finding.consequence));
        let _ = writeln!(out, "  fix:    {}", clean(&finding.fix));
    }
    let (errors, warnings, infos) = counts(findings);
    let _ = writeln!(
        out,
        "\n{errors} error(s), {warnings} warning(s), {infos} note(s); each rule is explained in docs/doctor.md"
    );
    out
}

fn verdict_json(verdict: &Result<ProvenServer, ProofFailure>) -> Value {
    match verdict {
        Ok(server) => json!({
            "ok": true,
            "server": server.address.to_string(),
            "server_type": server.server_type.to_string(),
            "service_id": server.service_id.map(|id| id.to_hex()),
        }),
        Err(failure) => json!({
            "ok": false,
            "class": failure.class.name(),
            "server": failure.address.as_ref().map(ToString::to_string),
            "error": failure.message,
        }),
    }
}

/// The JSON report: one object.
pub fn json(observations: &Observations, findings: &[Finding]) -> Value {
    let (errors, warnings, infos) = counts(findings);
    let topology = observations.topology.as_ref();
    json!({
        "connection_string": observations.uri.to_string(),
        "topology_type": topology.map(|t| t.topology_type.to_string()),
        "servers": topology.map(|t| t.servers.keys().map(ToString::to_string).collect::<Vec<_>>()),
        "discovery_complete": observations.discovery_complete,
        "elapsed_ms": u64::try_from(observations.discovery_elapsed.as_millis()).unwrap_or(u64::MAX),
        "total_ms": u64::try_from(observations.total_elapsed.as_millis()).unwrap_or(u64::MAX),
        "verdicts": observations.proof.as_ref().map(|proof| json!({
            "read": verdict_json(&proof.read),
            "write": verdict_json(&proof.write),
        })),
        "counts": { "error": errors, "warning": warnings, "info": infos },
        "findings": findings.iter().map(|finding| json!({
            "rule": finding.rule,
            "severity": finding.severity.name(),
            "servers": finding.servers,
            "evidence": finding.evidence,
            "consequence": finding.consequence,
            "fix": finding.fix,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::doctor::rules::fixtures::healthy_set;

    #[test]
    fn hostile_text_is_escaped_and_json_is_exact() {
        let observations = healthy_set("mongodb://a/?replicaSet=rs0");
        let finding = Finding::new("x.y", Severity::Error, "set \u{1b}[31mred\n", "c", "f")
            .servers(["a:27017"]);
        let text = text(&observations, std::slice::from_ref(&finding));
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("ERROR   x.y  [a:27017]"), "{text}");
        assert!(
            text.contains("1 error(s), 0 warning(s), 0 note(s)"),
            "{text}"
        );
        let value = json(&observations, &[finding]);
        assert_eq!(value["findings"][0]["evidence"], "set \u{1b}[31mred\n");
        assert_eq!(value["findings"][0]["severity"], "error");
        assert_eq!(value["counts"]["error"], 1);
        assert_eq!(value["verdicts"]["write"]["ok"], true);
    }
}
