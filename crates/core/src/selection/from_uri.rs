//! The read preference of a parsed connection string.
//!
//! The connection string carries `readPreference`, `readPreferenceTags` (repeatable, in
//! order) and `maxStalenessSeconds`; the options module has already parsed and type-checked
//! each value, and this module applies the read preference rules to them. (The selection
//! settings, `localThresholdMS` and `heartbeatFrequencyMS`, come with the engine's
//! `ClusterSettings::selection`.)

use crate::options::ConnectionString;
use crate::selection::read_preference::{ReadPreference, ReadPreferenceError};

impl ReadPreference {
    /// The read preference a connection string asks for: mode primary when it sets none.
    ///
    /// Fails with the same errors as [`ReadPreference::from_uri_parts`], e.g. tags with
    /// mode primary, so a bad combination is reported when the client is configured rather
    /// than at selection time.
    pub fn from_connection_string(uri: &ConnectionString) -> Result<Self, ReadPreferenceError> {
        ReadPreference::from_uri_parts(
            uri.read_preference(),
            uri.read_preference_tags(),
            uri.max_staleness_seconds().map(i64::from),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::selection::ReadPreferenceMode;

    fn parse(uri: &str) -> ConnectionString {
        ConnectionString::parse(uri).unwrap()
    }

    #[test]
    fn read_preference_comes_from_the_uri_options() {
        let uri = parse(
            "mongodb://a,b/?readPreference=secondaryPreferred&readPreferenceTags=dc:ny,rack:1\
             &readPreferenceTags=&maxStalenessSeconds=120",
        );
        let rp = ReadPreference::from_connection_string(&uri).unwrap();
        assert_eq!(rp.mode(), ReadPreferenceMode::SecondaryPreferred);
        assert_eq!(rp.tag_sets().len(), 2);
        assert_eq!(rp.tag_sets()[0].get("dc").map(String::as_str), Some("ny"));
        assert_eq!(rp.tag_sets()[0].get("rack").map(String::as_str), Some("1"));
        assert!(
            rp.tag_sets()[1].is_empty(),
            "an empty value is the match-all tag set"
        );
        assert_eq!(rp.max_staleness(), Some(Duration::from_secs(120)));
    }

    #[test]
    fn no_read_preference_means_primary_without_maximum_staleness() {
        let rp = ReadPreference::from_connection_string(&parse("mongodb://a")).unwrap();
        assert_eq!(rp.mode(), ReadPreferenceMode::Primary);
        assert_eq!(rp.max_staleness(), None);
        let rp = ReadPreference::from_connection_string(&parse(
            "mongodb://a/?readPreference=nearest&maxStalenessSeconds=-1",
        ))
        .unwrap();
        assert_eq!(rp.max_staleness(), None);
    }
}
