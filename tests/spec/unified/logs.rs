//! Log messages for `observeLogMessages` / `expectLogMessages`: a `tracing` layer that keeps
//! the engine's messages of the spec's components (target `mongo_topology::<component>`)
//! with their fields, each attributed to a client by its `topologyId`.

use std::sync::{Mutex, OnceLock};

use bson::{Bson, Document};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// The spec's log components and the engine targets that carry them.
const COMPONENTS: [(&str, &str); 4] = [
    ("topology", "mongo_topology::topology"),
    ("command", "mongo_topology::command"),
    ("connection", "mongo_topology::connection"),
    ("serverSelection", "mongo_topology::server_selection"),
];

/// One captured message.
#[derive(Clone, Debug)]
pub struct LogRecord {
    pub component: &'static str,
    pub level: &'static str,
    pub data: Document,
}

fn records() -> &'static Mutex<Vec<LogRecord>> {
    static RECORDS: OnceLock<Mutex<Vec<LogRecord>>> = OnceLock::new();
    RECORDS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Installs the capturing layer once for the process (the spec runner has no other
/// subscriber).
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let _ = tracing_subscriber::registry().with(Capture).try_init();
    });
}

/// The messages captured so far for the client of topology `topology_id`.
pub fn for_topology(topology_id: &str) -> Vec<LogRecord> {
    records()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|r| r.data.get_str("topologyId").ok() == Some(topology_id))
        .cloned()
        .collect()
}

/// Forgets the messages of a topology (its test is over).
pub fn forget(topology_id: &str) {
    records()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|r| r.data.get_str("topologyId").ok() != Some(topology_id));
}

fn component_of(metadata: &Metadata<'_>) -> Option<&'static str> {
    COMPONENTS
        .iter()
        .find(|(_, target)| metadata.target() == *target)
        .map(|(component, _)| *component)
}

struct Capture;

impl<S: Subscriber> Layer<S> for Capture {
    fn register_callsite(
        &self,
        metadata: &'static Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if component_of(metadata).is_some() {
            tracing::subscriber::Interest::always()
        } else {
            tracing::subscriber::Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        component_of(metadata).is_some()
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let Some(component) = component_of(event.metadata()) else {
            return;
        };
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warn",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        };
        let mut visitor = Fields(Document::new());
        event.record(&mut visitor);
        records()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(LogRecord {
                component,
                level,
                data: visitor.0,
            });
    }
}

struct Fields(Document);

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name(), value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name(), value);
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        let value = i64::try_from(value).map_or(Bson::Double(value as f64), Bson::Int64);
        self.0.insert(field.name(), value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name(), value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name(), format!("{value:?}"));
    }
}

/// The level names in order of severity (the spec's, lowest first).
pub fn severity(level: &str) -> u8 {
    match level {
        "trace" => 0,
        "debug" => 1,
        "info" | "informational" => 2,
        "notice" => 3,
        "warn" | "warning" => 4,
        "error" => 5,
        "critical" => 6,
        "alert" => 7,
        "emergency" => 8,
        _ => 9,
    }
}
