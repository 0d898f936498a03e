//! Synthetic observations for the rules' unit tests.

use std::time::{Duration, SystemTime};

use mongo_topology::bson::{doc, Document};
use mongo_topology::options::ConnectionString;
use mongo_topology::sdam::ServerType;
use mongo_topology::ServerAddress;

use crate::cli::doctor::observations::{Observations, Probe, Proof, ProvenServer};

/// The members of [`healthy_set`].
pub const MEMBERS: [&str; 3] = ["a:27017", "b:27017", "c:27017"];

/// An address from a test literal.
pub fn addr(text: &str) -> ServerAddress {
    ServerAddress::parse(text).unwrap()
}

/// Observations of a connection string, before any I/O.
pub fn observe(uri: &str) -> Observations {
    let mut observations = Observations::from_uri(ConnectionString::parse(uri).unwrap());
    observations.now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    observations
}

/// A replica set member's hello reply: `rs0`, members [`MEMBERS`], wire 0..21.
pub fn member(me: &str, primary: bool) -> Document {
    doc! {
        "isWritablePrimary": primary,
        "secondary": !primary,
        "setName": "rs0",
        "hosts": MEMBERS.to_vec(),
        "me": me,
        "primary": MEMBERS[0],
        "minWireVersion": 0,
        "maxWireVersion": 21,
        "lastWrite": { "lastWriteDate": mongo_topology::bson::DateTime::from_millis(1_800_000_000_000) },
        "ok": 1.0,
    }
}

/// Records `hello` as the probe of `address`, with a 1 ms round trip.
pub fn with_hello(observations: &mut Observations, address: &str, hello: Document) {
    observations.probes.insert(
        addr(address),
        Probe {
            resolved: None,
            hello: Some(Ok(hello)),
            round_trip: Some(Duration::from_millis(1)),
            version: Some("7.0.0".to_owned()),
            set_status: None,
        },
    );
}

/// Records a failed probe of `address`.
pub fn with_failure(observations: &mut Observations, address: &str, error: &str) {
    observations.probes.insert(
        addr(address),
        Probe {
            resolved: Some(Ok(vec!["127.0.0.1".parse().unwrap()])),
            hello: Some(Err(error.to_owned())),
            ..Probe::default()
        },
    );
}

/// A proof where reads and writes worked on `address`.
pub fn proven(address: &str, server_type: ServerType) -> Proof {
    let server = ProvenServer {
        address: addr(address),
        server_type,
        service_id: None,
    };
    Proof {
        read: Ok(server.clone()),
        write: Ok(server),
    }
}

/// A healthy 3-member set seen from `uri` (which should name some of [`MEMBERS`]): every
/// member answered, `a` is the primary, reads and writes proven.
pub fn healthy_set(uri: &str) -> Observations {
    let mut observations = observe(uri);
    for (i, me) in MEMBERS.iter().enumerate() {
        with_hello(&mut observations, me, member(me, i == 0));
    }
    observations.discovery_complete = true;
    observations.proof = Some(proven(MEMBERS[0], ServerType::RsPrimary));
    observations
}

/// An empty description of `kind`.
pub fn topology(
    kind: mongo_topology::sdam::TopologyType,
) -> std::sync::Arc<mongo_topology::sdam::TopologyDescription> {
    std::sync::Arc::new(mongo_topology::sdam::TopologyDescription::with_seeds(
        kind,
        None,
        [],
    ))
}
