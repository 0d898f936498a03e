//! The pool's rules beyond the CMAP spec files: fairness, maxConnecting, idle reaping with
//! explicit times, stale connections, interrupting in-use connections, minPoolSize.

use std::time::Duration;

use super::super::events::{
    CheckOutFailedReason, CmapEventKind, ConnectionClosedReason, ConnectionId,
};
use super::super::options::PoolOptions;
use super::*;
use crate::{MonotonicTime, ServerAddress};

fn at(millis: u64) -> MonotonicTime {
    MonotonicTime::from_millis(millis)
}

fn pool(options: PoolOptions) -> PoolMachine {
    let mut pool = PoolMachine::new(ServerAddress::parse("db:27017").unwrap(), options).unwrap();
    drain(&mut pool);
    pool.ready(at(0));
    drain(&mut pool);
    pool
}

fn drain(pool: &mut PoolMachine) -> Vec<PoolAction> {
    std::iter::from_fn(|| pool.poll_action()).collect()
}

fn events(actions: &[PoolAction]) -> Vec<CmapEventKind> {
    actions
        .iter()
        .filter_map(|action| match action {
            PoolAction::Emit(event) => Some(event.kind.clone()),
            _ => None,
        })
        .collect()
}

fn establishing(actions: &[PoolAction]) -> Vec<ConnectionId> {
    actions
        .iter()
        .filter_map(|action| match action {
            PoolAction::Establish { connection, .. } => Some(*connection),
            _ => None,
        })
        .collect()
}

fn handed_out(actions: &[PoolAction]) -> Vec<(WaiterId, ConnectionId)> {
    actions
        .iter()
        .filter_map(|action| match action {
            PoolAction::HandOut {
                waiter, connection, ..
            } => Some((*waiter, *connection)),
            _ => None,
        })
        .collect()
}

fn failed(actions: &[PoolAction]) -> Vec<(WaiterId, CheckOutError)> {
    actions
        .iter()
        .filter_map(|action| match action {
            PoolAction::FailCheckOut { waiter, error } => Some((*waiter, *error)),
            _ => None,
        })
        .collect()
}

fn closed(actions: &[PoolAction]) -> Vec<(ConnectionId, ConnectionClosedReason)> {
    events(actions)
        .into_iter()
        .filter_map(|event| match event {
            CmapEventKind::ConnectionClosed {
                connection_id,
                reason,
            } => Some((connection_id, reason)),
            _ => None,
        })
        .collect()
}

/// Checks out and establishes one connection at `now`; returns it.
fn check_out_new(pool: &mut PoolMachine, now: MonotonicTime) -> ConnectionId {
    let waiter = pool.check_out(now);
    let connection = establishing(&drain(pool))[0];
    pool.connection_established(connection, now).unwrap();
    assert_eq!(handed_out(&drain(pool)), vec![(waiter, connection)]);
    connection
}

#[test]
fn waiters_are_served_in_arrival_order() {
    let mut pool = pool(PoolOptions {
        max_pool_size: 1,
        ..PoolOptions::default()
    });
    let first = check_out_new(&mut pool, at(0));
    let waiters: Vec<WaiterId> = (1..=4).map(|i| pool.check_out(at(i))).collect();
    assert!(handed_out(&drain(&mut pool)).is_empty());
    assert_eq!(pool.wait_queue_len(), 4);
    let mut connection = first;
    for (i, waiter) in waiters.into_iter().enumerate() {
        pool.check_in(connection, true, at(10 + i as u64)).unwrap();
        let handed = handed_out(&drain(&mut pool));
        assert_eq!(handed, vec![(waiter, first)], "round {i}");
        connection = handed[0].1;
    }
}

