//! [`ReplyFieldError`]: which field of a reply could not be read, and why.

use bson::spec::ElementType;
use bson::Bson;

/// Why a reply field could not be read: which field is wrong and how.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {problem}")]
pub struct ReplyFieldError {
    /// The field, with its path (e.g. `topologyVersion.counter`).
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

impl ReplyFieldError {
    /// An error about `field`.
    pub fn new(field: &str, problem: impl Into<String>) -> Self {
        ReplyFieldError {
            field: field.to_string(),
            problem: problem.into(),
        }
    }

    /// `field` has the wrong BSON type.
    pub fn wrong_type(field: &str, expected: &str, found: &Bson) -> Self {
        ReplyFieldError::of_type(field, expected, found.element_type())
    }

    /// `field` has the BSON type `found`, not the one `expected`.
    pub fn of_type(field: &str, expected: &str, found: ElementType) -> Self {
        ReplyFieldError::new(field, format!("expected {expected}, found {found:?}"))
    }
}
