//! The rules every answer of the SDAM state machine must obey, checked against the
//! description before an input (`topology.description()` before the call) and the one after
//! it (`changes.description`):
//!
//! - a StartMonitoring (preceded by its ServerOpening) for exactly every added server, none
//!   in load-balanced mode;
//! - a StopMonitoring followed by its ServerClosed for exactly every removed server;
//! - a ServerDescriptionChanged for a server iff its description changed (SDAM "Server
//!   Description Equality", PossiblePrimary counting as Unknown), carrying the server's
//!   before and after descriptions, the checked server's first;
//! - a TopologyDescriptionChanged iff the descriptions are not equivalent, carrying before
//!   and after, after every server event;
//! - an ignored input (server not in the topology, stale topologyVersion or generation,
//!   after close) yields no action and the same description;
//! - each ClearPool raises the pool generation by exactly one, to its `new_generation`, and
//!   names a service only behind a load balancer (the erring connection's);
//! - RetryCheckNow only after a network-class check failure of a known server;
//! - MarkPoolReady only for a server that is data-bearing (or not Unknown in Single) after;
//! - close: StopMonitoring and ServerClosed for every server, then TopologyDescriptionChanged
//!   to the empty description, then TopologyClosed last.
//!
//! Descriptions and event payloads are read through `Borrow`/`Deref` and compared by value,
//! so the checks do not care whether they are held inline, boxed or shared by `Arc`.

use std::borrow::Borrow;
use std::collections::BTreeMap;

use bson::oid::ObjectId;
use mongo_topology_core::sdam::{
    Action, ApplicationError, Changes, SdamEvent, ServerDescription, ServerErrorKind, ServerType,
    Topology, TopologyDescription, TopologyType, TopologyVersion,
};
use mongo_topology_core::ServerAddress;
use proptest::prelude::*;

/// One input to the state machine, as far as the rules care.
pub enum Applied<'a> {
    /// The outcome of a check of a server: its parsed description, Unknown with an error if
    /// the check failed.
    Check(&'a ServerDescription),
    /// An error seen by an application operation.
    ApplicationError(&'a ApplicationError),
}

impl Applied<'_> {
    /// The server the input is about.
    fn address(&self) -> &ServerAddress {
        match self {
            Applied::Check(server) => &server.address,
            Applied::ApplicationError(error) => &error.address,
        }
    }
}

/// Checks the [`Changes`] answering one input (other than `close`): `before` is a copy of
/// the topology taken before the input, `after` the topology after it, `closed` whether the
/// topology had been closed before the input.
pub fn check_input(
    before: &Topology,
    after: &Topology,
    closed: bool,
    input: &Applied<'_>,
    changes: &Changes,
) -> Result<(), TestCaseError> {
    let old = described(before.description());
    let new = described(&changes.description);
    prop_assert_eq!(
        new,
        described(after.description()),
        "changes.description is not current"
    );
    if is_ignored(before, closed, input) {
        prop_assert!(
            changes.actions.is_empty(),
            "an ignored input acted: {:?}",
            changes.actions
        );
        prop_assert_eq!(old, new, "an ignored input changed the description");
        return Ok(());
    }
    let actions = &changes.actions;
    let load_balanced = before.settings().load_balanced;
    monitors_start_for_exactly_the_added_servers(old, new, actions, load_balanced)?;
    monitors_stop_for_exactly_the_removed_servers(old, new, actions)?;
    server_events_for_exactly_the_changed_servers(old, new, actions, input.address())?;
    topology_event_iff_the_description_changed(old, new, actions)?;
    pool_generations_rise_by_one_per_clear(before, after, actions)?;
    pools_cleared_per_service_only_behind_a_load_balancer(load_balanced, input, actions)?;
    retry_now_only_after_a_network_failure_of_a_known_server(old, input, actions)?;
    pools_marked_ready_only_when_usable(new, actions)?;
    let lifecycle = actions.iter().any(|action| {
        matches!(
            action.event(),
            Some(SdamEvent::TopologyOpening | SdamEvent::TopologyClosed)
        )
    });
    prop_assert!(
        !lifecycle,
        "an input opened or closed the topology: {:?}",
        actions
    );
    Ok(())
}

