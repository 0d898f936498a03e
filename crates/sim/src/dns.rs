//! The simulator's loopback DNS server: it publishes a fleet of simulated mongos under one
//! name, as operators publish theirs, so `mongodb+srv://NAME/` finds them. Authoritative
//! for NAME only, on UDP and TCP of one port (the resolver retries a truncated UDP answer
//! over TCP), built on `hickory-server` (no hand-written DNS encoding):
//!
//! - `_mongodb._tcp.NAME` SRV: one record per mongos, target `TARGET_LABEL.NAME` (a host
//!   name under NAME, as the Initial DNS Seedlist Discovery spec requires), port the mongos's;
//! - `TARGET_LABEL.NAME` A: the address the mongos listen on;
//! - `NAME` TXT: the options given (`authSource`, `replicaSet`, `loadBalanced`), if any.
//!
//! Other names under NAME answer NXDOMAIN; names outside it are refused.

use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Metadata, ResponseCode};
use hickory_server::proto::rr::rdata::{A, SRV, TXT};
use hickory_server::proto::rr::{Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use hickory_server::Server;
use tokio::net::{TcpListener, UdpSocket};

/// The first label of the host name every SRV record targets (`mongos.NAME`).
pub const TARGET_LABEL: &str = "mongos";

/// TTL of every record served (60 s, so that a client polling SRV sees a change soon).
pub const TTL: u32 = 60;

/// The most SRV records served under one name: a DNS message holds at most 65,535 bytes
/// (over TCP), and each record takes about 20 (name compression on); 3,000 leave room for
/// the question and the header. Larger fleets are reached with `--uri-file` instead.
pub const MAX_SRV_RECORDS: usize = 3_000;

/// What [`SrvServer::start`] publishes.
#[derive(Clone, Debug)]
pub struct SrvZone {
    /// The name clients put in `mongodb+srv://NAME/` (at least two labels, e.g. `fleet.test`).
    pub name: String,
    /// The IPv4 address every mongos listens on.
    pub address: Ipv4Addr,
    /// The port of every mongos.
    pub ports: Vec<u16>,
    /// The TXT record of NAME (URI options), if any.
    pub txt: Option<String>,
}

/// Why the DNS server could not start.
#[derive(Debug, thiserror::Error)]
pub enum DnsServerError {
    /// The name is not a DNS name of at least two labels.
    #[error("{0:?} is not a DNS name of at least two labels (e.g. fleet.test)")]
    BadName(String),
    /// More records than one DNS message holds.
    #[error(
        "{0} SRV records do not fit in one DNS message (at most {MAX_SRV_RECORDS}); \
         give clients the connection string in a file (--uri-file) instead"
    )]
    TooManyRecords(usize),
    /// The port could not be bound.
    #[error("cannot listen for DNS on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// The records, ready to answer with.
struct Records {
    /// NAME, lower case, with its trailing dot.
    name: Name,
    srv_name: Name,
    target: Name,
    srv: Vec<Record>,
    a: Vec<Record>,
    txt: Vec<Record>,
}

impl Records {
    fn new(zone: &SrvZone) -> Result<Records, DnsServerError> {
        let bad_name = || DnsServerError::BadName(zone.name.clone());
        let text = zone.name.trim_end_matches('.').to_ascii_lowercase();
        if text.split('.').count() < 2 || text.split('.').any(str::is_empty) {
            return Err(bad_name());
        }
        let parse = |text: &str| Name::from_str(text).map_err(|_| bad_name());
        let name = parse(&format!("{text}."))?;
        let srv_name = parse(&format!("_mongodb._tcp.{text}."))?;
        let target = parse(&format!("{TARGET_LABEL}.{text}."))?;
        if zone.ports.len() > MAX_SRV_RECORDS {
            return Err(DnsServerError::TooManyRecords(zone.ports.len()));
        }
        let srv = zone
            .ports
            .iter()
            .map(|&port| {
                Record::from_rdata(
                    srv_name.clone(),
                    TTL,
                    RData::SRV(SRV::new(0, 0, port, target.clone())),
                )
            })
            .collect();
        let a = vec![Record::from_rdata(
            target.clone(),
            TTL,
            RData::A(A(zone.address)),
        )];
        let txt = zone
            .txt
            .iter()
            .map(|options| {
                Record::from_rdata(
                    name.clone(),
                    TTL,
                    RData::TXT(TXT::new(vec![options.clone()])),
                )
            })
            .collect();
        Ok(Records {
            name,
            srv_name,
            target,
            srv,
            a,
            txt,
        })
    }

    /// The answer to a question: its records, or the response code without any.
    fn answer(&self, name: &Name, kind: RecordType) -> Result<&[Record], ResponseCode> {
        let name = name.to_lowercase();
        if !self.name.zone_of(&name) {
            return Err(ResponseCode::Refused);
        }
        let records: &[Record] = if name == self.srv_name {
            if kind == RecordType::SRV {
                &self.srv
            } else {
                &[]
            }
        } else if name == self.target {
            if kind == RecordType::A {
                &self.a
            } else {
                &[]
            }
        } else if name == self.name {
            if kind == RecordType::TXT {
                &self.txt
            } else {
                &[]
            }
        } else {
            return Err(ResponseCode::NXDomain);
        };
        Ok(records)
    }
}

