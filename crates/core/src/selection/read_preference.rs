//! Read preferences: mode, ordered tag sets and `maxStalenessSeconds`, validated when built.
//!
//! Server Selection spec, section "Read Preference", and the Max Staleness spec, section "API".
//! Every rule that can be checked without knowing the deployment is checked here, so that an
//! invalid read preference is an error when it is built, never a surprise at selection time.
//! The one rule that depends on the deployment (the smallest allowed `maxStalenessSeconds`
//! applies to replica sets only) is [`ReadPreference::check_max_staleness`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub use crate::options::TagSet;

/// `idleWritePeriodMS` (Max Staleness spec): how often an idle primary writes a no-op.
pub const IDLE_WRITE_PERIOD: Duration = Duration::from_secs(10);

/// `smallestMaxStalenessSeconds` (Server Selection spec): the smallest allowed max staleness.
pub const SMALLEST_MAX_STALENESS: Duration = Duration::from_secs(90);

/// The read preference `mode` (Server Selection spec, "mode").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ReadPreferenceMode {
    /// Only an available primary is suitable.
    #[default]
    Primary,
    /// The primary if available, otherwise eligible secondaries.
    PrimaryPreferred,
    /// Only eligible secondaries.
    Secondary,
    /// Eligible secondaries if any, otherwise the primary.
    SecondaryPreferred,
    /// The primary and the secondaries, when eligible.
    Nearest,
}

impl ReadPreferenceMode {
    /// The camel-case name used in `$readPreference` and connection strings.
    pub fn name(self) -> &'static str {
        match self {
            ReadPreferenceMode::Primary => "primary",
            ReadPreferenceMode::PrimaryPreferred => "primaryPreferred",
            ReadPreferenceMode::Secondary => "secondary",
            ReadPreferenceMode::SecondaryPreferred => "secondaryPreferred",
            ReadPreferenceMode::Nearest => "nearest",
        }
    }
}

impl fmt::Display for ReadPreferenceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ReadPreferenceMode {
    type Err = ReadPreferenceError;

    /// Parses a mode name, ignoring ASCII case (`secondaryPreferred`, `SecondaryPreferred`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [
            ReadPreferenceMode::Primary,
            ReadPreferenceMode::PrimaryPreferred,
            ReadPreferenceMode::Secondary,
            ReadPreferenceMode::SecondaryPreferred,
            ReadPreferenceMode::Nearest,
        ]
        .into_iter()
        .find(|mode| mode.name().eq_ignore_ascii_case(text))
        .ok_or_else(|| ReadPreferenceError::UnknownMode(text.to_string()))
    }
}

/// Why a read preference is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadPreferenceError {
    /// The mode name is not one of the five modes.
    #[error(
        "unknown read preference mode {0:?}: expected primary, primaryPreferred, secondary, \
         secondaryPreferred or nearest"
    )]
    UnknownMode(String),
    /// Mode primary was given a non-empty tag set.
    #[error("read preference mode primary cannot be combined with tag sets (got {0})")]
    TagsWithPrimary(String),
    /// Mode primary was given a max staleness.
    #[error(
        "read preference mode primary cannot be combined with maxStalenessSeconds (got {0}); \
         max staleness applies to secondaries only"
    )]
    MaxStalenessWithPrimary(i64),
    /// `maxStalenessSeconds` is negative but not -1 ("no maximum").
    #[error("invalid maxStalenessSeconds {0}: expected -1 (no maximum) or a value of at least 0")]
    NegativeMaxStaleness(i64),
    /// `maxStalenessSeconds` is below the smallest value allowed for a replica set.
    #[error(
        "maxStalenessSeconds {given_seconds} is too small: a replica set requires at least \
         {minimum_seconds} seconds (the larger of 90 s and heartbeatFrequencyMS {heartbeat_ms} ms \
         + idleWritePeriodMS 10000 ms)"
    )]
    MaxStalenessTooSmall {
        /// The value given, in seconds.
        given_seconds: u64,
        /// The smallest allowed value, in seconds (rounded up).
        minimum_seconds: u64,
        /// The client's heartbeat frequency, in milliseconds.
        heartbeat_ms: u128,
    },
}

