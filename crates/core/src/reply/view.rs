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

use super::error::ReplyFieldError;

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
