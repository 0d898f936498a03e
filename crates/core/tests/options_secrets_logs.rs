//! Secrets from a connection string never appear in logs.
//!
//! Alone in its test binary: `tracing` caches per callsite whether anyone listens, and a
//! test on another thread meeting the same warning before this test's subscriber exists
//! could make it miss the line.

mod options_secrets_support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use mongo_topology_core::options::ConnectionString;
use options_secrets_support::{assert_no_secret, FULL};

/// A writer shared with the test, capturing everything the subscriber logs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn logs_do_not_contain_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let uri = format!(
            "{FULL}&unknownOption=typo_secret&authMechanismProperties=A:tokpart55,tokpart55"
        );
        let parsed = ConnectionString::parse(&uri).unwrap();
        assert!(!parsed.warnings().is_empty());
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("unknownOption"),
        "the warning was logged: {logs}"
    );
    assert_no_secret("logs", &logs);
}
