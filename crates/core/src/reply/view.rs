//! One way to read a reply, whether it was decoded into a [`Document`] or kept as the bytes
//! it arrived in ([`RawDocument`]): [`DocumentRef`] and [`ValueRef`].
//!
//! The monitors read hello replies as received (every heartbeat would otherwise allocate a
//! string per key and a map per nested document, only for most of it to be dropped); tests,
//! the spec runners and replays hand in decoded documents. The readers of [`crate::reply`]
//! and [`crate::sdam::hello`] take either, so there is one set of parsing rules.
//!
//! A key that appears twice reads as its last value, as it does once decoded (a decoded
//! document keeps the last value of a repeated key). Raw bytes are expected to have been
//! checked already (the wire decoder walks every message it accepts); if they are malformed
//! anyway, the reader reports a [`ReplyFieldError`] instead of panicking.

use bson::oid::ObjectId;
use bson::spec::ElementType;
use bson::{Bson, DateTime, Document, RawArray, RawBsonRef, RawDocument};

use super::ReplyFieldError;

/// A reply document (or a document inside one), decoded or as received.
#[derive(Clone, Copy, Debug)]
pub enum DocumentRef<'a> {
    /// A decoded document.
    Decoded(&'a Document),
    /// The document's bytes as received.
    Raw(&'a RawDocument),
}

impl<'a> From<&'a Document> for DocumentRef<'a> {
    fn from(document: &'a Document) -> Self {
        DocumentRef::Decoded(document)
    }
}

impl<'a> From<&'a RawDocument> for DocumentRef<'a> {
    fn from(document: &'a RawDocument) -> Self {
        DocumentRef::Raw(document)
    }
}

/// An array in a reply, decoded or as received.
#[derive(Clone, Copy, Debug)]
pub enum ArrayRef<'a> {
    /// A decoded array.
    Decoded(&'a [Bson]),
    /// The array's bytes as received.
    Raw(&'a RawArray),
}

/// One value of a reply, borrowed from its document. The variants are the BSON types the
/// parsers tell apart; every other type is [`ValueRef::Other`].
#[derive(Clone, Copy, Debug)]
pub enum ValueRef<'a> {
    /// BSON null.
    Null,
    /// A boolean.
    Boolean(bool),
    /// A UTF-8 string.
    String(&'a str),
    /// A 32-bit integer.
    Int32(i32),
    /// A 64-bit integer.
    Int64(i64),
    /// A double.
    Double(f64),
    /// An ObjectId.
    ObjectId(ObjectId),
    /// A UTC datetime.
    DateTime(DateTime),
    /// An embedded document.
    Document(DocumentRef<'a>),
    /// An array.
    Array(ArrayRef<'a>),
    /// Any other type (binary, timestamp, regular expression, ...).
    Other(ElementType),
}

impl<'a> ValueRef<'a> {
    /// The BSON type of the value, for error messages.
    pub fn element_type(&self) -> ElementType {
        match self {
            ValueRef::Null => ElementType::Null,
            ValueRef::Boolean(_) => ElementType::Boolean,
            ValueRef::String(_) => ElementType::String,
            ValueRef::Int32(_) => ElementType::Int32,
            ValueRef::Int64(_) => ElementType::Int64,
            ValueRef::Double(_) => ElementType::Double,
            ValueRef::ObjectId(_) => ElementType::ObjectId,
            ValueRef::DateTime(_) => ElementType::DateTime,
            ValueRef::Document(_) => ElementType::EmbeddedDocument,
            ValueRef::Array(_) => ElementType::Array,
            ValueRef::Other(kind) => *kind,
        }
    }

    /// The string, if the value is one.
    pub fn as_str(&self) -> Option<&'a str> {
        match self {
            ValueRef::String(text) => Some(text),
            _ => None,
        }
    }
}

impl<'a> From<&'a Bson> for ValueRef<'a> {
    fn from(value: &'a Bson) -> Self {
        match value {
            Bson::Null => ValueRef::Null,
            Bson::Boolean(value) => ValueRef::Boolean(*value),
            Bson::String(text) => ValueRef::String(text),
            Bson::Int32(value) => ValueRef::Int32(*value),
            Bson::Int64(value) => ValueRef::Int64(*value),
            Bson::Double(value) => ValueRef::Double(*value),
            Bson::ObjectId(id) => ValueRef::ObjectId(*id),
            Bson::DateTime(date) => ValueRef::DateTime(*date),
            Bson::Document(document) => ValueRef::Document(DocumentRef::Decoded(document)),
            Bson::Array(items) => ValueRef::Array(ArrayRef::Decoded(items)),
            other => ValueRef::Other(other.element_type()),
        }
    }
}

impl<'a> From<RawBsonRef<'a>> for ValueRef<'a> {
    fn from(value: RawBsonRef<'a>) -> Self {
        match value {
            RawBsonRef::Null => ValueRef::Null,
            RawBsonRef::Boolean(value) => ValueRef::Boolean(value),
            RawBsonRef::String(text) => ValueRef::String(text),
            RawBsonRef::Int32(value) => ValueRef::Int32(value),
            RawBsonRef::Int64(value) => ValueRef::Int64(value),
            RawBsonRef::Double(value) => ValueRef::Double(value),
            RawBsonRef::ObjectId(id) => ValueRef::ObjectId(id),
            RawBsonRef::DateTime(date) => ValueRef::DateTime(date),
            RawBsonRef::Document(document) => ValueRef::Document(DocumentRef::Raw(document)),
            RawBsonRef::Array(items) => ValueRef::Array(ArrayRef::Raw(items)),
            other => ValueRef::Other(other.element_type()),
        }
    }
}

