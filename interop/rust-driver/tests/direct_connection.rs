//! `directConnection=true` to one secondary: reads work, writes are refused with 10107.

use mongo_topology_rust_driver_interop::{
    all_known, client, describe, reply_ok, server_error, server_types, shut_down, SdamLog,
};
use mongo_topology_sim::{Deployment, DeploymentSpec};
use mongodb::bson::{doc, Document};
use mongodb::error::ErrorKind;
use mongodb::options::{ReadPreference, SelectionCriteria};
use mongodb::{ServerType, TopologyType};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_work_and_inserts_fail_with_not_writable_primary() {
    let deployment = Deployment::start(DeploymentSpec::replica_set("rs0", 3, 0, 0))
        .await
        .unwrap();
    let secondary = deployment.addresses()[2].clone();
    let log = SdamLog::new();
    let client = client(
        &format!("mongodb://{secondary}/?directConnection=true"),
        &log,
    )
    .await
    .unwrap();
    let secondary_preferred =
        SelectionCriteria::ReadPreference(ReadPreference::SecondaryPreferred { options: None });

    let reply = client
        .database("admin")
        .run_command(doc! { "ping": 1 })
        .selection_criteria(secondary_preferred.clone())
        .await
        .unwrap();
    assert!(reply_ok(&reply), "{reply:?}");
    let things = client.database("test").collection::<Document>("things");
    // Nothing was inserted: a find on the secondary answers an empty batch.
    let mut cursor = things
        .find(doc! {})
        .selection_criteria(secondary_preferred.clone())
        .await
        .unwrap();
    assert!(
        !cursor.advance().await.unwrap(),
        "the simulator returned a document"
    );
    drop(cursor); // Client::shutdown waits for live cursors.
    let found = things
        .find_one(doc! { "x": 1 })
        .selection_criteria(secondary_preferred)
        .await
        .unwrap();
    assert_eq!(found, None);

    // The driver sees exactly one server, a secondary of rs0, in a Single topology.
    let topology = log
        .wait_for_topology("the secondary", Duration::from_secs(5), all_known)
        .await
        .unwrap();
    assert_eq!(
        topology.topology_type(),
        TopologyType::Single,
        "{}",
        describe(&topology)
    );
    assert_eq!(
        server_types(&topology),
        [(secondary.clone(), ServerType::RsSecondary)]
            .into_iter()
            .collect(),
    );

    let error = things.insert_one(doc! { "x": 1 }).await.unwrap_err();
    assert!(matches!(*error.kind, ErrorKind::Command(_)), "{error}");
    assert_eq!(
        server_error(&error),
        Some((10107, "NotWritablePrimary".to_owned())),
        "{error}"
    );
    assert!(error.contains_label("RetryableWriteError"), "{error}");

    shut_down(client, deployment).await.unwrap();
}