#[test]
fn no_more_than_max_connecting_connections_are_established_at_once() {
    let mut pool = pool(PoolOptions {
        max_connecting: 2,
        ..PoolOptions::default()
    });
    let waiters: Vec<WaiterId> = (0..5).map(|i| pool.check_out(at(i))).collect();
    let started = establishing(&drain(&mut pool));
    assert_eq!(started.len(), 2);
    assert_eq!(pool.pending_connection_count(), 2);
    assert_eq!(pool.wait_queue_len(), 3);
    // One establishment ends: its waiter gets it, and exactly one more starts.
    pool.connection_established(started[0], at(10)).unwrap();
    let actions = drain(&mut pool);
    assert_eq!(handed_out(&actions), vec![(waiters[0], started[0])]);
    assert_eq!(establishing(&actions).len(), 1);
    assert_eq!(pool.pending_connection_count(), 2);
    // A failure frees a slot too, and fails only the waiter it was for.
    pool.connection_failed(started[1], at(11)).unwrap();
    let actions = drain(&mut pool);
    assert_eq!(
        failed(&actions),
        vec![(waiters[1], CheckOutError::ConnectionError)]
    );
    assert_eq!(establishing(&actions).len(), 1);
    assert_eq!(pool.pending_connection_count(), 2);
}

#[test]
fn a_returned_connection_serves_a_waiter_blocked_by_max_connecting() {
    let mut pool = pool(PoolOptions {
        max_connecting: 1,
        ..PoolOptions::default()
    });
    let held = check_out_new(&mut pool, at(0));
    let _creating = pool.check_out(at(1));
    let blocked = pool.check_out(at(2));
    assert_eq!(establishing(&drain(&mut pool)).len(), 1);
    pool.check_in(held, true, at(3)).unwrap();
    assert_eq!(handed_out(&drain(&mut pool)), vec![(blocked, held)]);
}

#[test]
fn idle_connections_are_reaped_at_max_idle_time_and_not_before() {
    let mut pool = pool(PoolOptions {
        max_idle_time: Some(Duration::from_millis(100)),
        ..PoolOptions::default()
    });
    let connection = check_out_new(&mut pool, at(0));
    pool.check_in(connection, true, at(50)).unwrap();
    drain(&mut pool);
    assert_eq!(pool.next_deadline(), Some(at(150)));
    pool.tick(at(149));
    assert!(closed(&drain(&mut pool)).is_empty());
    assert_eq!(pool.available_connection_count(), 1);
    pool.tick(at(150));
    assert_eq!(
        closed(&drain(&mut pool)),
        vec![(connection, ConnectionClosedReason::Idle)]
    );
    assert_eq!(pool.total_connection_count(), 0);
    assert_eq!(pool.next_deadline(), None);
}

#[test]
fn an_idle_connection_met_by_a_check_out_is_closed_and_replaced() {
    let mut pool = pool(PoolOptions {
        max_idle_time: Some(Duration::from_millis(100)),
        ..PoolOptions::default()
    });
    let old = check_out_new(&mut pool, at(0));
    pool.check_in(old, true, at(0)).unwrap();
    drain(&mut pool);
    pool.check_out(at(500));
    let actions = drain(&mut pool);
    assert_eq!(closed(&actions), vec![(old, ConnectionClosedReason::Idle)]);
    assert_eq!(establishing(&actions), vec![ConnectionId(old.0 + 1)]);
}

#[test]
fn a_connection_checked_in_after_a_clear_is_closed_as_stale() {
    let mut pool = pool(PoolOptions::default());
    let connection = check_out_new(&mut pool, at(0));
    pool.clear(false, at(1));
    pool.ready(at(2));
    drain(&mut pool);
    assert_eq!(pool.generation(), 1);
    pool.check_in(connection, true, at(3)).unwrap();
    let actions = drain(&mut pool);
    assert_eq!(
        closed(&actions),
        vec![(connection, ConnectionClosedReason::Stale)]
    );
    assert!(actions.contains(&PoolAction::CloseConnection(connection)));
    assert_eq!(pool.total_connection_count(), 0);
}

