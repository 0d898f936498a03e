//! A finding: what a rule concluded, with the evidence and the fix.

use std::fmt;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing; nothing fails.
    Info,
    /// Something will fail in some situation, or is slower or riskier than it needs to be.
    Warning,
    /// The application will fail (now, or at the first failover) with this connection
    /// string.
    Error,
}

impl Severity {
    /// The severity's name: `info`, `warning` or `error`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One finding of one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule's stable id, `family.name` (see docs/doctor.md).
    pub rule: &'static str,
    /// How bad it is.
    pub severity: Severity,
    /// The servers involved (`host:port`), possibly none.
    pub servers: Vec<String>,
    /// What was observed.
    pub evidence: String,
    /// What it means for the application.
    pub consequence: String,
    /// What to change.
    pub fix: String,
}

impl Finding {
    /// A finding of `rule` with no servers yet.
    pub fn new(
        rule: &'static str,
        severity: Severity,
        evidence: impl Into<String>,
        consequence: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            rule,
            severity,
            servers: Vec::new(),
            evidence: evidence.into(),
            consequence: consequence.into(),
            fix: fix.into(),
        }
    }

    /// The same finding naming `servers`.
    pub fn servers<I, S>(mut self, servers: I) -> Finding
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        self.servers = servers.into_iter().map(|s| s.to_string()).collect();
        self
    }
}
