//! What each emulated version says, field by field, as checked against the server sources
//! (see the table in `mongo_topology::sim::versions`).

mod sim_support;

use bson::doc;
use mongo_topology::sim::versions::ALL_VERSIONS;
use mongo_topology::sim::{Deployment, DeploymentSpec, ServerVersion};
use sim_support::RawClient;

#[tokio::test]
async fn handshake_fields_by_version() {
    for version in ALL_VERSIONS {
        let spec = DeploymentSpec::replica_set("rs0", 2, 0, 0).with_version(version);
        let d = Deployment::start(spec).await.unwrap();
        let mut c = RawClient::connect(&d.addresses()[0]).await;
        // hello exists everywhere and answers isWritablePrimary, never ismaster.
        let h = c.hello().await;
        assert_eq!(
            h.get_bool("isWritablePrimary").ok(),
            Some(true),
            "{version}"
        );
        assert!(!h.contains_key("ismaster"), "{version}");
        assert!(!h.contains_key("helloOk"), "{version}: no helloOk asked");
        // Legacy isMaster answers ismaster; helloOk (any value) is echoed as true from 4.4.
        let m = c
            .command("admin", doc! { "isMaster": 1, "helloOk": false })
            .await;
        assert_eq!(m.get_bool("ismaster").ok(), Some(true), "{version}");
        assert!(!m.contains_key("isWritablePrimary"), "{version}");
        let modern = version >= ServerVersion::V4_4;
        assert_eq!(
            m.get_bool("helloOk").ok(),
            modern.then_some(true),
            "{version}"
        );
        if modern {
            assert_eq!(m.keys().next().map(String::as_str), Some("helloOk"));
        }
        assert_eq!(h.contains_key("topologyVersion"), modern, "{version}");
        assert_eq!(
            h.contains_key("connectionId"),
            version >= ServerVersion::V4_2,
            "{version}"
        );
        assert_eq!(h.get_i32("minWireVersion").ok(), Some(0));
        assert_eq!(
            h.get_i32("maxWireVersion").ok(),
            Some(version.max_wire_version())
        );
        assert_eq!(h.get_i32("maxBsonObjectSize").ok(), Some(16_777_216));
        assert_eq!(h.get_i32("maxMessageSizeBytes").ok(), Some(48_000_000));
        assert_eq!(h.get_i32("maxWriteBatchSize").ok(), Some(100_000));
        assert_eq!(h.get_i32("logicalSessionTimeoutMinutes").ok(), Some(30));
        assert_eq!(h.get_bool("readOnly").ok(), Some(false));
        assert!(h.get_datetime("localTime").is_ok());
        let lw = h.get_document("lastWrite").unwrap();
        let op = lw.get_document("opTime").unwrap();
        assert!(op.get_timestamp("ts").is_ok() && op.get_i64("t").is_ok());
        for key in ["lastWriteDate", "majorityWriteDate"] {
            assert!(lw.get_datetime(key).is_ok(), "{version} {key}");
        }
        assert!(lw.get_document("majorityOpTime").is_ok());
        d.shutdown().await;
    }
}