/// A validated read preference.
///
/// `tag_sets` is ordered: selection uses the first tag set that matches at least one
/// candidate. An empty list, like the default `[{}]`, matches every server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadPreference {
    mode: ReadPreferenceMode,
    tag_sets: Vec<TagSet>,
    max_staleness: Option<Duration>,
}

impl Default for ReadPreference {
    fn default() -> Self {
        ReadPreference::primary()
    }
}

impl ReadPreference {
    /// Mode primary: the default read preference.
    pub fn primary() -> Self {
        ReadPreference {
            mode: ReadPreferenceMode::Primary,
            tag_sets: Vec::new(),
            max_staleness: None,
        }
    }

    /// A read preference of `mode` with no tag sets and no max staleness.
    pub fn with_mode(mode: ReadPreferenceMode) -> Self {
        ReadPreference {
            mode,
            tag_sets: Vec::new(),
            max_staleness: None,
        }
    }

    /// A read preference with tag sets and an optional max staleness (`None` = no maximum).
    ///
    /// Errors when mode primary is given a non-empty tag set or a max staleness
    /// (Server Selection spec, "tag_sets" and "maxStalenessSeconds").
    pub fn new(
        mode: ReadPreferenceMode,
        tag_sets: Vec<TagSet>,
        max_staleness: Option<Duration>,
    ) -> Result<Self, ReadPreferenceError> {
        if mode == ReadPreferenceMode::Primary {
            if tag_sets.iter().any(|set| !set.is_empty()) {
                return Err(ReadPreferenceError::TagsWithPrimary(format_tag_sets(
                    &tag_sets,
                )));
            }
            if let Some(max) = max_staleness {
                let seconds = i64::try_from(max.as_secs()).unwrap_or(i64::MAX);
                return Err(ReadPreferenceError::MaxStalenessWithPrimary(seconds));
            }
        }
        Ok(ReadPreference {
            mode,
            tag_sets,
            max_staleness,
        })
    }

    /// Builds a read preference from connection string parts: `readPreference`, every
    /// `readPreferenceTags` (in order) and `maxStalenessSeconds`.
    ///
    /// An absent mode means primary; `maxStalenessSeconds=-1` or absent means no maximum
    /// (Max Staleness spec, "API"). Other negative values are errors, as are tags or a
    /// max staleness combined with mode primary, explicit or by default.
    pub fn from_uri_parts(
        mode: Option<&str>,
        tag_sets: &[TagSet],
        max_staleness_seconds: Option<i64>,
    ) -> Result<Self, ReadPreferenceError> {
        let mode = match mode {
            Some(name) => name.parse()?,
            None => ReadPreferenceMode::Primary,
        };
        let max_staleness = match max_staleness_seconds {
            None | Some(-1) => None,
            Some(seconds) => match u64::try_from(seconds) {
                Ok(seconds) => Some(Duration::from_secs(seconds)),
                Err(_) => return Err(ReadPreferenceError::NegativeMaxStaleness(seconds)),
            },
        };
        ReadPreference::new(mode, tag_sets.to_vec(), max_staleness)
    }

    /// The mode.
    pub fn mode(&self) -> ReadPreferenceMode {
        self.mode
    }

    /// The ordered tag sets (possibly empty).
    pub fn tag_sets(&self) -> &[TagSet] {
        &self.tag_sets
    }

    /// The max staleness, or `None` for no maximum.
    pub fn max_staleness(&self) -> Option<Duration> {
        self.max_staleness
    }

    /// Checks the rule that applies when the topology is a replica set (Server Selection spec,
    /// "maxStalenessSeconds"): max staleness must be at least 90 seconds and at least
    /// `heartbeat_frequency` + idleWritePeriodMS.
    pub fn check_max_staleness(
        &self,
        heartbeat_frequency: Duration,
    ) -> Result<(), ReadPreferenceError> {
        let Some(max) = self.max_staleness else {
            return Ok(());
        };
        let minimum =
            SMALLEST_MAX_STALENESS.max(heartbeat_frequency.saturating_add(IDLE_WRITE_PERIOD));
        if max >= minimum {
            return Ok(());
        }
        let rounded_up = minimum.as_secs() + u64::from(minimum.subsec_nanos() > 0);
        Err(ReadPreferenceError::MaxStalenessTooSmall {
            given_seconds: max.as_secs(),
            minimum_seconds: rounded_up,
            heartbeat_ms: heartbeat_frequency.as_millis(),
        })
    }
}

