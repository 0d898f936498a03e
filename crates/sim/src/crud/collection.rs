//! One collection of the store.

use bson::Document;

/// One collection: its documents in insertion order, and its index names and keys.
#[derive(Debug, Clone, Default)]
pub(super) struct Collection {
    pub(super) documents: Vec<Document>,
    pub(super) indexes: Vec<Document>,
}
