//! [`Secret`]: a string that never appears in `Debug`, `Display`, errors, warnings or logs.

use std::fmt;

/// What is shown in place of a secret.
pub(crate) const MASK: &str = "*****";

/// A string that must never be shown: `Debug` and `Display` print `*****`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub(crate) fn new(text: &str) -> Self {
        Secret(text.to_string())
    }

    /// The secret text itself, for the code that must use it (authentication, TLS).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}
