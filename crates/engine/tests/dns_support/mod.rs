//! A real, authoritative DNS server for the tests, in-process on loopback (UDP and TCP on
//! one port of 127.0.0.1), built on `hickory-server`. It serves a zone the test can change
//! while it runs (for SRV polling) and can be told to fail: answer SERVFAIL, or not answer
//! at all (a timeout for the client).
//!
//! [`Zone::spec`] holds the records the Initial DNS Seedlist Discovery spec's test README
//! lists, under `test.build.10gen.cc`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{A, SRV, TXT};
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use hickory_server::Server;
use mongo_topology::DnsSettings;
use tokio::net::{TcpListener, UdpSocket};

/// The domain of the spec's records.
pub const DOMAIN: &str = "test.build.10gen.cc";

/// TTL of every record the tests add.
pub const TTL: u32 = 86400;

/// How the server answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// From the zone.
    Answer,
    /// SERVFAIL to every query.
    ServFail,
    /// SERVFAIL to SRV queries only; other records are answered from the zone.
    ServFailSrv,
    /// No answer at all (the client times out).
    Silent,
}

/// The records served: names are lower case, without the trailing dot.
#[derive(Clone, Debug, Default)]
pub struct Zone {
    /// SRV records: name to (target, port).
    pub srv: BTreeMap<String, Vec<(String, u16)>>,
    /// TXT records: name to records, each a list of character strings.
    pub txt: BTreeMap<String, Vec<Vec<Vec<u8>>>>,
    /// A records.
    pub a: BTreeMap<String, Ipv4Addr>,
    /// The TTL of every record served; `None`: [`TTL`].
    pub ttl: Option<u32>,
}

fn srv_name(service: &str, host: &str) -> String {
    format!("_{service}._tcp.{host}.{DOMAIN}")
}

impl Zone {
    /// The records of the spec's tests/README.md ("The following records are required").
    pub fn spec() -> Zone {
        let mut zone = Zone::default();
        for host in ["localhost", "localhost.sub"] {
            zone.a
                .insert(format!("{host}.{DOMAIN}"), Ipv4Addr::LOCALHOST);
        }
        let local = format!("localhost.{DOMAIN}");
        let srv: &[(&str, &str, u16, &str)] = &[
            ("mongodb", "test1", 27017, &local),
            ("mongodb", "test1", 27018, &local),
            ("mongodb", "test2", 27018, &local),
            ("mongodb", "test2", 27019, &local),
            ("mongodb", "test3", 27017, &local),
            ("mongodb", "test5", 27017, &local),
            ("mongodb", "test6", 27017, &local),
            ("mongodb", "test7", 27017, &local),
            ("mongodb", "test8", 27017, &local),
            ("mongodb", "test10", 27017, &local),
            ("mongodb", "test11", 27017, &local),
            ("mongodb", "test12", 27017, "localhost.build.10gen.cc"),
            ("mongodb", "test13", 27017, "test.build.10gen.cc"),
            (
                "mongodb",
                "test14",
                27017,
                "localhost.not-test.build.10gen.cc",
            ),
            (
                "mongodb",
                "test15",
                27017,
                "localhost.test.not-build.10gen.cc",
            ),
            (
                "mongodb",
                "test16",
                27017,
                "localhost.test.build.not-10gen.cc",
            ),
            (
                "mongodb",
                "test17",
                27017,
                "localhost.test.build.10gen.not-cc",
            ),
            (
                "mongodb",
                "test18",
                27017,
                "localhost.sub.test.build.10gen.cc",
            ),
            ("mongodb", "test19", 27017, "localhost.evil.build.10gen.cc"),
            ("mongodb", "test19", 27017, &local),
            ("mongodb", "test20", 27017, &local),
            ("mongodb", "test21", 27017, &local),
            ("customname", "test22", 27017, &local),
            // Not in the README's list, but srv-service-name.json expects two seeds, as the
            // live test zone serves them.
            ("customname", "test22", 27018, &local),
            ("mongodb", "test23", 8000, &local),
            ("mongodb", "test24", 8000, &local),
        ];
        for (service, host, port, target) in srv {
            zone.srv
                .entry(srv_name(service, host))
                .or_default()
                .push((target.to_string(), *port));
        }
        let txt: &[(&str, &[&str])] = &[
            ("test5", &["replicaSet=repl0&authSource=thisDB"]),
            ("test6", &["replicaSet=repl0"]),
            ("test6", &["authSource=otherDB"]),
            ("test7", &["ssl=false"]),
            ("test8", &["authSource"]),
            ("test10", &["socketTimeoutMS=500"]),
            ("test11", &["replicaS", "et=rep", "l0"]),
            ("test20", &["loadBalanced=true"]),
            ("test21", &["loadBalanced=false"]),
            ("test24", &["loadBalanced=true"]),
        ];
        for (host, strings) in txt {
            zone.txt
                .entry(format!("{host}.{DOMAIN}"))
                .or_default()
                .push(strings.iter().map(|s| s.as_bytes().to_vec()).collect());
        }
        zone
    }
}

struct State {
    zone: Zone,
    behaviour: Behaviour,
    queries: usize,
}

struct Handler {
    state: Arc<Mutex<State>>,
}

/// A running DNS server; stopped when dropped.
pub struct DnsServer {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    server: Server<Handler>,
}

