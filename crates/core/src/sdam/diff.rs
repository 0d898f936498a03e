//! Deriving monitoring actions and SDAM events from two successive topology descriptions.

use std::sync::Arc;

use imbl::ordmap::DiffItem;

use crate::address::ServerAddress;
use crate::sdam::departures::RemovalReason;
use crate::sdam::events::{Action, SdamEvent};
use crate::sdam::server::{ServerDescription, ServerType};
use crate::sdam::topology::{ServerMap, TopologyDescription};

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

/// Why `address`, in `before` but not in `after`, was removed: every removal records its
/// departure in `after` before the snapshot is published (the transition rules, SRV
/// polling). Should one ever be missing, the event says so rather than guess.
fn removal_reason(after: &TopologyDescription, address: &ServerAddress) -> RemovalReason {
    match after.departures.get(address) {
        Some(departure) => departure.reason.clone(),
        None => {
            debug_assert!(false, "{address} removed without a recorded departure");
            RemovalReason::Unrecorded
        }
    }
}

/// One server's difference between two successive snapshots.
pub(crate) enum ServerChange {
    /// In the new snapshot only.
    Added(ServerAddress, Arc<ServerDescription>),
    /// In both, with different descriptions (not necessarily different per SDAM equality).
    Updated {
        address: ServerAddress,
        previous: Arc<ServerDescription>,
        new: Arc<ServerDescription>,
    },
    /// In the old snapshot only.
    Removed(ServerAddress, Arc<ServerDescription>),
}

/// The servers that differ between `before` and `after`, in address order. The two maps
/// share their structure (one was built from the other), so the walk skips every shared
/// node: O(changes × log n), not O(servers).
pub(crate) fn server_changes(before: &ServerMap, after: &ServerMap) -> Vec<ServerChange> {
    before
        .diff(after)
        .filter_map(|difference| match difference {
            DiffItem::Add(address, new) => {
                Some(ServerChange::Added(address.clone(), Arc::clone(new)))
            }
            DiffItem::Remove(address, previous) => {
                Some(ServerChange::Removed(address.clone(), Arc::clone(previous)))
            }
            DiffItem::Update {
                old: (address, previous),
                new: (_, new),
            } => (!Arc::ptr_eq(previous, new)).then(|| ServerChange::Updated {
                address: address.clone(),
                previous: Arc::clone(previous),
                new: Arc::clone(new),
            }),
        })
        .collect()
}

/// The events and monitoring actions that turn `before` into `after`, whose servers differ
/// by `changes` (see [`server_changes`]), in publication order: ServerDescriptionChanged
/// (the checked server first), ServerOpening + StartMonitoring for added servers,
/// StopMonitoring + ServerClosed for removed ones, then TopologyDescriptionChanged. Events
/// share the descriptions' `Arc`s. Cost: O(changes × log n).
pub(crate) fn diff(
    before: &Arc<TopologyDescription>,
    after: &Arc<TopologyDescription>,
    changes: &[ServerChange],
    checked: Option<&ServerAddress>,
) -> Vec<Action> {
    let mut changed = Vec::new();
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for change in changes {
        match change {
            ServerChange::Added(address, _) => added.push(address),
            ServerChange::Removed(address, _) => removed.push(address),
            ServerChange::Updated {
                address,
                previous,
                new,
            } => {
                if server_changed(previous, new) {
                    changed.push((address, previous, new));
                }
            }
        }
    }
    // A stable sort: the checked server first, the others in address order.
    changed.sort_by_key(|(address, _, _)| Some(*address) != checked);
    let mut actions = Vec::with_capacity(changed.len() + 2 * (added.len() + removed.len()) + 1);
    for (address, previous, new) in changed {
        actions.push(Action::Publish(SdamEvent::ServerDescriptionChanged {
            address: address.clone(),
            previous: Arc::clone(previous),
            new: Arc::clone(new),
        }));
    }
    for address in added {
        actions.push(Action::Publish(SdamEvent::ServerOpening {
            address: address.clone(),
        }));
        actions.push(Action::StartMonitoring(address.clone()));
    }
    for address in removed {
        actions.push(Action::StopMonitoring(address.clone()));
        actions.push(Action::Publish(SdamEvent::ServerClosed {
            address: address.clone(),
            reason: removal_reason(after, address),
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
