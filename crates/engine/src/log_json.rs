//! Documents as relaxed Extended JSON text, for the log messages that carry a server's
//! reply ("SDAM Logging and Monitoring": the heartbeat's `reply` is a relaxed extJSON
//! string), without a JSON library.

use std::fmt::Write;

use bson::{Bson, Document};

/// `document` as relaxed Extended JSON.
pub(crate) fn relaxed_extjson(document: &Document) -> String {
    let mut out = String::new();
    write_document(&mut out, document);
    out
}

fn write_document(out: &mut String, document: &Document) {
    out.push('{');
    for (i, (key, value)) in document.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, key);
        out.push(':');
        write_value(out, value);
    }
    out.push('}');
}

fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_value(out: &mut String, value: &Bson) {
    match value {
        Bson::Double(n) if n.is_finite() => {
            // Relaxed form: a plain number, with a fraction so it reads back as a double.
            if n.fract() == 0.0 && n.abs() < 1e15 {
                let _ = write!(out, "{n:.1}");
            } else {
                let _ = write!(out, "{n}");
            }
        }
        Bson::Double(n) => {
            let text = if n.is_nan() {
                "NaN"
            } else if *n > 0.0 {
                "Infinity"
            } else {
                "-Infinity"
            };
            let _ = write!(out, "{{\"$numberDouble\":\"{text}\"}}");
        }
        Bson::String(text) => write_string(out, text),
        Bson::Document(inner) => write_document(out, inner),
        Bson::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Bson::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Bson::Null => out.push_str("null"),
        Bson::Int32(n) => {
            let _ = write!(out, "{n}");
        }
        Bson::Int64(n) => {
            let _ = write!(out, "{n}");
        }
        Bson::ObjectId(id) => {
            let _ = write!(out, "{{\"$oid\":\"{id}\"}}");
        }
        Bson::DateTime(date) => {
            let _ = write!(
                out,
                "{{\"$date\":{{\"$numberLong\":\"{}\"}}}}",
                date.timestamp_millis()
            );
        }
        Bson::Timestamp(ts) => {
            let _ = write!(
                out,
                "{{\"$timestamp\":{{\"t\":{},\"i\":{}}}}}",
                ts.time, ts.increment
            );
        }
        Bson::Binary(binary) => {
            use base64::Engine;
            let encoded = base64::engine::general_purpose::STANDARD.encode(&binary.bytes);
            let subtype: u8 = binary.subtype.into();
            let _ = write!(
                out,
                "{{\"$binary\":{{\"base64\":\"{encoded}\",\"subType\":\"{subtype:02x}\"}}}}"
            );
        }
        other => write_string(out, &other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;
    use bson::oid::ObjectId;

    use super::relaxed_extjson;

    #[test]
    fn replies_become_relaxed_extended_json() {
        let id = ObjectId::parse_str("5f0c5f0c5f0c5f0c5f0c5f0c").unwrap();
        let reply = doc! {
            "ok": 1.0, "n": 3, "big": 5_000_000_000i64, "me": "a\"b",
            "topologyVersion": { "processId": id, "counter": 0i64 },
            "hosts": ["a:1", "b:2"], "flag": true, "none": null,
        };
        assert_eq!(
            relaxed_extjson(&reply),
            "{\"ok\":1.0,\"n\":3,\"big\":5000000000,\"me\":\"a\\\"b\",\
             \"topologyVersion\":{\"processId\":{\"$oid\":\"5f0c5f0c5f0c5f0c5f0c5f0c\"},\"counter\":0},\
             \"hosts\":[\"a:1\",\"b:2\"],\"flag\":true,\"none\":null}"
        );
    }
}
