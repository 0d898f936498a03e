//! Background runs: their schedule, a clear scheduling one at once, minPoolSize only while
//! ready, in-use connections closed after an interrupting clear.

use super::*;

/// A ready pool whose background runs follow `runs`.
fn pool_with_runs(options: PoolOptions, runs: BackgroundRuns) -> PoolMachine {
    let mut pool = PoolMachine::new(ServerAddress::parse("db:27017").unwrap(), options).unwrap();
    pool.set_background_runs(runs);
    drain(&mut pool);
    pool.ready(at(0));
    drain(&mut pool);
    pool
}

#[test]
fn a_clear_schedules_a_run_at_once_that_closes_stale_available_connections() {
    let mut pool = pool_with_runs(
        PoolOptions::default(),
        BackgroundRuns::Every(Duration::from_secs(10)),
    );
    pool.tick(at(0));
    drain(&mut pool);
    assert_eq!(pool.next_background_run(), Some(at(10_000)));
    let connection = check_out_new(&mut pool, at(1));
    pool.check_in(connection, true, at(2)).unwrap();
    pool.clear(false, at(3));
    drain(&mut pool);
    assert_eq!(pool.next_deadline(), Some(at(3)), "the run is due at once");
    pool.tick(at(3));
    assert_eq!(
        closed(&drain(&mut pool)),
        vec![(connection, ConnectionClosedReason::Stale)]
    );
    assert_eq!(pool.total_connection_count(), 0);
    assert_eq!(pool.next_background_run(), Some(at(10_003)));
}

#[test]
fn an_interrupting_clear_closes_in_use_connections_at_the_run_it_schedules() {
    let mut pool = pool_with_runs(
        PoolOptions::default(),
        BackgroundRuns::Every(Duration::from_secs(10)),
    );
    let in_use = check_out_new(&mut pool, at(0));
    let available = check_out_new(&mut pool, at(0));
    pool.check_in(available, true, at(1)).unwrap();
    pool.clear(true, at(2));
    let actions = drain(&mut pool);
    assert!(actions.contains(&PoolAction::Interrupt(in_use)));
    assert!(closed(&actions).is_empty(), "closing is the run's work");
    pool.tick(at(2));
    let mut closed_now = closed(&drain(&mut pool));
    closed_now.sort_by_key(|(connection, _)| *connection);
    assert_eq!(
        closed_now,
        vec![
            (in_use, ConnectionClosedReason::Stale),
            (available, ConnectionClosedReason::Stale)
        ]
    );
    assert_eq!(pool.total_connection_count(), 0);
    // The holder checks the closed connection in: its socket is dropped, with no second
    // ConnectionClosed.
    pool.check_in(in_use, true, at(3)).unwrap();
    let actions = drain(&mut pool);
    assert!(closed(&actions).is_empty());
    assert!(actions.contains(&PoolAction::CloseConnection(in_use)));
    assert_eq!(
        events(&actions),
        vec![CmapEventKind::ConnectionCheckedIn {
            connection_id: in_use
        }]
    );
    assert!(pool.check_in(in_use, true, at(4)).is_err(), "only once");
}

#[test]
fn min_pool_size_establishments_stop_while_paused_and_resume_once_ready() {
    let mut pool = pool_with_runs(
        PoolOptions {
            min_pool_size: 1,
            ..PoolOptions::default()
        },
        BackgroundRuns::Every(Duration::from_millis(50)),
    );
    assert!(
        establishing(&drain(&mut pool)).is_empty(),
        "runs fill, not ready()"
    );
    pool.tick(at(0));
    let first = establishing(&drain(&mut pool));
    assert_eq!(first.len(), 1);
    pool.connection_established(first[0], at(0)).unwrap();
    drain(&mut pool);
    pool.clear(false, at(10));
    pool.tick(at(10));
    assert_eq!(
        closed(&drain(&mut pool)),
        vec![(first[0], ConnectionClosedReason::Stale)]
    );
    for millis in [60, 110, 160, 210] {
        pool.tick(at(millis));
        assert!(
            establishing(&drain(&mut pool)).is_empty(),
            "paused at {millis}"
        );
    }
    pool.ready(at(220));
    drain(&mut pool);
    assert_eq!(pool.next_background_run(), Some(at(260)));
    pool.tick(at(260));
    assert_eq!(establishing(&drain(&mut pool)).len(), 1);
}

#[test]
fn with_no_runs_only_a_check_out_closes_an_idle_connection() {
    let mut pool = pool_with_runs(
        PoolOptions {
            max_idle_time: Some(Duration::from_millis(10)),
            ..PoolOptions::default()
        },
        BackgroundRuns::Never,
    );
    let connection = check_out_new(&mut pool, at(0));
    pool.check_in(connection, true, at(0)).unwrap();
    pool.clear(false, at(1));
    pool.ready(at(1));
    drain(&mut pool);
    assert_eq!(pool.next_deadline(), None);
    pool.tick(at(50));
    assert!(closed(&drain(&mut pool)).is_empty());
    pool.check_out(at(50));
    let actions = drain(&mut pool);
    assert_eq!(
        closed(&actions),
        vec![(connection, ConnectionClosedReason::Stale)]
    );
    assert_eq!(establishing(&actions).len(), 1);
}

#[test]
fn when_due_a_run_comes_at_the_idle_expiry_and_at_once_after_a_clear() {
    let mut pool = pool(PoolOptions {
        max_idle_time: Some(Duration::from_millis(100)),
        ..PoolOptions::default()
    });
    assert_eq!(pool.background_runs(), BackgroundRuns::WhenDue);
    assert_eq!(pool.next_background_run(), None);
    let connection = check_out_new(&mut pool, at(0));
    pool.check_in(connection, true, at(20)).unwrap();
    drain(&mut pool);
    assert_eq!(pool.next_background_run(), Some(at(120)));
    pool.clear(false, at(30));
    assert_eq!(pool.next_background_run(), Some(at(30)));
}