/// The error for bytes that do not read as BSON (`field` names where).
fn malformed(field: &str, error: impl std::fmt::Display) -> ReplyFieldError {
    ReplyFieldError::new(field, format!("malformed BSON: {error}"))
}

impl<'a> DocumentRef<'a> {
    /// The value of `key` (its last value if repeated); `None` when absent. `Err` only for
    /// raw bytes that are not BSON.
    pub fn get(&self, key: &str) -> Result<Option<ValueRef<'a>>, ReplyFieldError> {
        match self {
            DocumentRef::Decoded(document) => Ok(document.get(key).map(ValueRef::from)),
            DocumentRef::Raw(document) => {
                let mut found = None;
                for element in document.iter_elements() {
                    let element = element.map_err(|error| malformed(key, error))?;
                    if element.key().as_str() == key {
                        found = Some(element);
                    }
                }
                found
                    .map(|element| element.value().map(ValueRef::from))
                    .transpose()
                    .map_err(|error| malformed(key, error))
            }
        }
    }

    /// Every key and value in order, a repeated key with each of its values (one pass over
    /// raw bytes, parsing each value once). An item is `Err` only for raw bytes that are not
    /// BSON.
    pub fn entries(&self) -> Entries<'a> {
        match self {
            DocumentRef::Decoded(document) => Entries(EntriesOf::Decoded(document.iter())),
            DocumentRef::Raw(document) => Entries(EntriesOf::Raw(document.iter_elements())),
        }
    }

    /// The document, decoded (a copy when it was decoded already).
    pub fn to_document(&self) -> Result<Document, ReplyFieldError> {
        match self {
            DocumentRef::Decoded(document) => Ok((*document).clone()),
            DocumentRef::Raw(document) => {
                Document::try_from(*document).map_err(|error| malformed("document", error))
            }
        }
    }
}

impl<'a> ArrayRef<'a> {
    /// The items in order. `Err` only for raw bytes that are not BSON.
    pub fn items(&self) -> Result<Vec<ValueRef<'a>>, ReplyFieldError> {
        match self {
            ArrayRef::Decoded(items) => Ok(items.iter().map(ValueRef::from).collect()),
            ArrayRef::Raw(items) => items
                .into_iter()
                .map(|item| item.map(ValueRef::from))
                .collect::<Result<_, _>>()
                .map_err(|error| malformed("array", error)),
        }
    }
}

/// The entries of a [`DocumentRef`], in order: see [`DocumentRef::entries`].
pub struct Entries<'a>(EntriesOf<'a>);

enum EntriesOf<'a> {
    Decoded(bson::document::Iter<'a>),
    Raw(bson::raw::RawIter<'a>),
}

impl std::fmt::Debug for Entries<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Entries")
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<(&'a str, ValueRef<'a>), ReplyFieldError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            EntriesOf::Decoded(entries) => entries
                .next()
                .map(|(key, value)| Ok((key.as_str(), ValueRef::from(value)))),
            EntriesOf::Raw(elements) => elements.next().map(|element| {
                element
                    .and_then(|element| Ok((element.key().as_str(), element.value()?.into())))
                    .map_err(|error| malformed("document", error))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use bson::{doc, rawdoc, RawDocumentBuf};

    use super::*;
    use crate::address::ServerAddress;
    use crate::sdam::{CheckTiming, ServerDescription, ServerType};
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
}
