//! Deriving monitoring actions and SDAM events from two successive topology descriptions.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::address::ServerAddress;
use crate::sdam::departures::RemovalReason;
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

/// The events and monitoring actions that turn `before` into `after`, in publication order:
/// ServerDescriptionChanged (the checked server first), ServerOpening + StartMonitoring for
/// added servers, StopMonitoring + ServerClosed for removed ones, then
/// TopologyDescriptionChanged. Events share the descriptions' `Arc`s.
///
/// Both server maps are sorted by address, so one merge walk finds every change with one
/// comparison per server (no lookups); servers shared between the two snapshots compare by
/// pointer.
pub(crate) fn diff(
    before: &Arc<TopologyDescription>,
    after: &Arc<TopologyDescription>,
    checked: Option<&ServerAddress>,
) -> Vec<Action> {
    let mut changed = Vec::new();
    let mut added = Vec::new();
    let mut removed = Vec::new();
    let mut old = before.servers.iter().peekable();
    let mut new = after.servers.iter().peekable();
    loop {
        match (old.peek(), new.peek()) {
            (Some(&(gone, _)), None) => {
                removed.push(gone);
                old.next();
            }
            (None, Some(&(came, _))) => {
                added.push(came);
                new.next();
            }
            (Some(&(a, previous)), Some(&(b, next))) => match a.cmp(b) {
                Ordering::Less => {
                    removed.push(a);
                    old.next();
                }
                Ordering::Greater => {
                    added.push(b);
                    new.next();
                }
                Ordering::Equal => {
                    if server_changed(previous, next) {
                        changed.push((b, previous, next));
                    }
                    old.next();
                    new.next();
                }
            },
            (None, None) => break,
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
