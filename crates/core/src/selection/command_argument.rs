//! The `$readPreference` global command argument a read sends to the server selection chose
//! (Server Selection spec: "Passing read preference to mongos and load balancers", "Topology
//! type: Single", "Topology types: ReplicaSetWithPrimary or ReplicaSetNoPrimary"), for
//! OP_MSG.

use bson::{doc, Bson, Document};

use crate::sdam::{ServerType, TopologyType};
use crate::selection::criteria::SelectionCriteria;
use crate::selection::read_preference::{ReadPreference, ReadPreferenceMode};

/// The `$readPreference` document to add to a command selected with `criteria` on a server
/// of `server_type` in a topology of `topology_type`, or `None` when none is sent:
///
/// | topology | server | read preference | `$readPreference` |
/// |---|---|---|---|
/// | any | any | (a write) | none |
/// | Single | Standalone | any | none |
/// | Single | a replica set member | primary | `{mode: "primaryPreferred"}` |
/// | Single | a replica set member | other | the read preference |
/// | any other case | Mongos, LoadBalancer, member | primary | none |
/// | any other case | Mongos, LoadBalancer, member | other | the read preference |
pub fn read_preference_argument(
    topology_type: TopologyType,
    server_type: ServerType,
    criteria: &SelectionCriteria,
) -> Option<Document> {
    let read_preference = criteria.read_preference()?;
    let routed = matches!(server_type, ServerType::Mongos | ServerType::LoadBalancer);
    if topology_type == TopologyType::Single && !routed {
        return match (server_type, read_preference.mode()) {
            (ServerType::Standalone, _) => None,
            (_, ReadPreferenceMode::Primary) => Some(doc! { "mode": "primaryPreferred" }),
            _ => Some(read_preference_document(read_preference)),
        };
    }
    match read_preference.mode() {
        ReadPreferenceMode::Primary => None,
        _ => Some(read_preference_document(read_preference)),
    }
}

/// The spec's "Document structure": `mode`, then `tags` (the tag sets, when there are any)
/// and `maxStalenessSeconds` (when set).
pub fn read_preference_document(read_preference: &ReadPreference) -> Document {
    let mut document = doc! { "mode": read_preference.mode().name() };
    if !read_preference.tag_sets().is_empty() {
        let tags: Vec<Bson> = read_preference
            .tag_sets()
            .iter()
            .map(|set| {
                Bson::Document(
                    set.iter()
                        .map(|(key, value)| (key.clone(), Bson::String(value.clone())))
                        .collect(),
                )
            })
            .collect();
        document.insert("tags", tags);
    }
    if let Some(max) = read_preference.max_staleness() {
        let seconds = i64::try_from(max.as_secs()).unwrap_or(i64::MAX);
        document.insert("maxStalenessSeconds", seconds);
    }
    document
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::selection::TagSet;

    fn read(mode: ReadPreferenceMode) -> SelectionCriteria {
        SelectionCriteria::read(ReadPreference::with_mode(mode))
    }

    #[test]
    fn writes_and_primary_reads_send_nothing_outside_single() {
        let write = SelectionCriteria::write();
        let primary = read(ReadPreferenceMode::Primary);
        for (topology, server) in [
            (TopologyType::ReplicaSetWithPrimary, ServerType::RsPrimary),
            (TopologyType::Sharded, ServerType::Mongos),
            (TopologyType::LoadBalanced, ServerType::LoadBalancer),
            (TopologyType::Single, ServerType::RsSecondary),
        ] {
            assert_eq!(read_preference_argument(topology, server, &write), None);
        }
        assert_eq!(
            read_preference_argument(TopologyType::Sharded, ServerType::Mongos, &primary),
            None
        );
        assert_eq!(
            read_preference_argument(
                TopologyType::ReplicaSetWithPrimary,
                ServerType::RsPrimary,
                &primary
            ),
            None
        );
    }

    #[test]
    fn a_direct_connection_to_a_member_reads_with_primary_preferred() {
        let primary = read(ReadPreferenceMode::Primary);
        assert_eq!(
            read_preference_argument(TopologyType::Single, ServerType::RsSecondary, &primary),
            Some(doc! { "mode": "primaryPreferred" })
        );
        assert_eq!(
            read_preference_argument(TopologyType::Single, ServerType::Standalone, &primary),
            None
        );
        let nearest = read(ReadPreferenceMode::Nearest);
        assert_eq!(
            read_preference_argument(TopologyType::Single, ServerType::RsSecondary, &nearest),
            Some(doc! { "mode": "nearest" })
        );
        assert_eq!(
            read_preference_argument(TopologyType::Single, ServerType::Standalone, &nearest),
            None
        );
        // A mongos reached directly follows the mongos rules.
        assert_eq!(
            read_preference_argument(TopologyType::Single, ServerType::Mongos, &primary),
            None
        );
    }

    #[test]
    fn other_modes_send_mode_tags_and_max_staleness() {
        let tags: TagSet = [("dc".to_string(), "ny".to_string())].into_iter().collect();
        let read_preference = ReadPreference::new(
            ReadPreferenceMode::SecondaryPreferred,
            vec![tags, TagSet::new()],
            Some(Duration::from_secs(120)),
        )
        .unwrap();
        let criteria = SelectionCriteria::read(read_preference);
        assert_eq!(
            read_preference_argument(TopologyType::Sharded, ServerType::Mongos, &criteria),
            Some(doc! {
                "mode": "secondaryPreferred",
                "tags": [{ "dc": "ny" }, {}],
                "maxStalenessSeconds": 120_i64,
            })
        );
    }
}
