//! A verdict for people (lines) and for programs (one JSON object).

use serde_json::{json, Value};

use super::{Intent, Verdict};

/// The verdict as lines for people (not yet passed through `display_untrusted`: evidence may
/// quote servers): `write: proven on A (RSPrimary) in 3 ms: …`, or
/// `write: FAILS (not writable) on A (RSSecondary): …`, then the note, if any, as
/// `  consequence: …`.
pub fn text(verdict: &Verdict) -> Vec<String> {
    let on = match (&verdict.server, verdict.server_type) {
        (Some(address), Some(server_type)) => format!(" on {address} ({server_type})"),
        (Some(address), None) => format!(" on {address}"),
        _ => String::new(),
    };
    let outcome = match (&verdict.cause, verdict.passed) {
        (_, true) => "proven".to_string(),
        (Some(cause), false) => format!("FAILS ({cause})"),
        (None, false) => "FAILS".to_string(),
    };
    let mut lines = vec![format!(
        "{}: {outcome}{on} in {} ms: {}",
        verdict.intent.label(),
        verdict.elapsed.as_millis(),
        verdict.evidence.join("; ")
    )];
    if let Some(note) = &verdict.note {
        lines.push(format!("  consequence: {note}"));
    }
    lines
}

/// The verdict as one JSON object: `intent`, `read_preference` (reads), `passed`, `server`,
/// `server_type`, `cause` (stable name, or null), `cause_text`, `evidence`, `note`,
/// `elapsed_ms`.
pub fn json(verdict: &Verdict) -> Value {
    let (intent, read_preference) = match &verdict.intent {
        Intent::Read(read_preference) => ("read", Some(read_preference.to_string())),
        Intent::Write => ("write", None),
    };
    json!({
        "intent": intent,
        "read_preference": read_preference,
        "passed": verdict.passed,
        "server": verdict.server.as_ref().map(ToString::to_string),
        "server_type": verdict.server_type.map(|server_type| server_type.to_string()),
        "cause": verdict.cause.as_ref().map(|cause| cause.name()),
        "cause_text": verdict.cause.as_ref().map(ToString::to_string),
        "evidence": verdict.evidence,
        "note": verdict.note,
        "elapsed_ms": u64::try_from(verdict.elapsed.as_millis()).unwrap_or(u64::MAX),
    })
}