/// Checks the [`Changes`] returned by `Topology::new`: TopologyOpening first, a monitor for
/// every seed (none in load-balanced mode), pools ready only for usable servers, and the
/// last TopologyDescriptionChanged leading to the description returned.
pub fn check_opening(topology: &Topology, changes: &Changes) -> Result<(), TestCaseError> {
    let new = described(&changes.description);
    prop_assert_eq!(new, described(topology.description()));
    let empty = TopologyDescription::with_seeds(TopologyType::Unknown, None, []);
    let load_balanced = topology.settings().load_balanced;
    let actions = &changes.actions;
    prop_assert_eq!(
        actions.first(),
        Some(&Action::Publish(SdamEvent::TopologyOpening))
    );
    monitors_start_for_exactly_the_added_servers(&empty, new, actions, load_balanced)?;
    pools_marked_ready_only_when_usable(new, actions)?;
    let last_topology_event = actions
        .iter()
        .rev()
        .find_map(|action| match action.event() {
            Some(SdamEvent::TopologyDescriptionChanged { new, .. }) => Some(&**new),
            _ => None,
        });
    prop_assert_eq!(last_topology_event, Some(new));
    Ok(())
}

/// Checks the [`Changes`] returned by the first `Topology::close`: StopMonitoring (unless
/// load-balanced: nothing is monitored) then ServerClosed for every server, then one
/// TopologyDescriptionChanged to the empty description, then TopologyClosed, last.
pub fn check_close(
    before: &Topology,
    after: &Topology,
    changes: &Changes,
) -> Result<(), TestCaseError> {
    let old = described(before.description());
    let new = described(&changes.description);
    let empty = TopologyDescription::with_seeds(TopologyType::Unknown, None, []);
    prop_assert_eq!(new, &empty, "a closed topology is not empty");
    prop_assert_eq!(described(after.description()), &empty);
    let actions = &changes.actions;
    prop_assert_eq!(
        actions.last(),
        Some(&Action::Publish(SdamEvent::TopologyClosed))
    );
    let stopped = indexed(actions, stop_monitoring);
    let closed = indexed(actions, server_closed);
    let all: Vec<&ServerAddress> = old.servers.keys().collect();
    if before.settings().load_balanced {
        prop_assert!(stopped.is_empty(), "a load balancer has no monitor to stop");
    } else {
        prop_assert_eq!(sorted_addresses(&stopped), all.clone(), "StopMonitoring");
        prop_assert!(
            each_preceded_by(&closed, &stopped),
            "ServerClosed before StopMonitoring"
        );
    }
    prop_assert_eq!(sorted_addresses(&closed), all, "ServerClosed");
    let topology_events = topology_events(actions);
    prop_assert_eq!(topology_events.len(), 1, "one TopologyDescriptionChanged");
    let (position, previous, closed_description) = topology_events[0];
    prop_assert_eq!(previous, old);
    prop_assert_eq!(closed_description, &empty);
    prop_assert!(closed.iter().all(|(index, _)| *index < position));
    prop_assert_eq!(position + 2, actions.len(), "TopologyClosed right after");
    Ok(())
}

/// Whether the state machine must ignore `input`: the topology is closed, the server is not
/// in it, a check in load-balanced mode, a check reply older than the server's
/// topologyVersion, or an application error that is stale (SDAM `isStaleError`: an older
/// pool generation, or a topologyVersion not newer than the server's).
fn is_ignored(before: &Topology, closed: bool, input: &Applied<'_>) -> bool {
    let description = described(before.description());
    let Some(current) = description.servers.get(input.address()).map(as_server) else {
        return true;
    };
    if closed {
        return true;
    }
    match input {
        Applied::Check(server) => {
            description.topology_type == TopologyType::LoadBalanced
                || (!is_failed_check(server)
                    && TopologyVersion::compare(
                        current.topology_version.as_ref(),
                        server.topology_version.as_ref(),
                    )
                    .is_gt())
        }
        Applied::ApplicationError(error) => {
            let service = error
                .service_id
                .as_ref()
                .filter(|_| before.settings().load_balanced);
            let generation = before.pool_generation(&error.address, service);
            error.generation < generation.unwrap_or(0)
                || TopologyVersion::compare(
                    current.topology_version.as_ref(),
                    error.topology_version(),
                )
                .is_ge()
        }
    }
}