impl DnsServer {
    /// Starts a server for `zone` on 127.0.0.1, UDP and TCP on the same port.
    pub async fn start(zone: Zone) -> DnsServer {
        let state = Arc::new(Mutex::new(State {
            zone,
            behaviour: Behaviour::Answer,
            queries: 0,
        }));
        let mut server = Server::new(Handler {
            state: state.clone(),
        });
        let (udp, tcp) = bind_pair().await;
        let address = udp.local_addr().unwrap();
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 64);
        DnsServer {
            address,
            state,
            server,
        }
    }

    /// A server for [`Zone::spec`].
    pub async fn spec() -> DnsServer {
        DnsServer::start(Zone::spec()).await
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Settings that send the engine's queries here, with a short timeout.
    pub fn dns_settings(&self) -> DnsSettings {
        DnsSettings {
            name_server: Some(self.address),
            timeout: Duration::from_secs(2),
            rescan_interval: None,
        }
    }

    /// Replaces the SRV records of `_{service}._tcp.{host}.test.build.10gen.cc`.
    pub fn set_srv(&self, service: &str, host: &str, records: &[(&str, u16)]) {
        let records = records.iter().map(|(t, p)| (t.to_string(), *p)).collect();
        self.edit(|zone| {
            zone.srv.insert(srv_name(service, host), records);
        });
    }

    /// Replaces the TXT records of `{host}.test.build.10gen.cc`.
    pub fn set_txt(&self, host: &str, records: Vec<Vec<Vec<u8>>>) {
        self.edit(|zone| {
            zone.txt.insert(format!("{host}.{DOMAIN}"), records);
        });
    }

    /// Changes the zone while the server runs.
    pub fn edit(&self, change: impl FnOnce(&mut Zone)) {
        change(&mut self.state.lock().unwrap().zone);
    }

    /// Answer from the zone, SERVFAIL, or stay silent.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.state.lock().unwrap().behaviour = behaviour;
    }

    /// How many queries arrived so far.
    pub fn queries(&self) -> usize {
        self.state.lock().unwrap().queries
    }

    /// Stops answering for good (the sockets close).
    pub async fn stop(mut self) {
        let _ = self.server.shutdown_gracefully().await;
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.server.shutdown_token().cancel();
    }
}

/// A UDP socket and a TCP listener on the same free port of 127.0.0.1.
async fn bind_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = udp.local_addr().unwrap();
        if let Ok(tcp) = TcpListener::bind(address).await {
            return (udp, tcp);
        }
    }
    panic!("no free port for both UDP and TCP on 127.0.0.1");
}

fn records_for(zone: &Zone, name: &str, kind: RecordType) -> Vec<Record> {
    let Ok(owner) = Name::from_str(&format!("{name}.")) else {
        return Vec::new();
    };
    let ttl = zone.ttl.unwrap_or(TTL);
    let record = |data: RData| Record::from_rdata(owner.clone(), ttl, data);
    match kind {
        RecordType::SRV => zone
            .srv
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|(target, port)| {
                let target = raw_name(target)?;
                Some(record(RData::SRV(SRV::new(0, 0, *port, target))))
            })
            .collect(),
        RecordType::TXT => zone
            .txt
            .get(name)
            .into_iter()
            .flatten()
            .map(|strings| {
                let parts: Vec<&[u8]> = strings.iter().map(Vec::as_slice).collect();
                record(RData::TXT(TXT::from_bytes(parts)))
            })
            .collect(),
        RecordType::A => zone
            .a
            .get(name)
            .map(|ip| record(RData::A(A(*ip))))
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// A name from raw labels, so a test can serve targets a resolver would refuse to parse
/// (e.g. `bad!name.example.com`).
fn raw_name(text: &str) -> Option<Name> {
    let labels: Vec<&[u8]> = text.split('.').map(str::as_bytes).collect();
    let mut name = Name::from_labels(labels).ok()?;
    name.set_fqdn(true);
    Some(name)
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let builder = MessageResponseBuilder::from_message_request(request);
        let question = request
            .request_info()
            .ok()
            .map(|info| (info.query.name().to_string(), info.query.query_type()));
        let (behaviour, answers, known) = {
            let mut state = self.state.lock().unwrap();
            state.queries += 1;
            match &question {
                Some((name, kind)) => {
                    let name = name.trim_end_matches('.').to_ascii_lowercase();
                    let zone = &state.zone;
                    let known = zone.srv.contains_key(&name)
                        || zone.txt.contains_key(&name)
                        || zone.a.contains_key(&name);
                    (state.behaviour, records_for(zone, &name, *kind), known)
                }
                None => (state.behaviour, Vec::new(), false),
            }
        };
        let behaviour = match (behaviour, &question) {
            (Behaviour::ServFailSrv, Some((_, RecordType::SRV))) => Behaviour::ServFail,
            (Behaviour::ServFailSrv, _) => Behaviour::Answer,
            (other, _) => other,
        };
        let code = match (behaviour, &question) {
            (Behaviour::Silent, _) => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                ResponseCode::ServFail
            }
            (Behaviour::ServFail | Behaviour::ServFailSrv, _) | (_, None) => ResponseCode::ServFail,
            (Behaviour::Answer, Some(_)) if !known => ResponseCode::NXDomain,
            (Behaviour::Answer, Some(_)) => ResponseCode::NoError,
        };
        if code != ResponseCode::NoError {
            let response = builder.error_msg(&request.metadata, code);
            return match response_handle.send_response(response).await {
                Ok(info) => info,
                Err(_) => servfail_info(request),
            };
        }
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        let response = builder.build(metadata, answers.iter(), [], [], []);
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(_) => servfail_info(request),
        }
    }
}

fn servfail_info(request: &Request) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = ResponseCode::ServFail;
    hickory_server::proto::op::Header {
        metadata,
        counts: Default::default(),
    }
    .into()
}
