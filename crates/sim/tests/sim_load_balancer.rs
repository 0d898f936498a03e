//! The simulator's load balancer: per-connection round robin over the mongos nodes, the
//! handshake rules of a mongos behind a balancer, and a killed mongos.

mod sim_support;

use std::collections::HashSet;
use std::time::Duration;

use bson::{doc, oid::ObjectId};
use mongo_topology_sim::load_balancer::LOAD_BALANCER_SUPPORT_MISMATCH;
use mongo_topology_sim::{Deployment, DeploymentSpec, LoadBalancerCounts, MemberRef};
use sim_support::{code, ok, RawClient};

async fn lb_hello(client: &mut RawClient) -> bson::Document {
    client
        .command("admin", doc! { "hello": 1, "loadBalanced": true })
        .await
}

async fn two_mongos_behind_a_balancer() -> (Deployment, String) {
    let d = Deployment::start(DeploymentSpec::sharded(2).with_load_balancer(0))
        .await
        .unwrap();
    let lb = d.load_balancer_address().unwrap();
    (d, lb)
}

#[tokio::test]
async fn connections_alternate_between_the_mongos_each_with_its_service_id() {
    let (d, lb) = two_mongos_behind_a_balancer().await;
    assert_eq!(
        d.load_balancer_connection_string().unwrap(),
        format!("mongodb://{lb}/?loadBalanced=true")
    );
    let mut ids = Vec::new();
    for _ in 0..4 {
        let mut client = RawClient::connect(&lb).await;
        let reply = lb_hello(&mut client).await;
        assert_eq!(ok(&reply), 1.0, "{reply}");
        assert_eq!(reply.get_str("msg").unwrap(), "isdbgrid");
        ids.push(reply.get_object_id("serviceId").unwrap());
        // Later handshakes on the same connection carry no serviceId.
        let again = lb_hello(&mut client).await;
        assert_eq!(ok(&again), 1.0);
        assert!(again.get("serviceId").is_none(), "{again}");
    }
    let distinct: HashSet<ObjectId> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), 2, "two mongos, two serviceIds: {ids:?}");
    assert_ne!(ids[0], ids[1], "round robin per connection");
    assert_eq!(ids[0], ids[2]);
    assert_eq!(
        d.load_balancer_counts(),
        LoadBalancerCounts {
            connections: 4,
            handshakes: 8
        }
    );
}

#[tokio::test]
async fn a_hello_through_the_balancer_without_load_balanced_is_refused_and_closed() {
    let (d, lb) = two_mongos_behind_a_balancer().await;
    let mut client = RawClient::connect(&lb).await;
    let reply = client.hello().await;
    assert_eq!(ok(&reply), 0.0, "{reply}");
    assert_eq!(code(&reply), LOAD_BALANCER_SUPPORT_MISMATCH);
    assert!(client.closed_within(Duration::from_secs(5)).await);
    drop(d);
}

#[tokio::test]
async fn a_direct_connection_ignores_load_balanced() {
    let (d, _) = two_mongos_behind_a_balancer().await;
    let mut client = RawClient::connect(&d.addresses()[0]).await;
    let reply = lb_hello(&mut client).await;
    assert_eq!(ok(&reply), 1.0, "{reply}");
    assert!(reply.get("serviceId").is_none(), "{reply}");
    assert_eq!(d.load_balancer_counts(), LoadBalancerCounts::default());
}

#[tokio::test]
async fn killing_a_mongos_closes_its_connections_and_new_ones_go_to_the_other() {
    let (d, lb) = two_mongos_behind_a_balancer().await;
    let mut first = RawClient::connect(&lb).await;
    let first_id = lb_hello(&mut first)
        .await
        .get_object_id("serviceId")
        .unwrap();
    let mut second = RawClient::connect(&lb).await;
    let second_id = lb_hello(&mut second)
        .await
        .get_object_id("serviceId")
        .unwrap();
    assert_ne!(first_id, second_id);
    d.kill(&MemberRef::Index(0)).await.unwrap();
    // Mongos 0 got the first connection (round robin starts at the first node).
    assert!(first.closed_within(Duration::from_secs(5)).await);
    let ping = second.command("admin", doc! { "ping": 1 }).await;
    assert_eq!(ok(&ping), 1.0);
    for _ in 0..3 {
        let mut client = RawClient::connect(&lb).await;
        let reply = lb_hello(&mut client).await;
        assert_eq!(reply.get_object_id("serviceId").unwrap(), second_id);
    }
}

#[tokio::test]
async fn only_a_sharded_deployment_can_have_a_balancer() {
    let spec = DeploymentSpec::replica_set("rs0", 1, 0, 0).with_load_balancer(0);
    assert!(Deployment::start(spec).await.is_err());
}