/// Formats tag sets as `[{dc: ny, rack: 1}, {}]`.
pub(crate) fn format_tag_sets(tag_sets: &[TagSet]) -> String {
    let sets: Vec<String> = tag_sets.iter().map(format_tags).collect();
    format!("[{}]", sets.join(", "))
}

/// Formats one tag set as `{dc: ny, rack: 1}`.
pub(crate) fn format_tags(tags: &TagSet) -> String {
    let pairs: Vec<String> = tags.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

impl fmt::Display for ReadPreference {
    /// `mode secondary, tag sets [{dc: ny}], maxStalenessSeconds 120`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "mode {}", self.mode)?;
        if !self.tag_sets.is_empty() {
            write!(f, ", tag sets {}", format_tag_sets(&self.tag_sets))?;
        }
        if let Some(max) = self.max_staleness {
            write!(f, ", maxStalenessSeconds {}", max.as_secs())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> TagSet {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn modes_parse_ignoring_case() {
        assert_eq!(
            "SecondaryPreferred".parse::<ReadPreferenceMode>(),
            Ok(ReadPreferenceMode::SecondaryPreferred)
        );
        assert_eq!(
            "nearest".parse::<ReadPreferenceMode>(),
            Ok(ReadPreferenceMode::Nearest)
        );
        let error = "fastest".parse::<ReadPreferenceMode>().unwrap_err();
        assert!(error.to_string().contains("\"fastest\""), "{error}");
    }

    #[test]
    fn primary_rejects_tags_and_max_staleness_but_accepts_the_empty_tag_set() {
        let error =
            ReadPreference::from_uri_parts(None, &[tags(&[("dc", "ny")])], None).unwrap_err();
        assert_eq!(
            error,
            ReadPreferenceError::TagsWithPrimary("[{dc: ny}]".into())
        );
        let error = ReadPreference::from_uri_parts(Some("primary"), &[], Some(120)).unwrap_err();
        assert_eq!(error, ReadPreferenceError::MaxStalenessWithPrimary(120));
        assert!(ReadPreference::from_uri_parts(None, &[TagSet::new()], Some(-1)).is_ok());
    }

    #[test]
    fn minus_one_means_no_maximum_and_other_negatives_are_errors() {
        let rp = ReadPreference::from_uri_parts(Some("secondary"), &[], Some(-1)).unwrap();
        assert_eq!(rp.max_staleness(), None);
        assert_eq!(
            ReadPreference::from_uri_parts(Some("secondary"), &[], Some(-2)),
            Err(ReadPreferenceError::NegativeMaxStaleness(-2))
        );
        let rp = ReadPreference::from_uri_parts(Some("secondary"), &[], Some(1)).unwrap();
        assert_eq!(rp.max_staleness(), Some(Duration::from_secs(1)));
    }

    #[test]
    fn replica_set_minimum_is_the_larger_of_90s_and_heartbeat_plus_idle_write() {
        let rp = |s| ReadPreference::from_uri_parts(Some("nearest"), &[], Some(s)).unwrap();
        let ten = Duration::from_secs(10);
        assert!(rp(90).check_max_staleness(ten).is_ok());
        let error = rp(89).check_max_staleness(ten).unwrap_err();
        assert!(error.to_string().contains("at least 90 seconds"), "{error}");
        let two_min = Duration::from_secs(120);
        assert!(rp(130).check_max_staleness(two_min).is_ok());
        let error = rp(129).check_max_staleness(two_min).unwrap_err();
        assert_eq!(
            error,
            ReadPreferenceError::MaxStalenessTooSmall {
                given_seconds: 129,
                minimum_seconds: 130,
                heartbeat_ms: 120_000
            }
        );
    }

    #[test]
    fn display_lists_every_component() {
        let rp = ReadPreference::from_uri_parts(
            Some("secondary"),
            &[tags(&[("dc", "ny"), ("rack", "1")]), TagSet::new()],
            Some(120),
        )
        .unwrap();
        assert_eq!(
            rp.to_string(),
            "mode secondary, tag sets [{dc: ny, rack: 1}, {}], maxStalenessSeconds 120"
        );
    }
}