#[test]
fn stale_available_connections_are_closed_by_the_next_tick() {
    let mut pool = pool(PoolOptions::default());
    let connection = check_out_new(&mut pool, at(0));
    pool.check_in(connection, true, at(1)).unwrap();
    pool.clear(false, at(2));
    drain(&mut pool);
    pool.tick(at(2));
    assert_eq!(
        closed(&drain(&mut pool)),
        vec![(connection, ConnectionClosedReason::Stale)]
    );
}

#[test]
fn a_connection_established_after_a_clear_is_closed_and_its_waiter_fails_retryably() {
    let mut pool = pool(PoolOptions::default());
    let waiter = pool.check_out(at(0));
    let connection = establishing(&drain(&mut pool))[0];
    pool.clear(false, at(1));
    pool.ready(at(2));
    drain(&mut pool);
    pool.connection_established(connection, at(3)).unwrap();
    let actions = drain(&mut pool);
    assert_eq!(
        closed(&actions),
        vec![(connection, ConnectionClosedReason::Stale)]
    );
    assert_eq!(failed(&actions), vec![(waiter, CheckOutError::PoolCleared)]);
}

#[test]
fn interrupting_in_use_connections_spares_newer_generations() {
    let mut pool = pool(PoolOptions::default());
    let old = check_out_new(&mut pool, at(0));
    pool.clear(false, at(1));
    pool.ready(at(2));
    drain(&mut pool);
    let newer = check_out_new(&mut pool, at(3));
    pool.clear(true, at(4));
    let actions = drain(&mut pool);
    let interrupted: Vec<ConnectionId> = actions
        .iter()
        .filter_map(|action| match action {
            PoolAction::Interrupt(connection) => Some(*connection),
            _ => None,
        })
        .collect();
    assert_eq!(interrupted, vec![old, newer]);
    assert!(events(&actions).contains(&CmapEventKind::PoolCleared {
        interrupt_in_use_connections: true,
        service_id: None,
    }));
    // A clear of an already newer generation does not interrupt again.
    let after = {
        pool.ready(at(5));
        drain(&mut pool);
        check_out_new(&mut pool, at(6))
    };
    pool.clear(true, at(7));
    let again: Vec<PoolAction> = drain(&mut pool)
        .into_iter()
        .filter(|action| matches!(action, PoolAction::Interrupt(_)))
        .collect();
    assert_eq!(again, vec![PoolAction::Interrupt(after)]);
}

#[test]
fn a_clear_without_interrupt_leaves_in_use_connections_alone() {
    let mut pool = pool(PoolOptions::default());
    check_out_new(&mut pool, at(0));
    pool.clear(false, at(1));
    assert!(!drain(&mut pool)
        .iter()
        .any(|action| matches!(action, PoolAction::Interrupt(_))));
}

#[test]
fn min_pool_size_is_filled_only_while_ready_and_within_max_connecting() {
    let mut pool = PoolMachine::new(
        ServerAddress::parse("db:27017").unwrap(),
        PoolOptions {
            min_pool_size: 3,
            max_connecting: 2,
            ..PoolOptions::default()
        },
    )
    .unwrap();
    pool.tick(at(0));
    assert!(establishing(&drain(&mut pool)).is_empty(), "paused");
    pool.ready(at(1));
    let actions = drain(&mut pool);
    assert_eq!(
        events(&actions)[0],
        CmapEventKind::PoolReady,
        "PoolReady comes before any background creation"
    );
    let first = establishing(&actions);
    assert_eq!(first.len(), 2);
    pool.connection_established(first[0], at(2)).unwrap();
    assert_eq!(establishing(&drain(&mut pool)).len(), 1);
    assert_eq!(pool.total_connection_count(), 3);
    assert_eq!(pool.available_connection_count(), 1);
}

