//! Extended JSON (relaxed or canonical) to BSON, as far as the SDAM suites use it.

use bson::oid::ObjectId;
use bson::{Bson, Document};
use serde_json::Value;

/// Converts (relaxed or canonical) extended JSON into BSON, as far as the suites use it.
pub fn to_bson(value: &Value) -> Result<Bson, String> {
    Ok(match value {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => match i32::try_from(i) {
                Ok(small) => Bson::Int32(small),
                Err(_) => Bson::Int64(i),
            },
            None => Bson::Double(n.as_f64().ok_or_else(|| format!("number {n}"))?),
        },
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(items) => Bson::Array(items.iter().map(to_bson).collect::<Result<_, _>>()?),
        Value::Object(map) => {
            if let Some(Value::String(hex)) = map.get("$oid") {
                return ObjectId::parse_str(hex)
                    .map(Bson::ObjectId)
                    .map_err(|e| format!("$oid {hex:?}: {e}"));
            }
            if let Some(Value::String(text)) = map.get("$numberLong") {
                return text
                    .parse::<i64>()
                    .map(Bson::Int64)
                    .map_err(|e| format!("$numberLong {text:?}: {e}"));
            }
            if let Some(Value::String(text)) = map.get("$numberInt") {
                return text
                    .parse::<i32>()
                    .map(Bson::Int32)
                    .map_err(|e| format!("$numberInt {text:?}: {e}"));
            }
            if let Some(date) = map.get("$date") {
                let millis = match to_bson(date)? {
                    Bson::Int32(n) => i64::from(n),
                    Bson::Int64(n) => n,
                    other => return Err(format!("$date {other:?} not supported")),
                };
                return Ok(Bson::DateTime(bson::DateTime::from_millis(millis)));
            }
            let mut doc = Document::new();
            for (key, item) in map {
                doc.insert(key.clone(), to_bson(item)?);
            }
            Bson::Document(doc)
        }
    })
}

pub fn to_document(value: &Value) -> Result<Document, String> {
    match to_bson(value)? {
        Bson::Document(doc) => Ok(doc),
        other => Err(format!("expected a document, found {other:?}")),
    }
}
