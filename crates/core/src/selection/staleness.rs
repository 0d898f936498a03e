//! Staleness estimates (Server Selection spec, "maxStalenessSeconds"; Max Staleness spec,
//! "Client").
//!
//! All arithmetic is in milliseconds, as the spec's formulas are. `lastUpdateTime` is a
//! client monotonic time and `lastWriteDate` a server wall-clock time; the formulas only ever
//! subtract two times from the same clock, so the two origins cancel out. The current time is
//! deliberately not an input: the spec rejected estimates based on "now" ("Use current time in
//! staleness estimate" in the Max Staleness spec's rejected ideas).

use std::time::Duration;

use crate::sdam::{ServerDescription, ServerType, TopologyDescription, TopologyType};

/// What a secondary's staleness is measured against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reference {
    /// ReplicaSetWithPrimary: `P.lastUpdateTime - P.lastWriteDate` of the primary P.
    Primary { primary_lag_ms: i128 },
    /// ReplicaSetNoPrimary: `SMax.lastWriteDate`, the greatest lastWriteDate of any secondary.
    MostRecentSecondary { max_last_write_ms: i128 },
    /// The reference server lacks the data needed (no lastWriteDate, or no secondary has one).
    Missing,
}

/// A server's estimated staleness.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Staleness {
    /// Non-secondary servers (the primary, mongos) have zero staleness.
    Zero,
    /// The estimate for a secondary, in milliseconds; it can be temporarily negative.
    EstimatedMillis(i64),
    /// No estimate: the secondary or the reference server lacks `lastWriteDate` (or
    /// `lastUpdateTime`). Such a secondary is never eligible under a max staleness.
    Unknown,
}

/// The staleness filter of one selection: the reference, heartbeatFrequencyMS and the maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StalenessCheck {
    reference: Reference,
    heartbeat_ms: i128,
    max_ms: i128,
}

fn millis_of_monotonic(server: &ServerDescription) -> Option<i128> {
    server
        .last_update_time
        .map(|time| i128::try_from(time.offset().as_millis()).unwrap_or(i128::MAX))
}

fn millis_of_last_write(server: &ServerDescription) -> Option<i128> {
    server
        .last_write_date
        .map(|date| i128::from(date.timestamp_millis()))
}

fn duration_millis(duration: Duration) -> i128 {
    i128::try_from(duration.as_millis()).unwrap_or(i128::MAX)
}

impl StalenessCheck {
    /// The check for `max_staleness` in `topology`, with the spec's reference server chosen by
    /// topology type.
    pub(crate) fn new(
        topology: &TopologyDescription,
        heartbeat_frequency: Duration,
        max_staleness: Duration,
    ) -> Self {
        let primary = match topology.topology_type {
            TopologyType::ReplicaSetWithPrimary => topology.primary(),
            _ => None,
        };
        let reference = match primary {
            Some(primary) => match (millis_of_monotonic(primary), millis_of_last_write(primary)) {
                (Some(updated), Some(written)) => Reference::Primary {
                    primary_lag_ms: updated - written,
                },
                _ => Reference::Missing,
            },
            None => topology
                .servers_in_order()
                .filter(|server| server.server_type == ServerType::RsSecondary)
                .filter_map(|server| millis_of_last_write(server))
                .max()
                .map_or(Reference::Missing, |max_last_write_ms| {
                    Reference::MostRecentSecondary { max_last_write_ms }
                }),
        };
        StalenessCheck {
            reference,
            heartbeat_ms: duration_millis(heartbeat_frequency),
            max_ms: duration_millis(max_staleness),
        }
    }

    /// The maximum, in milliseconds.
    pub(crate) fn max_millis(&self) -> i64 {
        clamp(self.max_ms)
    }

    /// The estimated staleness of `server` (spec formulas).
    pub(crate) fn estimate(&self, server: &ServerDescription) -> Staleness {
        if server.server_type != ServerType::RsSecondary {
            return Staleness::Zero;
        }
        let Some(written) = millis_of_last_write(server) else {
            return Staleness::Unknown;
        };
        let estimate = match self.reference {
            // (S.lastUpdateTime - S.lastWriteDate) - (P.lastUpdateTime - P.lastWriteDate)
            //   + heartbeatFrequencyMS
            Reference::Primary { primary_lag_ms } => match millis_of_monotonic(server) {
                Some(updated) => (updated - written) - primary_lag_ms + self.heartbeat_ms,
                None => return Staleness::Unknown,
            },
            // SMax.lastWriteDate - S.lastWriteDate + heartbeatFrequencyMS
            Reference::MostRecentSecondary { max_last_write_ms } => {
                max_last_write_ms - written + self.heartbeat_ms
            }
            Reference::Missing => return Staleness::Unknown,
        };
        Staleness::EstimatedMillis(clamp(estimate))
    }