#[test]
fn waiters_time_out_at_their_deadline_and_leave_the_queue() {
    let mut pool = pool(PoolOptions {
        max_pool_size: 1,
        wait_queue_timeout: Some(Duration::from_millis(50)),
        ..PoolOptions::default()
    });
    let held = check_out_new(&mut pool, at(0));
    let early = pool.check_out(at(10));
    let late = pool.check_out(at(30));
    drain(&mut pool);
    assert_eq!(pool.next_deadline(), Some(at(60)));
    pool.tick(at(60));
    let actions = drain(&mut pool);
    assert_eq!(failed(&actions), vec![(early, CheckOutError::Timeout)]);
    assert!(
        events(&actions).contains(&CmapEventKind::ConnectionCheckOutFailed {
            reason: CheckOutFailedReason::Timeout,
            duration: Duration::from_millis(50),
        })
    );
    pool.check_in(held, true, at(70)).unwrap();
    assert_eq!(handed_out(&drain(&mut pool)), vec![(late, held)]);
}

#[test]
fn closing_fails_waiters_and_closes_what_comes_back() {
    let mut pool = pool(PoolOptions {
        max_pool_size: 2,
        ..PoolOptions::default()
    });
    let held = check_out_new(&mut pool, at(0));
    let creating = pool.check_out(at(1));
    let pending = establishing(&drain(&mut pool))[0];
    let waiting = pool.check_out(at(2));
    drain(&mut pool);
    pool.close(at(3));
    assert_eq!(
        failed(&drain(&mut pool)),
        vec![(waiting, CheckOutError::PoolClosed)]
    );
    pool.connection_established(pending, at(4)).unwrap();
    let actions = drain(&mut pool);
    assert_eq!(
        failed(&actions),
        vec![(creating, CheckOutError::PoolClosed)]
    );
    assert_eq!(
        closed(&actions),
        vec![(pending, ConnectionClosedReason::PoolClosed)]
    );
    pool.check_in(held, true, at(5)).unwrap();
    assert_eq!(
        closed(&drain(&mut pool)),
        vec![(held, ConnectionClosedReason::PoolClosed)]
    );
    assert_eq!(pool.total_connection_count(), 0);
}

#[test]
fn a_broken_connection_is_closed_on_check_in_with_reason_error() {
    let mut pool = pool(PoolOptions::default());
    let connection = check_out_new(&mut pool, at(0));
    pool.check_in(connection, false, at(1)).unwrap();
    assert_eq!(
        closed(&drain(&mut pool)),
        vec![(connection, ConnectionClosedReason::Error)]
    );
}

#[test]
fn an_abandoned_check_out_leaves_the_queue_and_its_connection_becomes_available() {
    let mut pool = pool(PoolOptions::default());
    let waiter = pool.check_out(at(0));
    let connection = establishing(&drain(&mut pool))[0];
    pool.abandon_check_out(waiter, at(1));
    pool.connection_established(connection, at(2)).unwrap();
    assert!(handed_out(&drain(&mut pool)).is_empty());
    assert_eq!(pool.available_connection_count(), 1);
}

#[test]
fn inputs_about_unknown_or_wrongly_placed_connections_are_refused() {
    let mut pool = pool(PoolOptions::default());
    let connection = check_out_new(&mut pool, at(0));
    assert!(pool.connection_established(connection, at(1)).is_err());
    assert!(pool.check_in(ConnectionId(99), true, at(1)).is_err());
    pool.check_in(connection, true, at(1)).unwrap();
    assert!(pool.check_in(connection, true, at(2)).is_err(), "twice");
}

#[test]
fn invalid_options_are_refused_at_creation() {
    let error = PoolMachine::new(
        ServerAddress::parse("db:27017").unwrap(),
        PoolOptions {
            max_pool_size: 1,
            min_pool_size: 2,
            ..PoolOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(error, PoolOptionsError::MinAboveMax { .. }));
}

mod background;
mod services;