fn monitors_start_for_exactly_the_added_servers(
    old: &TopologyDescription,
    new: &TopologyDescription,
    actions: &[Action],
    load_balanced: bool,
) -> Result<(), TestCaseError> {
    let added: Vec<&ServerAddress> = new
        .servers
        .keys()
        .filter(|address| !old.servers.contains_key(*address))
        .collect();
    let opened = indexed(actions, server_opening);
    let started = indexed(actions, start_monitoring);
    prop_assert_eq!(sorted_addresses(&opened), added.clone(), "ServerOpening");
    if load_balanced {
        prop_assert!(started.is_empty(), "StartMonitoring in load-balanced mode");
    } else {
        prop_assert_eq!(sorted_addresses(&started), added, "StartMonitoring");
        prop_assert!(
            each_preceded_by(&started, &opened),
            "StartMonitoring before ServerOpening"
        );
    }
    Ok(())
}

fn monitors_stop_for_exactly_the_removed_servers(
    old: &TopologyDescription,
    new: &TopologyDescription,
    actions: &[Action],
) -> Result<(), TestCaseError> {
    let removed: Vec<&ServerAddress> = old
        .servers
        .keys()
        .filter(|address| !new.servers.contains_key(*address))
        .collect();
    let stopped = indexed(actions, stop_monitoring);
    let closed = indexed(actions, server_closed);
    prop_assert_eq!(
        sorted_addresses(&stopped),
        removed.clone(),
        "StopMonitoring"
    );
    prop_assert_eq!(sorted_addresses(&closed), removed, "ServerClosed");
    prop_assert!(
        each_preceded_by(&closed, &stopped),
        "ServerClosed before StopMonitoring"
    );
    Ok(())
}

fn server_events_for_exactly_the_changed_servers(
    old: &TopologyDescription,
    new: &TopologyDescription,
    actions: &[Action],
    checked: &ServerAddress,
) -> Result<(), TestCaseError> {
    let changed: Vec<&ServerAddress> = new
        .servers
        .iter()
        .filter(|(address, server)| {
            old.servers
                .get(*address)
                .is_some_and(|previous| server_changed(as_server(previous), as_server(*server)))
        })
        .map(|(address, _)| address)
        .collect();
    let events: Vec<(&ServerAddress, &ServerDescription, &ServerDescription)> = actions
        .iter()
        .filter_map(|action| match action.event() {
            Some(SdamEvent::ServerDescriptionChanged {
                address,
                previous,
                new,
            }) => Some((address, &**previous, &**new)),
            _ => None,
        })
        .collect();
    let mut published: Vec<&ServerAddress> = events.iter().map(|(address, ..)| *address).collect();
    published.sort();
    prop_assert_eq!(published, changed.clone(), "ServerDescriptionChanged");
    for (address, previous, current) in &events {
        prop_assert_eq!(old.servers.get(*address).map(as_server), Some(*previous));
        prop_assert_eq!(new.servers.get(*address).map(as_server), Some(*current));
    }
    if changed.contains(&checked) {
        prop_assert_eq!(
            events[0].0,
            checked,
            "the checked server's event comes first"
        );
    }
    Ok(())
}

fn topology_event_iff_the_description_changed(
    old: &TopologyDescription,
    new: &TopologyDescription,
    actions: &[Action],
) -> Result<(), TestCaseError> {
    let events = topology_events(actions);
    if !topology_changed(old, new) {
        prop_assert!(
            events.is_empty(),
            "TopologyDescriptionChanged without a change"
        );
        return Ok(());
    }
    prop_assert_eq!(events.len(), 1, "one TopologyDescriptionChanged per change");
    let (position, previous, current) = events[0];
    prop_assert_eq!(previous, old);
    prop_assert_eq!(current, new);
    let last_server_event = actions
        .iter()
        .rposition(|action| matches!(action.event(), Some(event) if is_server_event(event)));
    prop_assert!(
        last_server_event.is_none_or(|last| last < position),
        "TopologyDescriptionChanged before a server event"
    );
    Ok(())
}

