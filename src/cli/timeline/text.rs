//! The timeline as text: one block per incident, one line per stage (when, how long since
//! the previous stage, what), then what bounds it and what would shorten it. Every string
//! from the recording (addresses come from servers) goes through `display_untrusted`.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use mongo_topology::recording::timeline::human_duration;
use mongo_topology::recording::{Bound, Incident, RecordedSettings, Stage, Timeline};

use crate::cli::untrusted::{display_untrusted, CELL_CHARS, LINE_CHARS};
use crate::cli::watch::rfc3339;

/// `+12.345 s` since the recording's start.
pub(crate) fn offset(micros: u64) -> String {
    let millis = micros / 1_000;
    format!("+{}.{:03} s", millis / 1_000, millis % 1_000)
}

/// A bound with its value from the recording's header: `heartbeatFrequencyMS=10000`.
pub(crate) fn bound_text(bound: Bound, settings: &RecordedSettings) -> String {
    match (bound, bound.value_ms(settings)) {
        (Bound::Election | Bound::Immediate, _) => bound.name().to_owned(),
        (_, Some(ms)) => format!("{}={ms}", bound.name()),
        (_, None) => format!("{} (not set)", bound.name()),
    }
}

/// The whole timeline as text (ends with a newline).
pub(crate) fn timeline_text(timeline: &Timeline) -> String {
    let mut out = String::new();
    let servers = timeline.lanes.len();
    let _ = writeln!(
        out,
        "Timeline: {} incident(s), {servers} server(s), {} recorded{}",
        timeline.incidents.len(),
        human_duration(timeline.end_us),
        timeline
            .started_wall_us
            .map(|wall| format!(" from {}", rfc3339(wall_time(wall))))
            .unwrap_or_default()
    );
    let _ = writeln!(out, "Settings: {}", settings_text(&timeline.settings));
    if timeline.incidents.is_empty() {
        let _ = writeln!(out, "No incident: the client never lost a primary it had.");
    }
    for (number, incident) in timeline.incidents.iter().enumerate() {
        out.push('\n');
        incident_text(&mut out, number + 1, incident, timeline);
    }
    out
}

fn wall_time(micros: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_micros(micros)
}

fn settings_text(settings: &RecordedSettings) -> String {
    let bounds = [
        Bound::HeartbeatFrequency,
        Bound::MinHeartbeatFrequency,
        Bound::ConnectTimeout,
        Bound::SocketTimeout,
        Bound::ServerSelectionTimeout,
    ];
    let mut parts: Vec<String> = bounds.iter().map(|b| bound_text(*b, settings)).collect();
    if let Some(mode) = &settings.server_monitoring_mode {
        parts.push(format!(
            "serverMonitoringMode={}",
            display_untrusted(mode, CELL_CHARS)
        ));
    }
    parts.join(", ")
}

fn incident_text(out: &mut String, number: usize, incident: &Incident, timeline: &Timeline) {
    let old = display_untrusted(&incident.old_primary, CELL_CHARS);
    let outcome = match &incident.new_primary {
        Some(new) => format!(
            "new primary {} after {} without a primary",
            display_untrusted(new, CELL_CHARS),
            human_duration(incident.without_primary_us)
        ),
        None => format!(
            "no new primary within the recording ({} without a primary until its end)",
            human_duration(incident.without_primary_us)
        ),
    };
    let _ = writeln!(
        out,
        "Incident {number}: primary {old} lost at {}; {outcome}",
        offset(incident.lost_at_us)
    );
    for stage in &incident.stages {
        stage_text(out, stage, &timeline.settings);
    }
}

fn stage_text(out: &mut String, stage: &Stage, settings: &RecordedSettings) {
    let when = stage.at_us.map_or_else(|| "-".to_owned(), offset);
    let took = stage
        .duration_us
        .map_or_else(String::new, |d| format!("+{}", human_duration(d)));
    let _ = writeln!(
        out,
        "  {when:>12}  {took:>11}  {}: {}",
        stage.kind.title(),
        display_untrusted(&stage.detail, LINE_CHARS)
    );
    if !stage.happened() {
        return;
    }
    if !stage.bounds.is_empty() {
        let bounds: Vec<String> = stage
            .bounds
            .iter()
            .map(|b| bound_text(*b, settings))
            .collect();
        let _ = writeln!(out, "{:29}bounded by: {}", "", bounds.join(" + "));
    }
    if !stage.shorten.is_empty() {
        let _ = writeln!(out, "{:29}to shorten: {}", "", stage.shorten);
    }
}
