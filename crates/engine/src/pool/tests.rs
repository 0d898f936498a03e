//! The async connection pool ([`Pool`]) against the simulator: real connections,
//! handshakes and commands, with the pool's rules from its state machine. Unit tests: the
//! pool is internal to the engine (users see it through `Cluster`).

use std::sync::Arc;
use std::time::Duration;

use crate::pool::{HandshakeFactory, Pool, PoolError, PoolState};
use crate::{
    CheckOutError, CheckOutFailedReason, ClusterSettings, CmapEvent, CmapEventKind,
    ConnectionClosedReason, GivenPoolOptions, PoolOptions, ServerAddress,
};
use bson::doc;
use mongo_topology_sim::{Deployment, DeploymentSpec};
use tokio::sync::mpsc;

/// A generous bound for things that should happen at once (only hit when broken).
const PROMPTLY: Duration = Duration::from_secs(5);

async fn one_member() -> Deployment {
    Deployment::start(DeploymentSpec::replica_set("rs0", 1, 0, 0))
        .await
        .unwrap()
}

fn pool(address: &str, options: PoolOptions) -> (Pool, mpsc::UnboundedReceiver<CmapEvent>) {
    let (sender, events) = mpsc::unbounded_channel();
    let pool = Pool::new(
        ServerAddress::parse(address).unwrap(),
        options,
        Arc::new(HandshakeFactory::default()),
        Some(sender),
    )
    .unwrap();
    (pool, events)
}

fn names(events: &mut mpsc::UnboundedReceiver<CmapEvent>) -> Vec<&'static str> {
    std::iter::from_fn(|| events.try_recv().ok())
        .map(|event| event.kind.name())
        .collect()
}

