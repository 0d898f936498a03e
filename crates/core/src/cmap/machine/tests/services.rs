//! Load-balanced mode: generations per serviceId, and clearing one service.

use bson::oid::ObjectId;

use super::*;

/// Checks out a new connection whose handshake reached `service`.
fn check_out_to(pool: &mut PoolMachine, service: ObjectId, now: MonotonicTime) -> ConnectionId {
    let waiter = pool.check_out(now);
    let connection = establishing(&drain(pool))[0];
    pool.connection_established_for_service(connection, Some(service), now)
        .unwrap();
    assert_eq!(handed_out(&drain(pool)), vec![(waiter, connection)]);
    connection
}

#[test]
fn clearing_a_service_keeps_the_pool_ready_and_its_waiters_waiting() {
    let mut pool = pool(PoolOptions {
        max_pool_size: 2,
        ..PoolOptions::default()
    });
    let (a, b) = (ObjectId::new(), ObjectId::new());
    let a1 = check_out_to(&mut pool, a, at(0));
    let b1 = check_out_to(&mut pool, b, at(1));
    assert_eq!(
        pool.service_connection_counts(),
        [(a, 1), (b, 1)].into_iter().collect()
    );
    let waiter = pool.check_out(at(2));
    drain(&mut pool);

    pool.clear_service(a, at(3));
    let actions = drain(&mut pool);
    assert_eq!(
        events(&actions),
        vec![CmapEventKind::PoolCleared {
            interrupt_in_use_connections: false,
            service_id: Some(a),
        }]
    );
    assert_eq!(pool.state(), PoolState::Ready);
    assert_eq!(pool.wait_queue_len(), 1, "the waiter still waits");
    assert_eq!(pool.service_generation(a), 1);
    assert_eq!(pool.service_generation(b), 0);
    assert_eq!(
        pool.generation(),
        0,
        "the pool's own generation is untouched"
    );

    // In use during the clear: A's connection is closed when checked in, which makes room
    // for the waiter; B's goes back to the pool.
    pool.check_in(a1, true, at(4)).unwrap();
    let actions = drain(&mut pool);
    assert_eq!(closed(&actions), vec![(a1, ConnectionClosedReason::Stale)]);
    assert_eq!(establishing(&actions).len(), 1);
    assert!(failed(&actions).is_empty());
    let _ = waiter;
    pool.check_in(b1, true, at(5)).unwrap();
    let actions = drain(&mut pool);
    assert!(closed(&actions).is_empty());
    assert_eq!(pool.available_connection_count(), 1);
}

#[test]
fn an_available_connection_of_a_cleared_service_is_closed_at_once() {
    let mut pool = pool(PoolOptions::default());
    let (a, b) = (ObjectId::new(), ObjectId::new());
    let a1 = check_out_to(&mut pool, a, at(0));
    let b1 = check_out_to(&mut pool, b, at(1));
    pool.check_in(a1, true, at(2)).unwrap();
    pool.check_in(b1, true, at(2)).unwrap();
    drain(&mut pool);
    pool.clear_service(a, at(3));
    let actions = drain(&mut pool);
    assert_eq!(closed(&actions), vec![(a1, ConnectionClosedReason::Stale)]);
    assert_eq!(pool.available_connection_count(), 1);
    assert_eq!(
        pool.service_connection_counts(),
        [(b, 1)].into_iter().collect()
    );
}

#[test]
fn a_connection_established_after_the_clear_takes_the_new_generation() {
    let mut pool = pool(PoolOptions::default());
    let a = ObjectId::new();
    let old = check_out_to(&mut pool, a, at(0));
    pool.clear_service(a, at(1));
    drain(&mut pool);
    // Created before the clear of its service would be known, established after it.
    let fresh = check_out_to(&mut pool, a, at(2));
    pool.check_in(fresh, true, at(3)).unwrap();
    assert!(closed(&drain(&mut pool)).is_empty());
    pool.check_in(old, true, at(4)).unwrap();
    assert_eq!(
        closed(&drain(&mut pool)),
        vec![(old, ConnectionClosedReason::Stale)]
    );
}

#[test]
fn clearing_a_service_of_a_closed_pool_does_nothing() {
    let mut pool = pool(PoolOptions::default());
    pool.close(at(0));
    drain(&mut pool);
    pool.clear_service(ObjectId::new(), at(1));
    assert!(drain(&mut pool).is_empty());
}
