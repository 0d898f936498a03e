//! Control operations: elections, kill/restart, freeze/thaw, latency, lag, reconfig,
//! idle writes.

mod sim_support;

use std::time::{Duration, Instant};

use bson::doc;
use mongo_topology_sim::{ControlCommand, Deployment, DeploymentSpec, MemberRef, SimTimers};
use sim_support::{code, last_write_ts, ok, RawClient};

fn m(i: usize) -> MemberRef {
    MemberRef::Index(i)
}

fn counter(hello: &bson::Document) -> i64 {
    hello
        .get_document("topologyVersion")
        .unwrap()
        .get_i64("counter")
        .unwrap()
}

#[tokio::test]
async fn stepdown_and_elect_change_primary_term_and_election_id() {
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let a = d.addresses();
    let mut c0 = RawClient::connect(&a[0]).await;
    let mut c1 = RawClient::connect(&a[1]).await;
    let before = c0.hello().await;
    let election_before = before.get_object_id("electionId").unwrap();
    d.stepdown().unwrap();
    let h0 = c0.hello().await;
    assert_eq!(h0.get_bool("isWritablePrimary").ok(), Some(false));
    assert_eq!(h0.get_bool("secondary").ok(), Some(true));
    assert!(!h0.contains_key("primary"));
    assert!(
        counter(&h0) > counter(&before),
        "stepdown bumps topologyVersion"
    );
    assert!(d.stepdown().is_err(), "no primary left to step down");
    d.elect(&m(1)).unwrap();
    let h1 = c1.hello().await;
    assert_eq!(h1.get_bool("isWritablePrimary").ok(), Some(true));
    assert_eq!(h1.get_str("primary").ok(), Some(a[1].as_str()));
    let election_after = h1.get_object_id("electionId").unwrap();
    assert!(
        election_after > election_before,
        "new electionId is greater"
    );
    assert_eq!(
        c0.hello().await.get_str("primary").ok(),
        Some(a[1].as_str())
    );
    // Writes follow the primary.
    let w = c0
        .command("t", doc! { "insert": "c", "documents": [{}] })
        .await;
    assert_eq!(code(&w), 10107);
    let w = c1
        .command("t", doc! { "insert": "c", "documents": [{}] })
        .await;
    assert_eq!(ok(&w), 1.0);
    d.shutdown().await;
}

#[tokio::test]
async fn election_delay_leaves_the_set_without_primary_for_a_while() {
    let timers = SimTimers {
        election_delay: Duration::from_millis(300),
        ..SimTimers::default()
    };
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 2, 0, 0).with_timers(timers))
        .await
        .unwrap();
    let mut c = RawClient::connect(&d.addresses()[1]).await;
    let started = Instant::now();
    d.elect(&m(1)).unwrap();
    assert!(
        !c.hello().await.contains_key("primary"),
        "no primary during the election"
    );
    loop {
        if c.hello().await.get_bool("isWritablePrimary").ok() == Some(true) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "election never finished"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(started.elapsed() >= Duration::from_millis(300));
    d.shutdown().await;
}

#[tokio::test]
async fn kill_closes_sockets_and_restart_brings_a_new_process() {
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let a = d.addresses();
    let mut c = RawClient::connect(&a[0]).await;
    let pid = c
        .hello()
        .await
        .get_document("topologyVersion")
        .unwrap()
        .get_object_id("processId")
        .unwrap();
    d.kill(&m(0)).await.unwrap();
    assert!(
        c.closed_within(Duration::from_secs(2)).await,
        "existing connection closed"
    );
    assert!(
        tokio::net::TcpStream::connect(&a[0]).await.is_err(),
        "listener closed"
    );
    // Without its primary the set reports none.
    let mut c1 = RawClient::connect(&a[1]).await;
    assert!(!c1.hello().await.contains_key("primary"));
    assert!(d.elect(&m(0)).is_err(), "a dead member cannot be elected");
    assert!(d.kill(&m(0)).await.is_err());
    d.restart(&m(0)).await.unwrap();
    let h = RawClient::connect(&a[0]).await.hello().await;
    let tv = h.get_document("topologyVersion").unwrap();
    assert_ne!(tv.get_object_id("processId").unwrap(), pid);
    assert_eq!(h.get_bool("secondary").ok(), Some(true));
    assert!(d.restart(&m(0)).await.is_err(), "already running");
    d.shutdown().await;
}

#[tokio::test]
async fn freeze_never_answers_until_thaw() {
    let d = Deployment::start(DeploymentSpec::standalone())
        .await
        .unwrap();
    let addr = d.addresses()[0].clone();
    d.set_frozen(&m(0), true).unwrap();
    let mut c = RawClient::connect(&addr).await;
    c.send_msg("admin", doc! { "ping": 1 }, Default::default())
        .await;
    assert!(
        c.try_recv(Duration::from_millis(300)).await.is_err(),
        "a frozen node answered"
    );
    d.set_frozen(&m(0), false).unwrap();
    assert_eq!(ok(&c.command("admin", doc! { "ping": 1 }).await), 1.0);
    d.shutdown().await;
}