fn pool_generations_rise_by_one_per_clear(
    before: &Topology,
    after: &Topology,
    actions: &[Action],
) -> Result<(), TestCaseError> {
    let mut generations: BTreeMap<(&ServerAddress, Option<&ObjectId>), u32> = BTreeMap::new();
    for action in actions {
        if let Action::ClearPool {
            address,
            service_id,
            new_generation,
            ..
        } = action
        {
            let key = (address, service_id.as_ref());
            let previous = match generations.get(&key) {
                Some(generation) => Some(*generation),
                None => before.pool_generation(address, service_id.as_ref()),
            };
            prop_assert_eq!(
                previous.map(|g| g + 1),
                Some(*new_generation),
                "{:?}",
                action
            );
            generations.insert(key, *new_generation);
        }
    }
    for ((address, service_id), generation) in &generations {
        prop_assert_eq!(
            after.pool_generation(address, *service_id),
            Some(*generation)
        );
    }
    for address in described(after.description()).servers.keys() {
        if !generations.contains_key(&(address, None)) {
            let unchanged = before.pool_generation(address, None).unwrap_or(0);
            prop_assert_eq!(
                after.pool_generation(address, None),
                Some(unchanged),
                "{}",
                address
            );
        }
    }
    Ok(())
}

fn pools_cleared_per_service_only_behind_a_load_balancer(
    load_balanced: bool,
    input: &Applied<'_>,
    actions: &[Action],
) -> Result<(), TestCaseError> {
    let expected = match input {
        Applied::ApplicationError(error) if load_balanced => error.service_id.as_ref(),
        _ => None,
    };
    for action in actions {
        if let Action::ClearPool { service_id, .. } = action {
            prop_assert_eq!(service_id.as_ref(), expected, "{:?}", action);
        }
    }
    Ok(())
}

fn retry_now_only_after_a_network_failure_of_a_known_server(
    old: &TopologyDescription,
    input: &Applied<'_>,
    actions: &[Action],
) -> Result<(), TestCaseError> {
    let retried: Vec<&ServerAddress> = actions
        .iter()
        .filter_map(|action| match action {
            Action::RetryCheckNow(address) => Some(address),
            _ => None,
        })
        .collect();
    let was_known = old
        .servers
        .get(input.address())
        .is_some_and(|server| as_server(server).server_type != ServerType::Unknown);
    let network_failure = match input {
        Applied::Check(server) => server
            .error
            .as_ref()
            .is_some_and(|error| is_failed_check(server) && is_network_class(error.kind)),
        Applied::ApplicationError(_) => false,
    };
    if network_failure && was_known {
        prop_assert_eq!(retried, vec![input.address()]);
    } else {
        prop_assert!(retried.is_empty(), "RetryCheckNow: {:?}", retried);
    }
    Ok(())
}

fn pools_marked_ready_only_when_usable(
    new: &TopologyDescription,
    actions: &[Action],
) -> Result<(), TestCaseError> {
    for action in actions {
        if let Action::MarkPoolReady(address) = action {
            let server = new.servers.get(address).map(as_server);
            let usable = server.is_some_and(|server| {
                server.is_data_bearing()
                    || (new.topology_type == TopologyType::Single
                        && server.server_type != ServerType::Unknown)
            });
            prop_assert!(usable, "MarkPoolReady for {:?}", server);
        }
    }
    Ok(())
}

/// SDAM "Server Description Equality", except that Unknown and PossiblePrimary count as the
/// same type (PossiblePrimary is only a scanning hint).
fn server_changed(previous: &ServerDescription, new: &ServerDescription) -> bool {
    let unknownish = |server: &ServerDescription| {
        matches!(
            server.server_type,
            ServerType::Unknown | ServerType::PossiblePrimary
        )
    };
    if unknownish(previous) && unknownish(new) {
        let same_type = ServerDescription {
            server_type: previous.server_type,
            ..new.clone()
        };
        return !previous.is_equivalent(&same_type);
    }
    !previous.is_equivalent(new)
}

