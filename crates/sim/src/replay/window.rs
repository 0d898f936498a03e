//! `--from` / `--to`: a time of the recording, as seconds from its start or as a wall-clock
//! time written as the recording writes them (RFC 3339).

use std::fmt;
use std::str::FromStr;

use super::timeline::ReplayError;

/// A time of a recording.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplayTime {
    /// Seconds since the recording's start (its header's `started_at`).
    Seconds(f64),
    /// A wall-clock time, µs since the Unix epoch (compared with the header's
    /// `started_wall_us`).
    WallMicros(i64),
}

impl FromStr for ReplayTime {
    type Err = String;

    /// `12.5` (seconds from the start) or `2026-12-07T05:49:57.559Z` (RFC 3339).
    fn from_str(text: &str) -> Result<ReplayTime, String> {
        if let Ok(seconds) = text.parse::<f64>() {
            if seconds.is_finite() && seconds >= 0.0 {
                return Ok(ReplayTime::Seconds(seconds));
            }
            return Err(format!("{text} is not a number of seconds from the start"));
        }
        bson::DateTime::parse_rfc3339_str(text)
            .map(|time| ReplayTime::WallMicros(time.timestamp_millis().saturating_mul(1000)))
            .map_err(|_| {
                format!(
                    "{text:?} is neither seconds from the recording's start nor an RFC 3339 time"
                )
            })
    }
}

impl fmt::Display for ReplayTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayTime::Seconds(seconds) => write!(f, "{seconds} s"),
            ReplayTime::WallMicros(micros) => {
                let millis = micros.div_euclid(1000);
                match bson::DateTime::from_millis(millis).try_to_rfc3339_string() {
                    Ok(text) => f.write_str(&text),
                    Err(_) => write!(f, "{micros} µs since the epoch"),
                }
            }
        }
    }
}

impl ReplayTime {
    /// µs since the recording's start (`started_wall_us`: its header's wall clock at time
    /// zero, needed for a wall-clock time).
    pub(crate) fn offset_us(&self, started_wall_us: Option<u64>) -> Result<u64, ReplayError> {
        match self {
            ReplayTime::Seconds(seconds) => Ok((seconds * 1e6).min(u64::MAX as f64) as u64),
            ReplayTime::WallMicros(micros) => {
                let started = started_wall_us.ok_or_else(|| {
                    ReplayError::Format(
                        "the header has no started_wall_us to place a wall-clock time".into(),
                    )
                })?;
                let started = i64::try_from(started).unwrap_or(i64::MAX);
                u64::try_from(micros.saturating_sub(started)).map_err(|_| {
                    ReplayError::Format(format!("{self} is before the recording started"))
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_wall_clock_times_become_offsets_into_the_recording() {
        let started = 1_796_622_585_059_000;
        let seconds: ReplayTime = "12.5".parse().unwrap();
        assert_eq!(seconds.offset_us(None).unwrap(), 12_500_000);
        let wall: ReplayTime = "2026-12-07T05:49:57.559Z".parse().unwrap();
        assert_eq!(wall.offset_us(Some(started)).unwrap(), 12_500_000);
        assert!(wall.offset_us(None).is_err(), "no header time");
        let before: ReplayTime = "2026-12-07T05:49:45.000Z".parse().unwrap();
        assert!(before.offset_us(Some(started)).is_err());
        assert!("-1".parse::<ReplayTime>().is_err());
        assert!("yesterday".parse::<ReplayTime>().is_err());
        assert_eq!(wall.to_string(), "2026-12-07T05:49:57.559Z");
    }
}
