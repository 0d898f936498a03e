//! [`OptionValue`]: the typed value of one URI option.

use super::credential::AuthMechanismProperties;
use super::secret::Secret;
use super::tags::TagSet;

/// The value of one URI option, typed by its row in the URI Options spec's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionValue {
    /// A boolean option.
    Bool(bool),
    /// An integer option (also `w` when it is a number).
    Int(i64),
    /// A string option (also `w` when it is not a number).
    String(String),
    /// A secret string option such as `tlsCertificateKeyFilePassword`.
    Secret(Secret),
    /// A list of strings (`compressors`).
    List(Vec<String>),
    /// Key-value pairs (`authMechanismProperties`).
    Properties(AuthMechanismProperties),
    /// Read preference tag sets, in the order given (`readPreferenceTags`).
    TagSets(Vec<TagSet>),
}