    /// Whether `server` is eligible: "Servers with staleness less than or equal to
    /// maxStalenessSeconds are eligible."
    pub(crate) fn admits(&self, server: &ServerDescription) -> bool {
        match self.estimate(server) {
            Staleness::Zero => true,
            Staleness::EstimatedMillis(ms) => i128::from(ms) <= self.max_ms,
            Staleness::Unknown => false,
        }
    }
}

/// The estimated staleness of every secondary of `topology` that has one, in milliseconds
/// (Max Staleness spec, "Client": the estimate selection compares with
/// maxStalenessSeconds; it can be briefly negative), for monitoring. Secondaries without
/// the data (no `lastWriteDate`, or none on the reference server) are left out.
pub fn secondary_staleness_millis(
    topology: &TopologyDescription,
    heartbeat_frequency: Duration,
) -> Vec<(crate::address::ServerAddress, i64)> {
    let check = StalenessCheck::new(topology, heartbeat_frequency, Duration::ZERO);
    topology
        .servers
        .values()
        .filter(|server| server.server_type == ServerType::RsSecondary)
        .filter_map(|server| match check.estimate(server) {
            Staleness::EstimatedMillis(ms) => Some((server.address.clone(), ms)),
            Staleness::Zero | Staleness::Unknown => None,
        })
        .collect()
}

fn clamp(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::ServerAddress;
    use crate::time::MonotonicTime;

    fn member(host: &str, kind: ServerType, updated_ms: u64, written_ms: i64) -> ServerDescription {
        ServerDescription {
            server_type: kind,
            last_update_time: Some(MonotonicTime::from_millis(updated_ms)),
            last_write_date: Some(bson::DateTime::from_millis(written_ms)),
            ..ServerDescription::unknown(ServerAddress::tcp(host, 27017))
        }
    }

    fn topology(kind: TopologyType, servers: Vec<ServerDescription>) -> TopologyDescription {
        let mut topology = TopologyDescription::with_seeds(kind, None, []);
        for server in servers {
            topology
                .servers
                .insert(server.address.clone(), std::sync::Arc::new(server));
        }
        topology
    }

    #[test]
    fn with_a_primary_the_spec_example_gives_20_then_25_seconds() {
        // Max Staleness spec, "Estimating Staleness: Example With a Primary and Continuous
        // Writes": heartbeat 10 s, values in seconds.
        let s = |t: u64| t * 1000;
        let w = |t: i64| t * 1000;
        let ten = Duration::from_secs(10);
        let max = Duration::from_secs(100);
        let rs = topology(
            TopologyType::ReplicaSetWithPrimary,
            vec![
                member("p", ServerType::RsPrimary, s(60), w(10)),
                member("s", ServerType::RsSecondary, s(60), w(0)),
            ],
        );
        let check = StalenessCheck::new(&rs, ten, max);
        let secondary = rs.server(&ServerAddress::tcp("s", 27017)).unwrap();
        assert_eq!(
            check.estimate(secondary),
            Staleness::EstimatedMillis(20_000)
        );
        let rs = topology(
            TopologyType::ReplicaSetWithPrimary,
            vec![
                member("p", ServerType::RsPrimary, s(80), w(30)),
                member("s", ServerType::RsSecondary, s(70), w(5)),
            ],
        );
        let check = StalenessCheck::new(&rs, ten, max);
        let secondary = rs.server(&ServerAddress::tcp("s", 27017)).unwrap();
        assert_eq!(
            check.estimate(secondary),
            Staleness::EstimatedMillis(25_000)
        );
        let primary = rs.primary().unwrap();
        assert_eq!(check.estimate(primary), Staleness::Zero);
    }

    #[test]
    fn without_a_primary_the_freshest_secondary_is_the_reference() {
        // Max Staleness spec, "Estimating Staleness: Example With No Primary".
        let rs = topology(
            TopologyType::ReplicaSetNoPrimary,
            vec![
                member("s1", ServerType::RsSecondary, 0, 20_000),
                member("s2", ServerType::RsSecondary, 0, 5_000),
            ],
        );
        let check = StalenessCheck::new(&rs, Duration::from_secs(10), Duration::from_secs(20));
        let s1 = rs.server(&ServerAddress::tcp("s1", 27017)).unwrap();
        let s2 = rs.server(&ServerAddress::tcp("s2", 27017)).unwrap();
        assert_eq!(check.estimate(s1), Staleness::EstimatedMillis(10_000));
        assert_eq!(check.estimate(s2), Staleness::EstimatedMillis(25_000));
        assert!(check.admits(s1));
        assert!(!check.admits(s2));
    }

    #[test]
    fn a_secondary_without_last_write_date_is_never_eligible() {
        let mut blind = member("s", ServerType::RsSecondary, 0, 0);
        blind.last_write_date = None;
        let rs = topology(TopologyType::ReplicaSetNoPrimary, vec![blind.clone()]);
        let check = StalenessCheck::new(&rs, Duration::from_secs(10), Duration::from_secs(90));
        assert_eq!(check.estimate(&blind), Staleness::Unknown);
        assert!(!check.admits(&blind));
    }
}
