//! Deriving monitoring actions and SDAM events from two successive topology descriptions.

use std::sync::Arc;

use crate::address::ServerAddress;
use crate::sdam::events::{Action, SdamEvent};
use crate::sdam::server::{ServerDescription, ServerType};
use crate::sdam::topology::TopologyDescription;

/// Whether a server's description changed enough to publish ServerDescriptionChanged:
/// SDAM "Server Description Equality", with PossiblePrimary treated as Unknown (it is only a
/// scanning hint; multi-threaded clients treat the two as synonyms).
fn server_changed(before: &Arc<ServerDescription>, after: &Arc<ServerDescription>) -> bool {
    if Arc::ptr_eq(before, after) {
        return false;
    }
    let unknownish = |t: ServerType| matches!(t, ServerType::Unknown | ServerType::PossiblePrimary);
    if unknownish(before.server_type) && unknownish(after.server_type) {
        let normalized = ServerDescription {
            server_type: before.server_type,
            ..ServerDescription::clone(after)
        };
        return !before.is_equivalent(&normalized);
    }
    !before.is_equivalent(after)
}

/// The events and monitoring actions that turn `before` into `after`, in publication order:
/// ServerDescriptionChanged (the checked server first), ServerOpening + StartMonitoring for
/// added servers, StopMonitoring + ServerClosed for removed ones, then
/// TopologyDescriptionChanged. Events share the descriptions' `Arc`s.
pub(crate) fn diff(
    before: &Arc<TopologyDescription>,
    after: &Arc<TopologyDescription>,
    checked: Option<&ServerAddress>,
) -> Vec<Action> {
    let mut actions = Vec::new();
    let mut changed: Vec<&ServerAddress> = after
        .servers
        .iter()
        .filter(|(address, server)| {
            before
                .servers
                .get(*address)
                .is_some_and(|old| server_changed(old, server))
        })
        .map(|(address, _)| address)
        .collect();
    changed.sort_by_key(|address| Some(*address) != checked);
    for address in changed {
        if let (Some(previous), Some(new)) =
            (before.servers.get(address), after.servers.get(address))
        {
            actions.push(Action::Publish(SdamEvent::ServerDescriptionChanged {
                address: address.clone(),
                previous: Arc::clone(previous),
                new: Arc::clone(new),
            }));
        }
    }
    for address in after
        .servers
        .keys()
        .filter(|a| !before.servers.contains_key(*a))
    {
        actions.push(Action::Publish(SdamEvent::ServerOpening {
            address: address.clone(),
        }));
        actions.push(Action::StartMonitoring(address.clone()));
    }
    for address in before
        .servers
        .keys()
        .filter(|a| !after.servers.contains_key(*a))
    {
        actions.push(Action::StopMonitoring(address.clone()));
        actions.push(Action::Publish(SdamEvent::ServerClosed {
            address: address.clone(),
        }));
    }
    if !before.is_equivalent(after) {
        actions.push(Action::Publish(SdamEvent::TopologyDescriptionChanged {
            previous: Arc::clone(before),
            new: Arc::clone(after),
        }));
    }
    actions
}
