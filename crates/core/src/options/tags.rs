//! [`TagSet`]: the value of one `readPreferenceTags` option, owned here (the lowest layer)
//! so that connection string parsing and server selection share it without `options`
//! depending on `selection`.

use std::collections::BTreeMap;

/// One tag set: a server matches it when every tag of the set is among the server's tags.
/// The empty tag set matches every server.
pub type TagSet = BTreeMap<String, String>;