/// Waits for the next event named `name`, skipping others; returns it.
async fn next_named(events: &mut mpsc::UnboundedReceiver<CmapEvent>, name: &str) -> CmapEventKind {
    tokio::time::timeout(PROMPTLY, async {
        loop {
            let event = events.recv().await.unwrap();
            if event.kind.name() == name {
                return event.kind;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {name} event"))
}

#[tokio::test]
async fn a_checked_out_connection_runs_commands_and_is_reused_after_drop() {
    let d = one_member().await;
    let (pool, mut events) = pool(&d.addresses()[0], PoolOptions::default());
    pool.ready();
    let mut conn = pool.check_out().await.unwrap();
    let first = conn.pool_id();
    let reply = conn.command("admin", doc! { "ping": 1 }).await.unwrap();
    assert_eq!(reply.get_f64("ok").ok(), Some(1.0), "{reply}");
    drop(conn);
    let again = pool.check_out().await.unwrap();
    assert_eq!(again.pool_id(), first);
    assert_eq!(pool.total_connection_count(), 1);
    drop(again);
    assert_eq!(
        names(&mut events),
        [
            "ConnectionPoolCreated",
            "ConnectionPoolReady",
            "ConnectionCheckOutStarted",
            "ConnectionCreated",
            "ConnectionReady",
            "ConnectionCheckedOut",
            "ConnectionCheckedIn",
            "ConnectionCheckOutStarted",
            "ConnectionCheckedOut",
            "ConnectionCheckedIn",
        ]
    );
    d.shutdown().await;
}

#[tokio::test]
async fn a_full_pool_times_out_waiters_after_wait_queue_timeout() {
    let d = one_member().await;
    let options = PoolOptions {
        max_pool_size: 1,
        wait_queue_timeout: Some(Duration::from_millis(100)),
        ..PoolOptions::default()
    };
    let (pool, _events) = pool(&d.addresses()[0], options);
    pool.ready();
    let held = pool.check_out().await.unwrap();
    let started = tokio::time::Instant::now();
    let error = pool.check_out().await.unwrap_err();
    assert!(
        matches!(
            error,
            PoolError::CheckOut {
                error: CheckOutError::Timeout,
                ..
            }
        ),
        "{error}"
    );
    assert!(started.elapsed() >= Duration::from_millis(100));
    drop(held);
    pool.check_out().await.unwrap();
    d.shutdown().await;
}

#[tokio::test]
async fn clear_pauses_the_pool_and_closes_returned_connections_as_stale() {
    let d = one_member().await;
    let (pool, mut events) = pool(&d.addresses()[0], PoolOptions::default());
    pool.ready();
    let conn = pool.check_out().await.unwrap();
    assert_eq!(conn.generation(), 0);
    pool.clear(false);
    assert_eq!(pool.state(), PoolState::Paused);
    let error = pool.check_out().await.unwrap_err();
    assert!(
        matches!(
            error,
            PoolError::CheckOut {
                error: CheckOutError::PoolCleared,
                ..
            }
        ),
        "{error}"
    );
    drop(conn);
    let closed = next_named(&mut events, "ConnectionClosed").await;
    assert!(matches!(
        closed,
        CmapEventKind::ConnectionClosed {
            reason: ConnectionClosedReason::Stale,
            ..
        }
    ));
    pool.ready();
    let fresh = pool.check_out().await.unwrap();
    assert_eq!(fresh.generation(), 1);
    assert_eq!(pool.total_connection_count(), 1);
    d.shutdown().await;
}

#[tokio::test]
async fn min_pool_size_is_filled_in_the_background_once_ready() {
    let d = one_member().await;
    let options = PoolOptions {
        min_pool_size: 3,
        ..PoolOptions::default()
    };
    let (pool, mut events) = pool(&d.addresses()[0], options);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(pool.total_connection_count(), 0, "paused pools stay empty");
    pool.ready();
    for _ in 0..3 {
        next_named(&mut events, "ConnectionReady").await;
    }
    assert_eq!(pool.available_connection_count(), 3);
    d.shutdown().await;
}

#[tokio::test]
async fn a_dropped_check_out_leaves_the_wait_queue() {
    let d = one_member().await;
    let options = PoolOptions {
        max_pool_size: 1,
        ..PoolOptions::default()
    };
    let (pool, _events) = pool(&d.addresses()[0], options);
    pool.ready();
    let held = pool.check_out().await.unwrap();
    let gave_up = tokio::time::timeout(Duration::from_millis(50), pool.check_out()).await;
    assert!(gave_up.is_err());
    drop(held);
    // Had the abandoned waiter stayed first in line, this would wait for ever.
    let conn = tokio::time::timeout(PROMPTLY, pool.check_out())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pool.total_connection_count(), 1);
    drop(conn);
    d.shutdown().await;
}

#[tokio::test]
async fn an_establishment_failure_fails_the_check_out_with_its_cause() {
    // A port nobody listens on: bind, note the port, close.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let (pool, mut events) = pool(&address, PoolOptions::default());
    pool.ready();
    let error = pool.check_out().await.unwrap_err();
    assert!(
        matches!(error, PoolError::Establishment { generation: 0, .. }),
        "{error}"
    );
    let closed = next_named(&mut events, "ConnectionClosed").await;
    assert!(matches!(
        closed,
        CmapEventKind::ConnectionClosed {
            reason: ConnectionClosedReason::Error,
            ..
        }
    ));
    let failed = next_named(&mut events, "ConnectionCheckOutFailed").await;
    assert!(matches!(
        failed,
        CmapEventKind::ConnectionCheckOutFailed {
            reason: CheckOutFailedReason::ConnectionError,
            ..
        }
    ));
    assert_eq!(pool.total_connection_count(), 0);
}

#[tokio::test]
async fn clear_with_interrupt_in_use_connections_interrupts_checked_out_ones() {
    let d = one_member().await;
    let (pool, mut events) = pool(&d.addresses()[0], PoolOptions::default());
    pool.ready();
    let mut conn = pool.check_out().await.unwrap();
    assert!(!conn.is_interrupted());
    pool.clear(true);
    tokio::time::timeout(PROMPTLY, conn.interrupted())
        .await
        .unwrap();
    drop(conn);
    let closed = next_named(&mut events, "ConnectionClosed").await;
    assert!(matches!(closed, CmapEventKind::ConnectionClosed { .. }));
    assert_eq!(pool.total_connection_count(), 0);
    d.shutdown().await;
}

#[tokio::test]
async fn close_closes_idle_connections_and_refuses_check_outs() {
    let d = one_member().await;
    let (pool, mut events) = pool(&d.addresses()[0], PoolOptions::default());
    pool.ready();
    drop(pool.check_out().await.unwrap());
    pool.close();
    assert_eq!(pool.total_connection_count(), 0);
    let closed = next_named(&mut events, "ConnectionClosed").await;
    assert!(matches!(
        closed,
        CmapEventKind::ConnectionClosed {
            reason: ConnectionClosedReason::PoolClosed,
            ..
        }
    ));
    let error = pool.check_out().await.unwrap_err();
    assert!(
        matches!(
            error,
            PoolError::CheckOut {
                error: CheckOutError::PoolClosed,
                ..
            }
        ),
        "{error}"
    );
    d.shutdown().await;
}

#[tokio::test]
async fn idle_connections_are_reaped_by_the_background_task() {
    let d = one_member().await;
    let options = PoolOptions {
        max_idle_time: Some(Duration::from_millis(50)),
        ..PoolOptions::default()
    };
    let (pool, mut events) = pool(&d.addresses()[0], options);
    pool.ready();
    drop(pool.check_out().await.unwrap());
    let closed = next_named(&mut events, "ConnectionClosed").await;
    assert!(matches!(
        closed,
        CmapEventKind::ConnectionClosed {
            reason: ConnectionClosedReason::Idle,
            ..
        }
    ));
    assert_eq!(pool.total_connection_count(), 0);
    d.shutdown().await;
}

#[tokio::test]
async fn pool_created_reports_the_options_the_connection_string_gave_and_only_those() {
    let d = one_member().await;
    let settings = ClusterSettings::parse(&format!(
        "mongodb://{}/?maxPoolSize=50&minPoolSize=0&maxIdleTimeMS=100",
        d.addresses()[0]
    ))
    .unwrap();
    assert_eq!(
        settings.pool.max_idle_time,
        Some(Duration::from_millis(100))
    );
    let (_pool, mut events) = pool(&d.addresses()[0], settings.pool);
    let created = next_named(&mut events, "ConnectionPoolCreated").await;
    assert_eq!(
        created,
        CmapEventKind::PoolCreated {
            options: GivenPoolOptions {
                max_pool_size: Some(50),
                min_pool_size: Some(0),
                max_idle_time: Some(Duration::from_millis(100)),
                max_connecting: None,
                wait_queue_timeout: None,
            }
        }
    );
    d.shutdown().await;
}

#[tokio::test]
async fn max_idle_time_ms_of_the_connection_string_closes_an_idle_connection_in_time() {
    let d = one_member().await;
    let settings =
        ClusterSettings::parse(&format!("mongodb://{}/?maxIdleTimeMS=50", d.addresses()[0]))
            .unwrap();
    let (pool, mut events) = pool(&d.addresses()[0], settings.pool);
    pool.ready();
    let conn = pool.check_out().await.unwrap();
    let id = conn.pool_id();
    drop(conn);
    // Closed by the pool's timer at the expiry, with no check-out to meet it.
    let closed = next_named(&mut events, "ConnectionClosed").await;
    assert_eq!(
        closed,
        CmapEventKind::ConnectionClosed {
            connection_id: id,
            reason: ConnectionClosedReason::Idle
        }
    );
    assert_eq!(pool.total_connection_count(), 0);
    d.shutdown().await;
}

#[tokio::test]
async fn an_interrupting_clear_closes_in_use_connections_without_waiting_for_check_in() {
    let d = one_member().await;
    let (pool, mut events) = pool(&d.addresses()[0], PoolOptions::default());
    pool.ready();
    let mut held = pool.check_out().await.unwrap();
    let id = held.pool_id();
    pool.clear(true);
    tokio::time::timeout(PROMPTLY, held.interrupted())
        .await
        .unwrap();
    // The background run the clear scheduled closes it while it is still held.
    let closed = next_named(&mut events, "ConnectionClosed").await;
    assert_eq!(
        closed,
        CmapEventKind::ConnectionClosed {
            connection_id: id,
            reason: ConnectionClosedReason::Stale
        }
    );
    assert_eq!(pool.total_connection_count(), 0);
    drop(held);
    next_named(&mut events, "ConnectionCheckedIn").await;
    assert!(
        !names(&mut events).contains(&"ConnectionClosed"),
        "closed once"
    );
    d.shutdown().await;
}

#[tokio::test]
async fn min_pool_size_stops_while_cleared_and_resumes_once_ready_again() {
    let d = one_member().await;
    let options = PoolOptions {
        min_pool_size: 1,
        ..PoolOptions::default()
    };
    let (pool, mut events) = pool(&d.addresses()[0], options);
    pool.ready();
    next_named(&mut events, "ConnectionReady").await;
    pool.clear(false);
    // The clear's background run closes the stale available connection at once...
    let closed = next_named(&mut events, "ConnectionClosed").await;
    assert!(matches!(
        closed,
        CmapEventKind::ConnectionClosed {
            reason: ConnectionClosedReason::Stale,
            ..
        }
    ));
    // ...and creates nothing while the pool is paused.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!names(&mut events).contains(&"ConnectionCreated"));
    assert_eq!(pool.total_connection_count(), 0);
    pool.ready();
    next_named(&mut events, "ConnectionCreated").await;
    next_named(&mut events, "ConnectionReady").await;
    assert_eq!(pool.total_connection_count(), 1);
    d.shutdown().await;
}