#[tokio::test]
async fn latency_delays_replies() {
    let d = Deployment::start(DeploymentSpec::standalone())
        .await
        .unwrap();
    let mut c = RawClient::connect(&d.addresses()[0]).await;
    d.control("latency 0 150".parse().unwrap()).await.unwrap();
    let t = Instant::now();
    c.hello().await;
    assert!(t.elapsed() >= Duration::from_millis(150));
    d.shutdown().await;
}

#[tokio::test]
async fn lag_and_idle_writes_shape_last_write() {
    let timers = SimTimers {
        idle_write_period: Duration::from_millis(100),
        ..SimTimers::default()
    };
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 2, 0, 0).with_timers(timers))
        .await
        .unwrap();
    let a = d.addresses();
    // lastWriteDate has whole-second resolution, as on real servers: sub-second idle
    // writes show in the opTime's timestamp increment.
    let date = |h: &bson::Document| {
        *h.get_document("lastWrite")
            .unwrap()
            .get_datetime("lastWriteDate")
            .unwrap()
    };
    let op = last_write_ts;
    let mut p = RawClient::connect(&a[0]).await;
    let mut s = RawClient::connect(&a[1]).await;
    let first = op(&p.hello().await);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let later_reply = p.hello().await;
    let later = date(&later_reply);
    let advanced = op(&later_reply);
    assert!(
        advanced.time > first.time || advanced.increment >= first.increment + 3,
        "idle writes advance lastWrite: {first:?} -> {advanced:?}"
    );
    d.set_lag(&m(1), Duration::from_secs(60)).unwrap();
    let lagging = op(&s.hello().await);
    assert!(
        lagging < op(&p.hello().await),
        "the lagging secondary is behind"
    );
    d.set_lag(&m(1), Duration::ZERO).unwrap();
    assert!(date(&s.hello().await) >= later);
    d.shutdown().await;
}

#[tokio::test]
async fn reconfig_adds_and_removes_members() {
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let a = d.addresses();
    let mut c = RawClient::connect(&a[0]).await;
    d.reconfig(false, &m(2)).unwrap();
    let h = c.hello().await;
    assert_eq!(h.get_i32("setVersion").ok(), Some(2));
    assert_eq!(h.get_array("hosts").unwrap().len(), 2);
    let removed = RawClient::connect(&a[2]).await.hello().await;
    assert_eq!(removed.get_bool("isreplicaset").ok(), Some(true));
    assert!(d.reconfig(false, &m(2)).is_err());
    assert!(
        d.reconfig(false, &m(0)).is_err(),
        "the primary cannot be removed"
    );
    d.reconfig(true, &m(2)).unwrap();
    let h = c.hello().await;
    assert_eq!(h.get_i32("setVersion").ok(), Some(3));
    assert_eq!(h.get_array("hosts").unwrap().len(), 3);
    d.shutdown().await;
}

#[tokio::test]
async fn text_commands_and_member_references() {
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let a = d.addresses();
    let port = d.ports()[2];
    let status = d.control(ControlCommand::Status).await.unwrap();
    assert!(status.contains(&format!("{} PRIMARY", a[0])), "{status}");
    d.control("stepdown".parse().unwrap()).await.unwrap();
    d.control(format!("elect {}", a[2]).parse().unwrap())
        .await
        .unwrap();
    let status = d.control(ControlCommand::Status).await.unwrap();
    assert!(status.contains(&format!("{} PRIMARY", a[2])), "{status}");
    assert_eq!(d.resolve(&MemberRef::Port(port)).unwrap(), 2);
    assert!(d.resolve(&MemberRef::Index(9)).is_err());
    assert!(d.control("recovering 1 on".parse().unwrap()).await.is_ok());
    assert!(d
        .control(ControlCommand::Status)
        .await
        .unwrap()
        .contains("RECOVERING"));
    d.shutdown().await;
}

#[tokio::test]
async fn dropping_the_deployment_closes_everything() {
    let d = Deployment::start(DeploymentSpec::replica_set("rs0", 2, 0, 0))
        .await
        .unwrap();
    let a = d.addresses();
    let mut c = RawClient::connect(&a[0]).await;
    c.hello().await;
    drop(d);
    assert!(
        c.closed_within(Duration::from_secs(2)).await,
        "connection survived the drop"
    );
    // The ports are free again.
    for addr in &a {
        let deadline = Instant::now() + Duration::from_secs(2);
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "{addr} still accepts connections"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
