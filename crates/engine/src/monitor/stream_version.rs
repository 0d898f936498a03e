//! What the streaming protocol reads of each streamed reply: whether it succeeded, and its
//! `topologyVersion`, kept both as a value (to tell a change) and as the document the server
//! sent (to send back in the next awaitable hello).

use bson::{Document, RawDocument};

use crate::sdam::TopologyVersion;
use mongo_topology_core::reply::{self as reply_fields, DocumentRef, ValueRef};

/// What the stream needs of a streamed reply, read in one pass: whether its `ok` says
/// success (a malformed `ok` counts as failure), and its `topologyVersion` field. A repeated
/// key counts by its last value, as everywhere else.
pub(crate) fn stream_fields(reply: &RawDocument) -> (bool, Option<ValueRef<'_>>) {
    let (mut ok, mut version) = (None, None);
    for entry in DocumentRef::Raw(reply).entries() {
        match entry {
            Ok(("ok", value)) => ok = Some(value),
            Ok(("topologyVersion", value)) => version = Some(value),
            Ok(_) => {}
            Err(_) => return (false, None),
        }
    }
    (reply_fields::ok_value(ok).unwrap_or(false), version)
}

/// A well-formed `topologyVersion` of a reply: its value, and the document as sent (to
/// send back in the next awaitable hello).
pub(crate) struct StreamVersion {
    value: TopologyVersion,
    /// The document to send back.
    pub(crate) as_sent: Document,
}

/// Sets `current` to a reply's `topologyVersion` (`field`) when it is well formed (`None` when it
/// is absent or malformed: a reply with a malformed one is not streamed from, and the core
/// rejects that reply anyway); whether it changed. The document is copied only when the
/// version changed, so a streamed reply that changes nothing allocates nothing here.
pub(crate) fn update_topology_version(
    current: &mut Option<StreamVersion>,
    field: Option<ValueRef<'_>>,
) -> bool {
    let value = reply_fields::topology_version_value(field).ok().flatten();
    match (current.as_ref(), value) {
        (Some(known), Some(value)) if known.value == value => false,
        (None, None) => false,
        (_, None) => {
            *current = None;
            true
        }
        (_, Some(value)) => {
            *current = match field {
                Some(ValueRef::Document(version)) => version
                    .to_document()
                    .ok()
                    .map(|as_sent| StreamVersion { value, as_sent }),
                _ => None,
            };
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use bson::oid::ObjectId;
    use bson::{rawdoc, RawDocumentBuf};

    use super::*;

    fn reply(ok: i32, process_id: ObjectId, counter: i64) -> RawDocumentBuf {
        rawdoc! { "ok": ok, "topologyVersion": { "processId": process_id, "counter": counter } }
    }

    fn read(current: &mut Option<StreamVersion>, reply: &RawDocument) -> (bool, bool) {
        let (ok, field) = stream_fields(reply);
        (ok, update_topology_version(current, field))
    }

    #[test]
    fn a_version_is_copied_when_it_changes_and_only_then() {
        let process_id = ObjectId::new();
        let mut current = None;
        assert_eq!(read(&mut current, &reply(1, process_id, 1)), (true, true));
        let first = current.as_ref().map(|v| &v.as_sent as *const Document);
        // The same version: not changed, the kept document not replaced.
        assert_eq!(read(&mut current, &reply(1, process_id, 1)), (true, false));
        assert_eq!(
            current.as_ref().map(|v| &v.as_sent as *const Document),
            first
        );
        assert_eq!(read(&mut current, &reply(1, process_id, 2)), (true, true));
        assert_eq!(current.as_ref().map(|v| v.value.counter), Some(2));
        assert_eq!(
            read(&mut current, &reply(0, ObjectId::new(), 2)),
            (false, true)
        );
    }

    #[test]
    fn a_malformed_or_missing_version_ends_streaming() {
        let mut current = None;
        assert_eq!(
            read(&mut current, &reply(1, ObjectId::new(), 1)),
            (true, true)
        );
        let malformed = rawdoc! { "ok": 1, "topologyVersion": { "processId": 1, "counter": 1 } };
        assert_eq!(read(&mut current, &malformed), (true, true));
        assert!(current.is_none());
        assert_eq!(read(&mut current, &rawdoc! { "ok": 1.0 }), (true, false));
    }
}
