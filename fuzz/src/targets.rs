//! The fuzz targets: each takes arbitrary bytes and feeds them to one decoder. A target
//! returns normally whatever the input; a panic (or an overflow, with overflow checks on) is
//! a finding. Where the decoder's answer can be checked cheaply, the target checks it too.

use std::sync::OnceLock;
use std::time::Duration;

use bson::Document;
use mongo_topology_core::address::ServerAddress;
use mongo_topology_core::auth::{ScramClient, ScramKeyCache, ScramVersion};
use mongo_topology_core::options::srv::txt_options;
use mongo_topology_core::options::ConnectionString;
use mongo_topology_core::sdam::{CheckTiming, ServerDescription, Topology, TopologySettings};
use mongo_topology_core::time::MonotonicTime;
use mongo_topology_core::wire::depth::check_depth;
use mongo_topology_core::wire::{decode_message, MessageDecoder, MAX_MESSAGE_SIZE_BYTES};

/// The client nonce of every fuzzed SCRAM conversation (seeds' server nonces extend it).
pub const SCRAM_CLIENT_NONCE: &str = "fyko+d2lbbFgONRv9qkxdawL";

/// Separates the two server messages of one SCRAM input (never valid in either).
pub const SCRAM_SEPARATOR: u8 = 0xff;

/// Separates TXT records (0xfe) and character strings in a record (0xfd) in a TXT input.
pub const TXT_RECORD_SEPARATOR: u8 = 0xfe;
/// See [`TXT_RECORD_SEPARATOR`].
pub const TXT_STRING_SEPARATOR: u8 = 0xfd;

/// One decoder under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `MessageDecoder` fed in chunks, and `decode_message` on the whole input.
    Wire,
    /// A BSON document as a hello reply: `ServerDescription::from_hello` and a topology.
    Hello,
    /// `ConnectionString::parse`; whatever parses must render and parse back the same.
    Uri,
    /// `srv::txt_options` on TXT records.
    Txt,
    /// The SCRAM-SHA-256 client: server-first, then server-final.
    Scram,
}

impl Target {
    /// Every target, in report order.
    pub const ALL: [Target; 5] = [
        Target::Wire,
        Target::Hello,
        Target::Uri,
        Target::Txt,
        Target::Scram,
    ];

    /// The target's name (its corpus directory under `fuzz/corpus/`).
    pub fn name(self) -> &'static str {
        match self {
            Target::Wire => "wire",
            Target::Hello => "hello",
            Target::Uri => "uri",
            Target::Txt => "txt",
            Target::Scram => "scram",
        }
    }

    /// The target named `name`.
    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Feeds `data` to the target; true when the decoder accepted the input (a measure of
    /// how deep the mutants reach).
    pub fn run(self, data: &[u8]) -> bool {
        match self {
            Target::Wire => wire(data),
            Target::Hello => hello(data),
            Target::Uri => uri(data),
            Target::Txt => txt(data),
            Target::Scram => scram(data),
        }
    }
}

fn wire(data: &[u8]) -> bool {
    let whole = decode_message(data).is_ok();
    // The first byte chooses the chunk size, so frames split at every possible place.
    let chunk = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut decoder = MessageDecoder::new(MAX_MESSAGE_SIZE_BYTES);
    for piece in data.chunks(chunk) {
        decoder.extend(piece);
        loop {
            match decoder.decode() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return whole,
            }
        }
    }
    assert!(decoder.buffered_len() <= data.len());
    whole
}

fn hello(data: &[u8]) -> bool {
    // As the engine receives a reply: depth-checked by the wire codec, then decoded.
    if check_depth(data, "hello").is_err() {
        return false;
    }
    let Ok(reply) = Document::from_reader(data) else {
        return false;
    };
    let address = ServerAddress::tcp("a", 27017);
    let timing = CheckTiming {
        round_trip_time: Some(Duration::from_millis(1)),
        min_round_trip_time: Some(Duration::from_millis(1)),
        now: MonotonicTime::from_millis(1000),
    };
    let description = ServerDescription::from_hello(address.clone(), &reply, timing);
    // Through the whole SDAM machine too: a reply may add members, change the set...
    let settings = TopologySettings::new(vec![address.clone()]);
    if let Ok((mut topology, _)) = Topology::new(settings, MonotonicTime::ZERO) {
        let _ = topology.apply_hello(&address, &reply, timing);
    }
    description.error.is_none()
}

fn uri(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    let Ok(parsed) = ConnectionString::parse(&text) else {
        return false;
    };
    {
        let shown = parsed.to_string();
        let again = ConnectionString::parse(&shown)
            .unwrap_or_else(|e| panic!("{text:?} rendered as {shown:?}, which fails: {e}"));
        assert_eq!(again.hosts(), parsed.hosts(), "{text:?} -> {shown:?}");
        assert_eq!(again.srv_hostname(), parsed.srv_hostname());
        assert_eq!(again.default_database(), parsed.default_database());
    }
    true
}

fn txt(data: &[u8]) -> bool {
    let records: Vec<Vec<Vec<u8>>> = data
        .split(|b| *b == TXT_RECORD_SEPARATOR)
        .map(|record| {
            record
                .split(|b| *b == TXT_STRING_SEPARATOR)
                .map(<[u8]>::to_vec)
                .collect()
        })
        .collect();
    txt_options(&records).is_ok()
}

fn scram_cache() -> &'static ScramKeyCache {
    static CACHE: OnceLock<ScramKeyCache> = OnceLock::new();
    CACHE.get_or_init(ScramKeyCache::default)
}

fn scram(data: &[u8]) -> bool {
    let mut parts = data.splitn(2, |b| *b == SCRAM_SEPARATOR);
    let server_first = parts.next().unwrap_or_default();
    let server_final = parts.next().unwrap_or_default();
    let Ok(client) = ScramClient::new(ScramVersion::Sha256, "user", "pencil", SCRAM_CLIENT_NONCE)
    else {
        return false;
    };
    match client.receive_server_first(server_first, scram_cache()) {
        Ok(next) => {
            assert!(next.client_final().starts_with(b"c=biws,r="));
            let _ = next.receive_server_final(server_final);
            true
        }
        Err(_) => false,
    }
}
