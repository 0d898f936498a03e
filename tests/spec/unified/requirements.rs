//! `runOnRequirements`: which simulated deployment (topology, server version,
//! authentication) a file or test runs on, or why none fits.

use mongo_topology_sim::versions::{ServerVersion, ALL_VERSIONS};
use serde_json::Value;

/// The topologies the simulator provides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topology {
    Single,
    ReplicaSet,
    Sharded,
    LoadBalanced,
}

impl Topology {
    fn parse(name: &str) -> Option<Topology> {
        match name {
            "single" => Some(Topology::Single),
            "replicaset" => Some(Topology::ReplicaSet),
            "sharded" => Some(Topology::Sharded),
            "load-balanced" => Some(Topology::LoadBalanced),
            // "sharded-replicaset" (shards that are replica sets) is not simulated.
            _ => None,
        }
    }
}

/// A deployment to run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    pub topology: Topology,
    pub version: ServerVersion,
    pub auth: bool,
}

/// "4.4.7" as numbers, padded.
fn version_numbers(text: &str) -> [u64; 3] {
    let mut numbers = [0u64; 3];
    for (slot, part) in numbers.iter_mut().zip(text.split('.')) {
        *slot = part.parse().unwrap_or(0);
    }
    numbers
}

fn satisfies(requirement: &Value, choice: &Choice) -> bool {
    let full = version_numbers(choice.version.full_version());
    if let Some(min) = requirement.get("minServerVersion").and_then(Value::as_str) {
        if full < version_numbers(min) {
            return false;
        }
    }
    if let Some(max) = requirement.get("maxServerVersion").and_then(Value::as_str) {
        if full > version_numbers(max) {
            return false;
        }
    }
    if let Some(topologies) = requirement.get("topologies").and_then(Value::as_array) {
        let listed = topologies
            .iter()
            .filter_map(Value::as_str)
            .filter_map(Topology::parse)
            .any(|t| t == choice.topology);
        if !listed {
            return false;
        }
    }
    if requirement.get("serverless").and_then(Value::as_str) == Some("require") {
        return false;
    }
    if let Some(auth) = requirement.get("auth").and_then(Value::as_bool) {
        if auth != choice.auth {
            return false;
        }
    }
    // Server parameters and client-side encryption are not simulated.
    if requirement.get("serverParameters").is_some() || requirement.get("csfle").is_some() {
        return false;
    }
    if requirement.get("authMechanism").is_some() {
        return false;
    }
    true
}

/// Whether a `runOnRequirements` list (absent: no requirement) accepts `choice`.
fn list_accepts(list: Option<&Value>, choice: &Choice) -> bool {
    match list.and_then(Value::as_array) {
        None => true,
        Some(requirements) if requirements.is_empty() => true,
        Some(requirements) => requirements.iter().any(|r| satisfies(r, choice)),
    }
}

/// The deployment for a test: the first topology its requirements (then its file's) name,
/// on the newest simulated version that fits; `Err` says why none does.
pub fn choose(file: Option<&Value>, test: Option<&Value>) -> Result<Choice, String> {
    let mut topologies = Vec::new();
    for list in [test, file].into_iter().flatten() {
        for requirement in list.as_array().into_iter().flatten() {
            for name in requirement
                .get("topologies")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if let Some(topology) = Topology::parse(name) {
                    if !topologies.contains(&topology) {
                        topologies.push(topology);
                    }
                }
            }
        }
    }
    for topology in [
        Topology::Single,
        Topology::ReplicaSet,
        Topology::Sharded,
        Topology::LoadBalanced,
    ] {
        if !topologies.contains(&topology) {
            topologies.push(topology);
        }
    }
    for topology in topologies {
        for version in ALL_VERSIONS.iter().rev().copied() {
            for auth in [false, true] {
                let choice = Choice {
                    topology,
                    version,
                    auth,
                };
                if list_accepts(file, &choice) && list_accepts(test, &choice) {
                    return Ok(choice);
                }
            }
        }
    }
    Err(
        "no simulated deployment meets runOnRequirements (e.g. serverParameters, \
         csfle or a sharded cluster of replica sets)"
            .to_owned(),
    )
}
