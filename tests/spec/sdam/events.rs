//! Comparing the SDAM events of monitoring tests with the published [`SdamEvent`]s.

use mongo_topology::sdam::{SdamEvent, ServerDescription, TopologyDescription};
use serde_json::Value;

use super::{address, expect};

pub fn check_events(expected: &Value, actual: &[SdamEvent]) -> Result<(), String> {
    let expected = expected.as_array().ok_or("events is not an array")?;
    let names: Vec<&str> = actual.iter().map(event_name).collect();
    if expected.len() != actual.len() {
        return Err(format!(
            "expected {} events, got {}: {names:?}",
            expected.len(),
            actual.len()
        ));
    }
    for (index, (expected, actual)) in expected.iter().zip(actual).enumerate() {
        check_event(expected, actual)
            .map_err(|e| format!("event {index}: {e}; events: {names:?}"))?;
    }
    Ok(())
}

fn event_name(event: &SdamEvent) -> &'static str {
    match event {
        SdamEvent::TopologyOpening => "topology_opening_event",
        SdamEvent::ServerOpening { .. } => "server_opening_event",
        SdamEvent::ServerDescriptionChanged { .. } => "server_description_changed_event",
        SdamEvent::TopologyDescriptionChanged { .. } => "topology_description_changed_event",
        SdamEvent::ServerClosed { .. } => "server_closed_event",
        SdamEvent::TopologyClosed => "topology_closed_event",
        _ => "an event the spec tests do not know",
    }
}

fn check_event(expected: &Value, actual: &SdamEvent) -> Result<(), String> {
    let (kind, body) = expected
        .as_object()
        .and_then(|map| map.iter().next())
        .ok_or("event is not a one-key object")?;
    expect("event", kind.as_str(), event_name(actual))?;
    match actual {
        SdamEvent::ServerOpening { address } | SdamEvent::ServerClosed { address, .. } => expect(
            "address",
            body.get("address").and_then(Value::as_str),
            Some(address.to_string().as_str()),
        ),
        SdamEvent::ServerDescriptionChanged {
            address,
            previous,
            new,
        } => {
            expect(
                "address",
                body.get("address").and_then(Value::as_str),
                Some(address.to_string().as_str()),
            )?;
            check_event_server(body.get("previousDescription"), previous)
                .map_err(|e| format!("previous: {e}"))?;
            check_event_server(body.get("newDescription"), new).map_err(|e| format!("new: {e}"))
        }
        SdamEvent::TopologyDescriptionChanged { previous, new } => {
            check_event_topology(body.get("previousDescription"), previous)
                .map_err(|e| format!("previous: {e}"))?;
            check_event_topology(body.get("newDescription"), new).map_err(|e| format!("new: {e}"))
        }
        _ => Ok(()),
    }
}

fn check_event_topology(
    expected: Option<&Value>,
    actual: &TopologyDescription,
) -> Result<(), String> {
    let expected = expected.ok_or("missing description")?;
    if let Some(kind) = expected.get("topologyType").and_then(Value::as_str) {
        expect("topologyType", kind, actual.topology_type.spec_name())?;
    }
    if let Some(name) = expected.get("setName") {
        expect("setName", name.as_str(), actual.set_name.as_deref())?;
    }
    let servers = expected
        .get("servers")
        .and_then(Value::as_array)
        .ok_or("no servers")?;
    expect("server count", servers.len(), actual.servers.len())?;
    for server in servers {
        let address = address(server.get("address").ok_or("server without address")?)?;
        let description = actual
            .server(&address)
            .ok_or_else(|| format!("server {address} missing"))?;
        check_event_server(Some(server), description)
            .map_err(|e| format!("server {address}: {e}"))?;
    }
    Ok(())
}

fn check_event_server(expected: Option<&Value>, actual: &ServerDescription) -> Result<(), String> {
    let expected = expected.ok_or("missing description")?;
    if let Some(text) = expected.get("address").and_then(Value::as_str) {
        expect("address", text.to_string(), actual.address.to_string())?;
    }
    if let Some(kind) = expected.get("type").and_then(Value::as_str) {
        expect("type", kind, actual.server_type.spec_name())?;
    }
    if let Some(name) = expected.get("setName") {
        expect("setName", name.as_str(), actual.set_name.as_deref())?;
    }
    if let Some(primary) = expected.get("primary") {
        expect(
            "primary",
            primary.as_str().map(str::to_string),
            actual.primary.as_ref().map(|p| p.to_string()),
        )?;
    }
    let lists = [
        ("hosts", &actual.hosts),
        ("passives", &actual.passives),
        ("arbiters", &actual.arbiters),
    ];
    for (field, members) in lists {
        if let Some(list) = expected.get(field).and_then(Value::as_array) {
            let mut want: Vec<String> = list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            want.sort();
            let mut have: Vec<String> = members.iter().map(|a| a.to_string()).collect();
            have.sort();
            expect(field, want, have)?;
        }
    }
    Ok(())
}
