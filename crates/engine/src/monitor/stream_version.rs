//! What the streaming protocol keeps of each reply: its `topologyVersion`, as a value (to
//! tell a change) and as the document to send back in the next awaitable hello. The value
//! is the one the core read into the reply's description, so a reply is read once.

use bson::{doc, Document};

use crate::sdam::TopologyVersion;

/// The `topologyVersion` of the last reply, which makes streaming possible.
pub(crate) struct StreamVersion {
    value: TopologyVersion,
    /// The document to send back.
    pub(crate) as_sent: Document,
}

/// Sets `current` to a reply's `topologyVersion` as its description holds it (`None` when
/// the reply had none, a malformed one, or failed: such a reply is not streamed from);
/// whether it changed. The document is built only when the version changed, so a streamed
/// reply that changes nothing allocates nothing here.
pub(crate) fn update_topology_version(
    current: &mut Option<StreamVersion>,
    version: Option<&TopologyVersion>,
) -> bool {
    match (current.as_ref(), version) {
        (Some(known), Some(version)) if known.value == *version => false,
        (None, None) => false,
        (_, None) => {
            *current = None;
            true
        }
        (_, Some(version)) => {
            *current = Some(StreamVersion {
                value: *version,
                as_sent: doc! { "processId": version.process_id, "counter": version.counter },
            });
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use bson::oid::ObjectId;

    use super::*;

    fn version(process_id: ObjectId, counter: i64) -> TopologyVersion {
        TopologyVersion {
            process_id,
            counter,
        }
    }

    #[test]
    fn a_version_is_copied_when_it_changes_and_only_then() {
        let process_id = ObjectId::new();
        let mut current = None;
        assert!(update_topology_version(
            &mut current,
            Some(&version(process_id, 1))
        ));
        let first = current.as_ref().map(|v| &v.as_sent as *const Document);
        assert_eq!(
            current.as_ref().map(|v| v.as_sent.clone()),
            Some(doc! { "processId": process_id, "counter": 1i64 })
        );
        // The same version: not changed, the kept document not replaced.
        assert!(!update_topology_version(
            &mut current,
            Some(&version(process_id, 1))
        ));
        assert_eq!(
            current.as_ref().map(|v| &v.as_sent as *const Document),
            first
        );
        assert!(update_topology_version(
            &mut current,
            Some(&version(process_id, 2))
        ));
        assert_eq!(current.as_ref().map(|v| v.value.counter), Some(2));
        let restarted = ObjectId::new();
        assert!(update_topology_version(
            &mut current,
            Some(&version(restarted, 2))
        ));
        assert_eq!(
            current.as_ref().map(|v| v.value.process_id),
            Some(restarted)
        );
    }

    #[test]
    fn a_reply_without_a_version_ends_streaming() {
        let mut current = None;
        assert!(!update_topology_version(&mut current, None));
        assert!(update_topology_version(
            &mut current,
            Some(&version(ObjectId::new(), 1))
        ));
        assert!(update_topology_version(&mut current, None));
        assert!(current.is_none());
    }
}