struct Handler {
    records: Arc<Records>,
}

/// The running DNS server; it stops when dropped or with [`SrvServer::stop`].
pub struct SrvServer {
    address: SocketAddr,
    server: Server<Handler>,
}

impl std::fmt::Debug for SrvServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrvServer")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl SrvServer {
    /// Serves `zone` on UDP and TCP of `bind` (port 0: a free port, the same for both).
    pub async fn start(zone: &SrvZone, bind: SocketAddr) -> Result<SrvServer, DnsServerError> {
        let records = Arc::new(Records::new(zone)?);
        let (udp, tcp) = bind_pair(bind).await?;
        let address = udp.local_addr().map_err(|source| DnsServerError::Bind {
            address: bind,
            source,
        })?;
        let mut server = Server::new(Handler { records });
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 1 << 16);
        Ok(SrvServer { address, server })
    }

    /// Where it listens (UDP and TCP).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops answering and closes the sockets.
    pub async fn stop(mut self) {
        let _ = self.server.shutdown_gracefully().await;
    }
}

impl Drop for SrvServer {
    fn drop(&mut self) {
        self.server.shutdown_token().cancel();
    }
}

/// A UDP socket and a TCP listener on the same port: `bind`'s, or with port 0 a free one.
async fn bind_pair(bind: SocketAddr) -> Result<(UdpSocket, TcpListener), DnsServerError> {
    let error = |source| DnsServerError::Bind {
        address: bind,
        source,
    };
    let attempts = if bind.port() == 0 { 50 } else { 1 };
    let mut last = None;
    for _ in 0..attempts {
        let udp = UdpSocket::bind(bind).await.map_err(error)?;
        let address = udp.local_addr().map_err(error)?;
        match TcpListener::bind(address).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(error(last.unwrap_or_else(|| {
        std::io::Error::other("no port free for both UDP and TCP")
    })))
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let builder = MessageResponseBuilder::from_message_request(request);
        let answer = match request.request_info() {
            Ok(info) => self.records.answer(
                &Name::from(info.query.name().clone()),
                info.query.query_type(),
            ),
            Err(_) => Err(ResponseCode::FormErr),
        };
        let sent = match answer {
            Ok(records) => {
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.authoritative = true;
                let response = builder.build(metadata, records.iter(), [], [], []);
                response_handle.send_response(response).await
            }
            Err(code) => {
                let response = builder.error_msg(&request.metadata, code);
                response_handle.send_response(response).await
            }
        };
        sent.unwrap_or_else(|_| failure_info(request))
    }
}

/// What the server reports when an answer could not be sent.
fn failure_info(request: &Request) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = ResponseCode::ServFail;
    hickory_server::proto::op::Header {
        metadata,
        counts: Default::default(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_server::proto::op::{Message, MessageType, OpCode, Query};
    use hickory_server::proto::serialize::binary::BinEncodable;

    fn zone(ports: usize) -> SrvZone {
        SrvZone {
            name: "fleet.test".into(),
            address: Ipv4Addr::LOCALHOST,
            ports: (0..ports).map(|i| 20_000 + i as u16).collect(),
            txt: Some("authSource=admin".into()),
        }
    }

    #[test]
    fn the_largest_srv_answer_fits_one_dns_message() {
        let records = Records::new(&zone(MAX_SRV_RECORDS)).unwrap();
        let mut message = Message::new(1, MessageType::Response, OpCode::Query);
        message.add_query(Query::query(records.srv_name.clone(), RecordType::SRV));
        message.add_answers(records.srv.iter().cloned());
        let bytes = message.to_bytes().unwrap();
        assert!(
            bytes.len() <= usize::from(u16::MAX),
            "{} bytes",
            bytes.len()
        );
        assert!(matches!(
            Records::new(&zone(MAX_SRV_RECORDS + 1)),
            Err(DnsServerError::TooManyRecords(_))
        ));
    }

    #[test]
    fn answers_srv_a_and_txt_under_the_name_and_refuses_other_names() {
        let records = Records::new(&zone(3)).unwrap();
        let name = |text: &str| Name::from_str(text).unwrap();
        let srv = records
            .answer(&name("_mongodb._tcp.FLEET.test."), RecordType::SRV)
            .unwrap();
        assert_eq!(srv.len(), 3);
        let a = records
            .answer(&name("mongos.fleet.test."), RecordType::A)
            .unwrap();
        assert_eq!(a.len(), 1);
        let txt = records
            .answer(&name("fleet.test."), RecordType::TXT)
            .unwrap();
        assert_eq!(txt.len(), 1);
        assert!(records
            .answer(&name("fleet.test."), RecordType::A)
            .unwrap()
            .is_empty());
        assert_eq!(
            records
                .answer(&name("other.fleet.test."), RecordType::A)
                .err(),
            Some(ResponseCode::NXDomain)
        );
        assert_eq!(
            records.answer(&name("example.com."), RecordType::A).err(),
            Some(ResponseCode::Refused)
        );
        assert!(matches!(
            Records::new(&SrvZone {
                name: "test".into(),
                ..zone(1)
            }),
            Err(DnsServerError::BadName(_))
        ));
    }
}
