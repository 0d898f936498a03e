//! Tag set matching (Server Selection spec, "tag_sets").

use crate::sdam::ServerDescription;
use crate::selection::read_preference::TagSet;

/// "A read preference tag set (T) matches a server tag set (S) ... if T is a subset of S."
pub(crate) fn tag_set_matches(tag_set: &TagSet, server: &ServerDescription) -> bool {
    tag_set
        .iter()
        .all(|(key, value)| server.tags.get(key) == Some(value))
}

/// Which tag set selection settled on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TagChoice<'a> {
    /// The `tag_sets` list is empty: every candidate is eligible.
    Any,
    /// The first tag set (at `index`) that matches at least one candidate.
    Set {
        /// Position in the read preference's list.
        index: usize,
        /// The tag set itself.
        tags: &'a TagSet,
    },
    /// No tag set matches any candidate: no server is eligible.
    NoneMatched,
}

impl TagChoice<'_> {
    /// Whether `server` is eligible under this choice.
    pub(crate) fn admits(&self, server: &ServerDescription) -> bool {
        match self {
            TagChoice::Any => true,
            TagChoice::Set { tags, .. } => tag_set_matches(tags, server),
            TagChoice::NoneMatched => false,
        }
    }
}

/// "Tag sets are tried in order until a tag set matches at least one candidate server."
pub(crate) fn choose_tag_set<'a, 's>(
    tag_sets: &'a [TagSet],
    candidates: impl Iterator<Item = &'s ServerDescription> + Clone,
) -> TagChoice<'a> {
    if tag_sets.is_empty() {
        return TagChoice::Any;
    }
    tag_sets
        .iter()
        .enumerate()
        .find(|(_, tags)| {
            candidates
                .clone()
                .any(|server| tag_set_matches(tags, server))
        })
        .map_or(TagChoice::NoneMatched, |(index, tags)| TagChoice::Set {
            index,
            tags,
        })
}
