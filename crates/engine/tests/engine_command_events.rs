//! Command monitoring events of `run_command`, against the simulator: started, succeeded
//! and failed, with the fields the Command Logging and Monitoring spec gives them, and
//! authentication commands redacted.

use std::time::Duration;

use bson::doc;
use mongo_topology::selection::SelectionCriteria;
use mongo_topology::{
    Cluster, ClusterSettings, CommandEvent, CommandStage, EventKind, EventSubscriber,
};
use mongo_topology_sim::{Deployment, DeploymentSpec};

async fn next_command_event(events: &mut EventSubscriber) -> CommandEvent {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let EventKind::Command(event) = events.recv().await.unwrap().kind {
                return event;
            }
        }
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn started_succeeded_and_failed_events_carry_the_spec_fields() {
    let deployment = Deployment::start(DeploymentSpec::standalone())
        .await
        .unwrap();
    let uri = format!(
        "{}?serverSelectionTimeoutMS=5000",
        deployment.connection_string()
    );
    let (cluster, mut events) =
        Cluster::with_events(ClusterSettings::parse(&uri).unwrap()).unwrap();
    let criteria = SelectionCriteria::write();
    cluster
        .run_command(
            "db",
            doc! { "insert": "c", "documents": [{ "_id": 1 }] },
            &criteria,
        )
        .await
        .unwrap();
    let started = next_command_event(&mut events).await;
    assert_eq!(started.command_name, "insert");
    assert_eq!(started.database_name, "db");
    assert!(started.server_connection_id.is_some());
    assert_eq!(started.service_id, None);
    let CommandStage::Started { command } = &started.stage else {
        panic!("{started:?}");
    };
    assert_eq!(command.get_str("insert").ok(), Some("c"));
    assert_eq!(command.get_str("$db").ok(), Some("db"));
    let succeeded = next_command_event(&mut events).await;
    assert_eq!(succeeded.request_id, started.request_id);
    assert_eq!(succeeded.connection_id, started.connection_id);
    let CommandStage::Succeeded { reply, .. } = &succeeded.stage else {
        panic!("{succeeded:?}");
    };
    assert_eq!(reply.get_i32("n").ok(), Some(1));

    cluster
        .run_command(
            "admin",
            doc! { "configureFailPoint": "failCommand", "mode": { "times": 1 },
            "data": { "failCommands": ["find"], "errorCode": 2 } },
            &criteria,
        )
        .await
        .unwrap();
    next_command_event(&mut events).await;
    next_command_event(&mut events).await;
    let error = cluster
        .run_command("db", doc! { "find": "c" }, &criteria)
        .await;
    assert!(error.is_err());
    assert!(matches!(
        next_command_event(&mut events).await.stage,
        CommandStage::Started { .. }
    ));
    let failed = next_command_event(&mut events).await;
    assert_eq!(failed.command_name, "find");
    assert!(
        matches!(failed.stage, CommandStage::Failed { code: Some(2), .. }),
        "{failed:?}"
    );

    // Authentication commands are published without their content.
    let _ = cluster
        .run_command(
            "admin",
            doc! { "saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": "secret" },
            &criteria,
        )
        .await;
    let started = next_command_event(&mut events).await;
    assert_eq!(started.command_name, "saslStart");
    assert!(matches!(&started.stage, CommandStage::Started { command } if command.is_empty()));
    let finished = next_command_event(&mut events).await;
    match &finished.stage {
        CommandStage::Succeeded { reply, .. } => assert!(reply.is_empty()),
        CommandStage::Failed { failure, .. } => assert!(failure.is_empty()),
        other => panic!("{other:?}"),
    }
    cluster.close().await;
    deployment.shutdown().await;
}
