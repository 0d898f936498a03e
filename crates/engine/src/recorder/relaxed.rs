//! A hello reply written as relaxed extended JSON straight into a record's line: the same
//! JSON that `Bson::into_relaxed_extjson` gives (a test compares them value for value), but
//! without copying the document and building it as a `serde_json::Value` first. The
//! recorder writes one reply per server per heartbeat, and that copy and tree were most of
//! its cost. The types a hello reply holds (documents, arrays, strings, numbers, booleans,
//! null, ObjectIds) are written here; every other type goes through the bson crate's own
//! conversion, value by value.

use bson::{Bson, Document};

/// Appends `text` as a JSON string.
pub(crate) fn write_string(out: &mut Vec<u8>, text: &str) {
    // Writing to a Vec cannot fail, and a str always serializes.
    let _ = serde_json::to_writer(&mut *out, text);
}

/// Appends `document` as relaxed extended JSON, its fields in their order.
pub(crate) fn write_document(out: &mut Vec<u8>, document: &Document) {
    out.push(b'{');
    for (index, (key, value)) in document.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_string(out, key);
        out.push(b':');
        write_value(out, value);
    }
    out.push(b'}');
}

fn write_value(out: &mut Vec<u8>, value: &Bson) {
    match value {
        Bson::Document(document) => write_document(out, document),
        Bson::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Bson::String(text) => write_string(out, text),
        Bson::Boolean(true) => out.extend_from_slice(b"true"),
        Bson::Boolean(false) => out.extend_from_slice(b"false"),
        Bson::Null => out.extend_from_slice(b"null"),
        Bson::Int32(number) => out.extend_from_slice(number.to_string().as_bytes()),
        Bson::Int64(number) => out.extend_from_slice(number.to_string().as_bytes()),
        // serde_json writes a whole double as `1.0`, which reads back as a double.
        Bson::Double(number) if number.is_finite() => {
            let _ = serde_json::to_writer(&mut *out, number);
        }
        Bson::ObjectId(id) => {
            out.extend_from_slice(b"{\"$oid\":\"");
            out.extend_from_slice(id.to_hex().as_bytes());
            out.extend_from_slice(b"\"}");
        }
        // Dates, timestamps, binary, non-finite doubles and the rarer types: the bson
        // crate's conversion of this one value.
        other => {
            let _ = serde_json::to_writer(&mut *out, &other.clone().into_relaxed_extjson());
        }
    }
}

#[cfg(test)]
mod tests {
    use bson::oid::ObjectId;
    use bson::spec::BinarySubtype;
    use bson::{doc, Binary, Bson, DateTime, Decimal128, Timestamp};
    use serde_json::Value;

    use super::write_document;

    /// Every BSON type, nested, with the values that have two forms in relaxed extended
    /// JSON (whole and non-finite doubles, dates inside and outside 1970–9999, integers at
    /// their limits) and strings that need escaping.
    #[test]
    fn writes_the_json_the_bson_crate_gives_for_every_type() {
        let document = doc! {
            "ok": 1.0,
            "half": 0.5,
            "negative": -2.5e-300,
            "infinite": f64::INFINITY,
            "minus infinite": f64::NEG_INFINITY,
            "not a number": f64::NAN,
            "int32": i32::MIN,
            "int64": i64::MAX,
            "true": true,
            "false": false,
            "null": Bson::Null,
            "text": "quote \" backslash \\ newline \n tab \t escape \u{1b} é 😀",
            "electionId": ObjectId::parse_str("7fffffff0000000000000003").unwrap(),
            "localTime": DateTime::from_millis(1_765_000_000_123),
            "before 1970": DateTime::from_millis(-1),
            "after 9999": DateTime::from_millis(300_000_000_000_000),
            "opTime": { "ts": Timestamp { time: 1_765_000_000, increment: 7 }, "t": 3i64 },
            "$clusterTime": {
                "signature": {
                    "hash": Binary { subtype: BinarySubtype::Generic, bytes: vec![0, 1, 2, 255] },
                    "keyId": 0i64,
                },
            },
            "uuid": Binary { subtype: BinarySubtype::Uuid, bytes: vec![7; 16] },
            "hosts": ["a:1", "b:2", { "nested": [1, [2, [3]]] }],
            "empty": {},
            "none": [],
            "decimal": Decimal128::from_bytes([1; 16]),
            "code": Bson::JavaScriptCode("x => x".into()),
            "min": Bson::MinKey,
            "max": Bson::MaxKey,
            "undefined": Bson::Undefined,
            "symbol": Bson::Symbol("s".into()),
        };
        let mut written = Vec::new();
        write_document(&mut written, &document);
        let written: Value = serde_json::from_slice(&written).expect("valid JSON");
        assert_eq!(
            written,
            Bson::Document(document.clone()).into_relaxed_extjson()
        );
        // And it reads back as the same document (what the replay does).
        let read = Bson::try_from(written).expect("extended JSON");
        let Bson::Document(read) = read else {
            panic!("a document")
        };
        // (Relaxed extended JSON keeps a double a double and a 64-bit value 64-bit, but an
        // Int64 that fits 32 bits reads back as an Int32, as it always did.)
        assert_eq!(read.get("ok"), Some(&Bson::Double(1.0)));
        assert_eq!(read.get("int64"), Some(&Bson::Int64(i64::MAX)));
        assert_eq!(read.get("electionId"), document.get("electionId"));
        assert_eq!(read.get("localTime"), document.get("localTime"));
        let op_time = |d: &bson::Document| d.get_document("opTime").ok()?.get("ts").cloned();
        assert_eq!(op_time(&read), op_time(&document));
    }
}
