//! A hello reply reads the same as bytes and decoded (see [`crate::reply::DocumentRef`]).

use bson::spec::ElementType;
use bson::{doc, rawdoc, Bson, Document, RawDocumentBuf};

use super::CheckTiming;
use crate::address::ServerAddress;
use crate::reply::DocumentRef;
use crate::sdam::server::{ServerDescription, ServerType};
use crate::time::MonotonicTime;

/// `fields` as BSON bytes, in order, repeated keys kept (a `Document` cannot hold them).
fn raw_with_repeats(fields: &[(&str, Bson)]) -> RawDocumentBuf {
    let mut bytes = Vec::new();
    for (key, value) in fields {
        let single = doc! { *key: value.clone() }.to_vec().unwrap();
        // The element: everything between the length prefix and the final NUL.
        bytes.extend_from_slice(&single[4..single.len() - 1]);
    }
    let length = i32::try_from(bytes.len() + 5).unwrap();
    let mut whole = length.to_le_bytes().to_vec();
    whole.extend_from_slice(&bytes);
    whole.push(0);
    RawDocumentBuf::from_bytes(whole).unwrap()
}

fn describe<'r>(reply: impl Into<DocumentRef<'r>>) -> ServerDescription {
    let address = ServerAddress::parse("a:27017").unwrap();
    ServerDescription::from_hello(address, reply, CheckTiming::at(MonotonicTime::ZERO))
}

#[test]
fn a_repeated_key_reads_as_its_last_value_raw_as_decoded() {
    let raw = raw_with_repeats(&[
        ("ok", Bson::Int32(0)),
        ("setName", Bson::Int32(3)),
        ("msg", Bson::String("isdbgrid".into())),
        ("ok", Bson::Double(1.0)),
        ("setName", Bson::String("rs".into())),
        ("msg", Bson::String("no".into())),
        ("secondary", Bson::Boolean(true)),
        ("tags", Bson::Document(doc! { "dc": "east" })),
        ("tags", Bson::Document(doc! { "dc": "west" })),
    ]);
    let decoded = Document::try_from(raw.as_ref()).unwrap();
    let from_raw = describe(raw.as_ref());
    assert_eq!(from_raw, describe(&decoded));
    assert_eq!(from_raw.server_type, ServerType::RsSecondary);
    assert_eq!(from_raw.set_name.as_deref(), Some("rs"));
    assert_eq!(from_raw.tags.get("dc").map(String::as_str), Some("west"));
    assert_eq!(
        DocumentRef::Raw(&raw)
            .get("ok")
            .unwrap()
            .map(|v| v.element_type()),
        Some(ElementType::Double)
    );
}

#[test]
fn a_repeated_tag_keeps_its_last_value_even_after_a_bad_one() {
    let tags = raw_with_repeats(&[("dc", Bson::Int32(1)), ("dc", Bson::String("east".into()))]);
    let reply = rawdoc! { "ok": 1, "setName": "rs", "secondary": true, "tags": tags };
    let decoded = Document::try_from(reply.as_ref()).unwrap();
    let from_raw = describe(reply.as_ref());
    assert_eq!(from_raw, describe(&decoded));
    assert_eq!(from_raw.tags.get("dc").map(String::as_str), Some("east"));
}

#[test]
fn every_kind_of_field_reads_the_same_raw_and_decoded() {
    let replies = [
        doc! { "ok": 1.0, "msg": "isdbgrid", "maxWireVersion": 21, "minWireVersion": 0,
        "topologyVersion": { "processId": bson::oid::ObjectId::new(), "counter": 4_i64 },
        "logicalSessionTimeoutMinutes": 30, "$clusterTime": { "t": 1 } },
        doc! { "ok": 1, "isWritablePrimary": true, "setName": "rs", "setVersion": 2,
        "electionId": bson::oid::ObjectId::new(), "hosts": ["A:1", "b:2"],
        "passives": ["c:3"], "arbiters": ["d:4"], "primary": "a:1", "me": "A:1",
        "lastWrite": { "lastWriteDate": bson::DateTime::from_millis(7),
                       "opTime": { "ts": bson::Timestamp { time: 1, increment: 2 }, "t": 3_i64 } },
        "tags": { "dc": "east", "rack": "1" }, "maxBsonObjectSize": 16777216,
        "maxMessageSizeBytes": 48000000, "maxWriteBatchSize": 100000 },
        doc! { "ok": 0, "errmsg": "no", "code": 13 },
        doc! { "ok": "yes" },
        doc! { "ok": 1, "hosts": [1, 2] },
        doc! { "ok": 1, "topologyVersion": { "processId": 1, "counter": 1 } },
        doc! { "ok": 1, "setName": "rs", "hidden": true, "lastWrite": { "lastWriteDate": 5 } },
        doc! { "ok": 1, "ismaster": true, "maxWireVersion": -1 },
        doc! {},
    ];
    for reply in replies {
        let raw = RawDocumentBuf::try_from(&reply).unwrap();
        assert_eq!(describe(raw.as_ref()), describe(&reply), "{reply}");
    }
}

#[test]
fn bytes_that_are_not_bson_read_as_an_error_not_a_panic() {
    // A string element whose length runs past the document's end.
    let mut bytes = rawdoc! { "ok": 1, "msg": "isdbgrid" }.into_bytes();
    // length (4), `ok` int32 (1 + 3 + 4), `msg`'s type and name (1 + 4): its length.
    bytes[17] = 0x7f;
    let raw = RawDocumentBuf::from_bytes(bytes).unwrap();
    let description = describe(raw.as_ref());
    assert_eq!(description.server_type, ServerType::Unknown);
    let error = description.error.unwrap();
    assert!(
        error.message.contains("malformed BSON"),
        "{}",
        error.message
    );
}

#[test]
fn round_trip_times_added_later_are_set_as_from_hello_sets_them() {
    let rtt = Some(std::time::Duration::from_millis(7));
    let min = Some(std::time::Duration::from_millis(3));
    let timing = CheckTiming {
        round_trip_time: rtt,
        min_round_trip_time: min,
        now: MonotonicTime::ZERO,
    };
    let address = ServerAddress::parse("a:27017").unwrap();
    for reply in [
        doc! { "ok": 1, "msg": "isdbgrid", "maxWireVersion": 21 },
        doc! { "ok": 0, "errmsg": "no" },
        doc! { "ok": 1, "hosts": 3 },
    ] {
        let at_once = ServerDescription::from_hello(address.clone(), &reply, timing);
        let later = describe(&reply).with_round_trip_times(rtt, min);
        assert_eq!(later, at_once, "{reply}");
    }
    assert_eq!(
        describe(&doc! { "ok": 0 })
            .with_round_trip_times(rtt, min)
            .round_trip_time,
        None
    );
}
