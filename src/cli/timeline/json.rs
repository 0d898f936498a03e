//! The timeline as one JSON document (`timeline --json`; a line of it at the end of
//! `watch --json --record`). Field names are stable: see docs/timeline.md.

use mongo_topology::recording::{Bound, Incident, Lane, RecordedSettings, Stage, Timeline};
use serde_json::{json, Value};

/// The timeline as a JSON value.
pub(crate) fn timeline_json(timeline: &Timeline) -> Value {
    let settings = &timeline.settings;
    json!({
        "format": "mongo-topology-timeline",
        "version": 1,
        "started_wall_us": timeline.started_wall_us,
        "end_us": timeline.end_us,
        "settings": {
            "heartbeatFrequencyMS": settings.heartbeat_frequency_ms,
            "minHeartbeatFrequencyMS": settings.min_heartbeat_frequency_ms,
            "connectTimeoutMS": settings.connect_timeout_ms,
            "socketTimeoutMS": settings.socket_timeout_ms,
            "serverSelectionTimeoutMS": settings.server_selection_timeout_ms,
            "serverMonitoringMode": settings.server_monitoring_mode,
            "replicaSet": settings.replica_set,
        },
        "incidents": timeline.incidents.iter().map(|i| incident_json(i, settings)).collect::<Vec<_>>(),
        "lanes": timeline.lanes.iter().map(lane_json).collect::<Vec<_>>(),
    })
}

fn incident_json(incident: &Incident, settings: &RecordedSettings) -> Value {
    json!({
        "old_primary": incident.old_primary,
        "new_primary": incident.new_primary,
        "lost_at_us": incident.lost_at_us,
        "without_primary_us": incident.without_primary_us,
        "stages": incident.stages.iter().map(|s| stage_json(s, settings)).collect::<Vec<_>>(),
    })
}

fn stage_json(stage: &Stage, settings: &RecordedSettings) -> Value {
    json!({
        "stage": stage.kind.id(),
        "title": stage.kind.title(),
        "happened": stage.happened(),
        "at_us": stage.at_us,
        "duration_us": stage.duration_us,
        "address": stage.address,
        "detail": stage.detail,
        "bounds": stage.bounds.iter().map(|b| bound_json(*b, settings)).collect::<Vec<_>>(),
        "shorten": stage.shorten,
    })
}

fn bound_json(bound: Bound, settings: &RecordedSettings) -> Value {
    json!({
        "id": bound.id(),
        "setting": bound.name(),
        "value_ms": bound.value_ms(settings),
    })
}

fn lane_json(lane: &Lane) -> Value {
    json!({
        "address": lane.address,
        "spans": lane.spans.iter().map(|s| json!({
            "from_us": s.from_us, "to_us": s.to_us, "type": s.server_type,
        })).collect::<Vec<_>>(),
        "failed_checks": lane.failed_checks.iter().map(|f| json!({
            "at_us": f.at_us, "duration_us": f.duration_us, "cause": f.cause,
        })).collect::<Vec<_>>(),
    })
}
