//! The recorder's own rules: secrets stripped, rotation, dropped records counted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bson::doc;
use tokio::time::Instant;

use super::format::{self, Clock, Header};
use super::queue::RecordQueue;
use super::record::{Record, RecordingSettings};
use super::writer::{self, RotatingFile};
use super::{Feeder, Recorder};
use crate::address::ServerAddress;
use crate::settings::cluster_settings::ClusterSettings;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "mongo-topology-recorder-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("recording.ndjson")
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn hello(address: &ServerAddress) -> Record {
    Record::Hello {
        address: address.clone(),
        duration: Duration::from_millis(1),
        reply: Arc::new(doc! { "isWritablePrimary": true, "maxWireVersion": 21 }),
        awaited: false,
    }
}

#[test]
fn secrets_are_stripped_from_replies_and_the_connection_string() {
    let reply = Arc::new(doc! {
        "isWritablePrimary": true,
        "speculativeAuthenticate": { "conversationId": 1, "payload": "c2VjcmV0" },
        "saslSupportedMechs": ["SCRAM-SHA-256"],
    });
    let stripped = format::without_secrets(&reply);
    assert_eq!(*stripped, doc! { "isWritablePrimary": true });
    let plain = Arc::new(doc! { "isWritablePrimary": true });
    assert!(
        Arc::ptr_eq(&format::without_secrets(&plain), &plain),
        "a reply without secrets is shared, not copied"
    );

    let uri = "mongodb://alice:hunter2pw@h1:27017/?replicaSet=rs0";
    let settings = ClusterSettings::parse(uri).unwrap();
    let mut recording = RecordingSettings::new("unused");
    recording.connection_string = Some(uri.to_owned());
    let header = Header::new(&recording, &settings, SystemTime::now()).line(0);
    assert!(!header.contains("hunter2pw"), "{header}");
    assert!(header.contains("alice:*****@h1:27017"), "{header}");
    let header: serde_json::Value = serde_json::from_str(&header).unwrap();
    assert_eq!(header["format"], "mongo-topology-recording");
    assert_eq!(header["version"], 1);
    assert_eq!(header["settings"]["replicaSet"], "rs0");
    assert_eq!(header["settings"]["heartbeatFrequencyMS"], 10_000);
}

#[test]
fn files_rotate_at_their_bound_and_only_the_newest_are_kept() {
    let path = scratch("rotation");
    let settings = ClusterSettings::parse("mongodb://h1:27017").unwrap();
    let mut recording = RecordingSettings::new(&path);
    recording.max_bytes = 2000;
    recording.keep_files = 3;
    let header = Header::new(&recording, &settings, SystemTime::now());
    let file = RotatingFile::create(&recording, header).unwrap();
    let queue = Arc::new(RecordQueue::new(1024));
    let epoch = Instant::now();
    let thread = writer::spawn(file, queue.clone(), Clock::new(epoch, SystemTime::now())).unwrap();
    let recorder = Recorder {
        feeder: Arc::new(Feeder { queue }),
    };
    let address = ServerAddress::parse("h1:27017").unwrap();
    for _ in 0..100 {
        recorder.record(Instant::now(), hello(&address));
    }
    drop(recorder);
    thread.join().unwrap();

    let numbered = |index: usize| PathBuf::from(format!("{}.{index}", path.display()));
    assert!(numbered(1).exists() && numbered(2).exists());
    assert!(!numbered(3).exists(), "only 3 files are kept");
    let mut parts = Vec::new();
    for file in [numbered(2), numbered(1), path.clone()] {
        let size = std::fs::metadata(&file).unwrap().len();
        assert!(size <= 2000, "{} is {size} bytes", file.display());
        let lines = lines(&file);
        assert_eq!(lines[0]["format"], "mongo-topology-recording");
        assert!(lines.len() >= 2, "a header and at least one record");
        assert!(lines[1..].iter().all(|line| line["type"] == "hello"));
        parts.push(lines[0]["part"].as_u64().unwrap());
    }
    assert!(parts[0] < parts[1] && parts[1] < parts[2], "{parts:?}");
    assert!(parts[2] > 3, "many rotations happened: {parts:?}");
}

#[test]
fn records_that_find_the_queue_full_are_counted_and_the_count_written() {
    let path = scratch("missed");
    let settings = ClusterSettings::parse("mongodb://h1:27017").unwrap();
    let recording = RecordingSettings::new(&path);
    let header = Header::new(&recording, &settings, SystemTime::now());
    let file = RotatingFile::create(&recording, header).unwrap();
    let queue = Arc::new(RecordQueue::new(2));
    let recorder = Recorder {
        feeder: Arc::new(Feeder {
            queue: queue.clone(),
        }),
    };
    let address = ServerAddress::parse("h1:27017").unwrap();
    // No writer yet: the queue holds 2, the other 5 are dropped without waiting.
    for _ in 0..7 {
        recorder.record(Instant::now(), hello(&address));
    }
    let thread = writer::spawn(file, queue, Clock::new(Instant::now(), SystemTime::now())).unwrap();
    drop(recorder);
    thread.join().unwrap();
    let lines = lines(&path);
    let kinds: Vec<&str> = lines[1..]
        .iter()
        .map(|line| line["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["hello", "hello", "records_missed"]);
    assert_eq!(lines[3]["count"], 5);
}

/// A flush returns only once everything queued before it is on disk, although the writer
/// takes records only every 200 ms when nobody asks (the cluster flushes when it closes).
#[tokio::test]
async fn a_flush_returns_once_the_records_before_it_are_on_disk() {
    let path = scratch("flush");
    let settings = ClusterSettings::parse("mongodb://h1:27017").unwrap();
    let recording = RecordingSettings::new(&path);
    let header = Header::new(&recording, &settings, SystemTime::now());
    let file = RotatingFile::create(&recording, header).unwrap();
    let queue = Arc::new(RecordQueue::new(1024));
    let _thread = writer::spawn(
        file,
        queue.clone(),
        Clock::new(Instant::now(), SystemTime::now()),
    )
    .unwrap();
    let recorder = Recorder {
        feeder: Arc::new(Feeder { queue }),
    };
    let address = ServerAddress::parse("h1:27017").unwrap();
    for round in 1..=20 {
        recorder.record(Instant::now(), hello(&address));
        recorder.flush().await;
        assert_eq!(lines(&path).len(), 1 + round, "round {round}");
    }
}

/// Half a queue of records wakes the writer at once (a discovery burst is not left to
/// overflow while the writer sleeps its 200 ms).
#[test]
fn half_a_queue_wakes_the_writer() {
    let queue = RecordQueue::new(64);
    let address = ServerAddress::parse("h1:27017").unwrap();
    std::thread::scope(|scope| {
        let taker = scope.spawn(|| {
            let started = std::time::Instant::now();
            let batch = queue.take();
            (batch.items.len(), started.elapsed())
        });
        std::thread::sleep(Duration::from_millis(20));
        for _ in 0..32 {
            queue.push(super::record::Stamped {
                at: Instant::now(),
                record: hello(&address),
            });
        }
        let (taken, waited) = taker.join().unwrap();
        assert_eq!(taken, 32);
        assert!(
            waited < Duration::from_millis(150),
            "woken early: {waited:?}"
        );
    });
}
