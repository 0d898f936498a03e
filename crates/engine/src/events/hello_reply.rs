//! [`HelloReply`]: the hello reply a heartbeat event carries, kept as the bytes it arrived in
//! and decoded the first time a subscriber asks for it.
//!
//! Most subscribers never read it (a metrics exporter counts heartbeats and their
//! durations): at a thousand servers, decoding every reply for them was a large part of an
//! idle client's CPU. The bytes were checked by the wire decoder when they arrived.

use std::sync::{Arc, OnceLock};

use bson::{Document, RawDocument, RawDocumentBuf};

/// A server's hello reply, shared by the events and records that carry it (cloning it
/// copies nothing).
#[derive(Clone)]
pub struct HelloReply {
    inner: Arc<Inner>,
}

struct Inner {
    raw: RawDocumentBuf,
    decoded: OnceLock<Arc<Document>>,
}

impl HelloReply {
    /// A reply as received.
    pub fn from_raw(raw: RawDocumentBuf) -> Self {
        HelloReply {
            inner: Arc::new(Inner {
                raw,
                decoded: OnceLock::new(),
            }),
        }
    }

    /// A reply built as a document (tests, replays). `None` if it cannot be encoded as
    /// BSON (a key with a NUL byte).
    pub fn from_document(document: Document) -> Option<Self> {
        let raw = RawDocumentBuf::try_from(&document).ok()?;
        let reply = HelloReply::from_raw(raw);
        let _ = reply.inner.decoded.set(Arc::new(document));
        Some(reply)
    }

    /// The reply's bytes, as received.
    pub fn raw(&self) -> &RawDocument {
        &self.inner.raw
    }

    /// The reply decoded (once, at the first call). Bytes that do not decode — the wire
    /// decoder checked them, so this is not expected — read as an empty document, with a
    /// warning logged.
    pub fn document(&self) -> &Arc<Document> {
        self.inner.decoded.get_or_init(|| {
            let decoded = Document::try_from(self.inner.raw.as_ref());
            Arc::new(decoded.unwrap_or_else(|error| {
                tracing::warn!(%error, "a hello reply that does not decode reads as empty");
                Document::new()
            }))
        })
    }
}

impl std::fmt::Debug for HelloReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.document().as_ref(), f)
    }
}

impl PartialEq for HelloReply {
    fn eq(&self, other: &Self) -> bool {
        self.raw().as_bytes() == other.raw().as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    #[test]
    fn a_reply_is_decoded_once_and_only_when_read() {
        let document = doc! { "ok": 1.0, "msg": "isdbgrid" };
        let raw = RawDocumentBuf::try_from(&document).unwrap();
        let reply = HelloReply::from_raw(raw);
        assert!(reply.inner.decoded.get().is_none());
        let shared = reply.clone();
        assert_eq!(shared.document().as_ref(), &document);
        // The clone and the original share one decoded document.
        assert!(Arc::ptr_eq(reply.document(), shared.document()));
        assert_eq!(HelloReply::from_document(document).unwrap(), reply);
    }
}
