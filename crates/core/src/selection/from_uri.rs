//! Selection criteria and settings from a parsed connection string.
//!
//! The connection string carries `readPreference`, `readPreferenceTags` (repeatable, in
//! order), `maxStalenessSeconds`, `localThresholdMS` and `heartbeatFrequencyMS`; the
//! options module has already parsed and type-checked each value, and this module applies
//! the read preference rules to them.

use crate::options::ConnectionString;
use crate::selection::criteria::SelectionSettings;
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

impl SelectionSettings {
    /// `localThresholdMS` and `heartbeatFrequencyMS` from a connection string, with the
    /// spec defaults (15 ms, 10 s) for those it does not set.
    pub fn from_connection_string(uri: &ConnectionString) -> Self {
        let defaults = SelectionSettings::default();
        SelectionSettings {
            local_threshold: uri.local_threshold().unwrap_or(defaults.local_threshold),
            heartbeat_frequency: uri
                .heartbeat_frequency()
                .unwrap_or(defaults.heartbeat_frequency),
        }
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

    #[test]
    fn settings_take_uri_values_or_spec_defaults() {
        let settings = SelectionSettings::from_connection_string(&parse(
            "mongodb://a/?localThresholdMS=40&heartbeatFrequencyMS=2000",
        ));
        assert_eq!(settings.local_threshold, Duration::from_millis(40));
        assert_eq!(settings.heartbeat_frequency, Duration::from_secs(2));
        let defaults = SelectionSettings::from_connection_string(&parse("mongodb://a"));
        assert_eq!(defaults.local_threshold, Duration::from_millis(15));
        assert_eq!(defaults.heartbeat_frequency, Duration::from_secs(10));
    }
}