/// Whether two topology descriptions differ in anything a TopologyDescriptionChangedEvent
/// reports: type, set name, (electionId, setVersion) maxima, compatibility, session timeout,
/// or the set of servers and their descriptions (per "Server Description Equality").
fn topology_changed(old: &TopologyDescription, new: &TopologyDescription) -> bool {
    old.topology_type != new.topology_type
        || old.set_name != new.set_name
        || old.max_election_id != new.max_election_id
        || old.max_set_version != new.max_set_version
        || old.compatibility_error != new.compatibility_error
        || old.logical_session_timeout_minutes != new.logical_session_timeout_minutes
        || !old.servers.keys().eq(new.servers.keys())
        || old.servers.iter().any(|(address, server)| {
            new.servers
                .get(address)
                .is_some_and(|current| !as_server(server).is_equivalent(as_server(current)))
        })
}

fn is_failed_check(server: &ServerDescription) -> bool {
    server.server_type == ServerType::Unknown && server.error.is_some()
}

fn is_network_class(kind: ServerErrorKind) -> bool {
    matches!(
        kind,
        ServerErrorKind::Dns
            | ServerErrorKind::Connect
            | ServerErrorKind::Network
            | ServerErrorKind::Timeout
            | ServerErrorKind::Tls
    )
}

fn is_server_event(event: &SdamEvent) -> bool {
    matches!(
        event,
        SdamEvent::ServerOpening { .. }
            | SdamEvent::ServerClosed { .. }
            | SdamEvent::ServerDescriptionChanged { .. }
    )
}

/// Each TopologyDescriptionChanged: its position, previous and new descriptions.
fn topology_events(actions: &[Action]) -> Vec<(usize, &TopologyDescription, &TopologyDescription)> {
    actions
        .iter()
        .enumerate()
        .filter_map(|(index, action)| match action.event() {
            Some(SdamEvent::TopologyDescriptionChanged { previous, new }) => {
                Some((index, &**previous, &**new))
            }
            _ => None,
        })
        .collect()
}

fn start_monitoring(action: &Action) -> Option<&ServerAddress> {
    match action {
        Action::StartMonitoring(address) => Some(address),
        _ => None,
    }
}

fn stop_monitoring(action: &Action) -> Option<&ServerAddress> {
    match action {
        Action::StopMonitoring(address) => Some(address),
        _ => None,
    }
}

fn server_opening(action: &Action) -> Option<&ServerAddress> {
    match action.event() {
        Some(SdamEvent::ServerOpening { address }) => Some(address),
        _ => None,
    }
}

fn server_closed(action: &Action) -> Option<&ServerAddress> {
    match action.event() {
        Some(SdamEvent::ServerClosed { address, .. }) => Some(address),
        _ => None,
    }
}

/// The actions `pick` recognizes, with their positions.
fn indexed<'a>(
    actions: &'a [Action],
    pick: impl Fn(&'a Action) -> Option<&'a ServerAddress>,
) -> Vec<(usize, &'a ServerAddress)> {
    actions
        .iter()
        .enumerate()
        .filter_map(|(index, action)| pick(action).map(|address| (index, address)))
        .collect()
}

/// The addresses of `found`, sorted, duplicates kept (so that a duplicate shows).
fn sorted_addresses<'a>(found: &[(usize, &'a ServerAddress)]) -> Vec<&'a ServerAddress> {
    let mut addresses: Vec<&ServerAddress> = found.iter().map(|(_, address)| *address).collect();
    addresses.sort();
    addresses
}

/// Whether every action of `later` comes after an action of `earlier` for the same server.
fn each_preceded_by(
    later: &[(usize, &ServerAddress)],
    earlier: &[(usize, &ServerAddress)],
) -> bool {
    later.iter().all(|(position, address)| {
        earlier
            .iter()
            .any(|(before, other)| other == address && before < position)
    })
}

/// A topology description, however it is held (inline, boxed or shared).
pub fn described<D: Borrow<TopologyDescription>>(description: &D) -> &TopologyDescription {
    description.borrow()
}

/// A server description, however it is held (inline, boxed or shared).
fn as_server<S: Borrow<ServerDescription>>(server: &S) -> &ServerDescription {
    server.borrow()
}
