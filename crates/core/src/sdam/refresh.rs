//! When a fresher but equivalent description of a server is worth a new snapshot: the
//! republish rule of the heartbeat fast path.
//!
//! A heartbeat whose reply is equivalent to the stored description (SDAM "Server Description
//! Equality") changes no SDAM rule's outcome; it only refreshes measurements: the average and
//! minimum round trip times, lastUpdateTime, lastWriteDate, opTime. [`crate::sdam::Topology`]
//! keeps such a refresh aside (O(log n)) and merges it into the next snapshot built for any
//! reason. It builds a snapshot at once (O(n) `Arc` clones) only when the refresh moves
//! something server selection reads far enough to matter, as [`republish_reason`] decides:
//!
//! | selection reads | republish when, compared with the published description |
//! |---|---|
//! | the average RTT (latency window) | it appeared or disappeared, or moved by more than 20 % of the published value, at least 1 ms and at most 5 ms |
//! | `lastUpdateTime - lastWriteDate` of the primary and secondaries (max staleness, set with a primary) | it appeared or disappeared, or moved by more than 1 s |
//! | `lastWriteDate` of secondaries (max staleness, set without a primary) | it appeared or disappeared, or moved by more than 1 s |
//! | `hidden`, maxBsonObjectSize, maxMessageSizeBytes, maxWriteBatchSize (read by users) | any change |
//!
//! Why these bounds: the latency window is localThresholdMS wide (15 ms by default) and
//! anchored at the fastest server, so an error of ε in one server's RTT can only misplace a
//! server within ε of the window's edge; 20 % keeps a fast server's jitter from republishing
//! on every heartbeat, 1 ms is below anything a window decision can usefully resolve, and the
//! 5 ms cap keeps a slow server (say 100 ms, where 20 % would be 20 ms, more than the whole
//! window) within a third of the default window. Max staleness is at least 90 s and its
//! estimate is inherently off by up to a heartbeat plus the server's idle write period (10 s),
//! so drift of 1 s per term (2 s at most for a secondary's estimate, which subtracts the
//! primary's term from its own) cannot change a decision. Without a primary, the spec compares the
//! secondaries' lastWriteDates directly; no primary means no new writes, so they move only
//! while secondaries catch up. Nothing else that a heartbeat refreshes (minimum RTT,
//! lastUpdateTime of other servers, opTime) is read by selection.

use std::time::Duration;

use crate::sdam::server::{ServerDescription, ServerType};
use crate::sdam::topology::TopologyType;

/// The smallest RTT drift that republishes.
pub const RTT_TOLERANCE_FLOOR: Duration = Duration::from_millis(1);

/// The largest RTT tolerance: a drift beyond it always republishes.
pub const RTT_TOLERANCE_CEILING: Duration = Duration::from_millis(5);

/// The drift of a replication-lag term (or, without a primary, of a lastWriteDate) that
/// republishes.
pub const REPLICATION_LAG_TOLERANCE: Duration = Duration::from_secs(1);

/// Why a refresh must be published at once (see the [module documentation](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RepublishReason {
    /// The average RTT appeared (the first sample) or disappeared.
    RttAppearedOrDisappeared,
    /// The average RTT moved by more than [`rtt_tolerance`] of the published one.
    RttMoved,
    /// `lastUpdateTime - lastWriteDate` of a replica set primary or secondary appeared,
    /// disappeared or moved by more than [`REPLICATION_LAG_TOLERANCE`].
    ReplicationLagMoved,
    /// A secondary's lastWriteDate appeared, disappeared or moved by more than
    /// [`REPLICATION_LAG_TOLERANCE`] while the set has no primary.
    LastWriteDateMoved,
    /// `hidden` or one of the reported size limits changed.
    ReportedFieldChanged,
}

/// How far the average RTT may drift from the `published` one before it is republished:
/// 20 % of it, at least [`RTT_TOLERANCE_FLOOR`] and at most [`RTT_TOLERANCE_CEILING`].
pub fn rtt_tolerance(published: Duration) -> Duration {
    (published / 5).clamp(RTT_TOLERANCE_FLOOR, RTT_TOLERANCE_CEILING)
}

/// Whether (and why) `fresh`, a newer description of the same server equivalent to
/// `published`, must be published now rather than kept for the next snapshot.
/// `topology_type` is the published topology's type.
pub fn republish_reason(
    published: &ServerDescription,
    fresh: &ServerDescription,
    topology_type: TopologyType,
) -> Option<RepublishReason> {
    match (published.round_trip_time, fresh.round_trip_time) {
        (Some(before), Some(after)) if before.abs_diff(after) > rtt_tolerance(before) => {
            return Some(RepublishReason::RttMoved);
        }
        (Some(_), None) | (None, Some(_)) => {
            return Some(RepublishReason::RttAppearedOrDisappeared);
        }
        _ => {}
    }
    let replica_set_member = matches!(
        fresh.server_type,
        ServerType::RsPrimary | ServerType::RsSecondary
    );
    if replica_set_member
        && moved_beyond_tolerance(replication_lag_ms(published), replication_lag_ms(fresh))
    {
        return Some(RepublishReason::ReplicationLagMoved);
    }
    if fresh.server_type == ServerType::RsSecondary
        && topology_type != TopologyType::ReplicaSetWithPrimary
        && moved_beyond_tolerance(last_write_ms(published), last_write_ms(fresh))
    {
        return Some(RepublishReason::LastWriteDateMoved);
    }
    let reported_changed = published.hidden != fresh.hidden
        || published.max_bson_object_size != fresh.max_bson_object_size
        || published.max_message_size_bytes != fresh.max_message_size_bytes
        || published.max_write_batch_size != fresh.max_write_batch_size;
    reported_changed.then_some(RepublishReason::ReportedFieldChanged)
}

/// `lastUpdateTime - lastWriteDate` in milliseconds, the term max staleness reads with a
/// primary (the two clocks' origins cancel out in the spec's formula).
fn replication_lag_ms(server: &ServerDescription) -> Option<i128> {
    let updated = i128::try_from(server.last_update_time?.offset().as_millis()).ok()?;
    Some(updated - last_write_ms(server)?)
}

fn last_write_ms(server: &ServerDescription) -> Option<i128> {
    server
        .last_write_date
        .map(|date| i128::from(date.timestamp_millis()))
}

fn moved_beyond_tolerance(published: Option<i128>, fresh: Option<i128>) -> bool {
    let tolerance = i128::try_from(REPLICATION_LAG_TOLERANCE.as_millis()).unwrap_or(i128::MAX);
    match (published, fresh) {
        (Some(before), Some(after)) => (after - before).abs() > tolerance,
        (None, None) => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::ServerAddress;
    use crate::time::MonotonicTime;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    fn mongos(rtt: Option<Duration>) -> ServerDescription {
        ServerDescription {
            server_type: ServerType::Mongos,
            round_trip_time: rtt,
            ..ServerDescription::unknown(ServerAddress::tcp("m", 27017))
        }
    }

    fn member(kind: ServerType, updated_ms: u64, written_ms: Option<i64>) -> ServerDescription {
        ServerDescription {
            server_type: kind,
            round_trip_time: Some(ms(10)),
            last_update_time: Some(MonotonicTime::from_millis(updated_ms)),
            last_write_date: written_ms.map(bson::DateTime::from_millis),
            ..ServerDescription::unknown(ServerAddress::tcp("s", 27017))
        }
    }

    fn reason(published: &ServerDescription, fresh: &ServerDescription) -> Option<RepublishReason> {
        republish_reason(published, fresh, TopologyType::ReplicaSetWithPrimary)
    }

    #[test]
    fn the_rtt_tolerance_is_a_fifth_between_one_and_five_milliseconds() {
        assert_eq!(rtt_tolerance(Duration::ZERO), ms(1));
        assert_eq!(rtt_tolerance(ms(4)), ms(1));
        assert_eq!(rtt_tolerance(ms(5)), ms(1));
        assert_eq!(rtt_tolerance(ms(10)), ms(2));
        assert_eq!(rtt_tolerance(ms(25)), ms(5));
        assert_eq!(rtt_tolerance(ms(100)), ms(5));
    }

    #[test]
    fn an_rtt_drift_republishes_only_beyond_the_tolerance() {
        let published = mongos(Some(ms(10)));
        for (fresh, expected) in [
            (ms(12), None),
            (ms(8), None),
            (
                ms(12) + Duration::from_micros(1),
                Some(RepublishReason::RttMoved),
            ),
            (
                ms(8) - Duration::from_micros(1),
                Some(RepublishReason::RttMoved),
            ),
        ] {
            assert_eq!(
                reason(&published, &mongos(Some(fresh))),
                expected,
                "{fresh:?}"
            );
        }
        // The floor: around 2 ms, 1 ms of drift is tolerated, not more.
        let fast = mongos(Some(ms(2)));
        assert_eq!(reason(&fast, &mongos(Some(ms(3)))), None);
        assert_eq!(
            reason(&fast, &mongos(Some(ms(3) + Duration::from_micros(1)))),
            Some(RepublishReason::RttMoved)
        );
        // The ceiling: around 100 ms, 5 ms of drift is tolerated, not more.
        let slow = mongos(Some(ms(100)));
        assert_eq!(reason(&slow, &mongos(Some(ms(105)))), None);
        assert_eq!(
            reason(&slow, &mongos(Some(ms(105) + Duration::from_micros(1)))),
            Some(RepublishReason::RttMoved)
        );
    }

    #[test]
    fn the_first_rtt_sample_and_its_loss_republish() {
        assert_eq!(
            reason(&mongos(None), &mongos(Some(ms(10)))),
            Some(RepublishReason::RttAppearedOrDisappeared)
        );
        assert_eq!(
            reason(&mongos(Some(ms(10))), &mongos(None)),
            Some(RepublishReason::RttAppearedOrDisappeared)
        );
        assert_eq!(reason(&mongos(None), &mongos(None)), None);
    }

    #[test]
    fn a_replication_lag_drift_republishes_only_beyond_one_second() {
        for kind in [ServerType::RsPrimary, ServerType::RsSecondary] {
            // Published lag: 60 s - 50 s = 10 s.
            let published = member(kind, 60_000, Some(50_000));
            // Ten seconds later, with writes keeping up: same lag.
            assert_eq!(
                reason(&published, &member(kind, 70_000, Some(60_000))),
                None
            );
            assert_eq!(
                reason(&published, &member(kind, 71_000, Some(60_000))),
                None
            );
            assert_eq!(
                reason(&published, &member(kind, 69_000, Some(60_000))),
                None
            );
            assert_eq!(
                reason(&published, &member(kind, 71_001, Some(60_000))),
                Some(RepublishReason::ReplicationLagMoved),
                "{kind}"
            );
            assert_eq!(
                reason(&published, &member(kind, 68_999, Some(60_000))),
                Some(RepublishReason::ReplicationLagMoved),
                "{kind}"
            );
            assert_eq!(
                reason(&published, &member(kind, 70_000, None)),
                Some(RepublishReason::ReplicationLagMoved),
                "{kind}"
            );
        }
        // Staleness reads no lag for other types.
        let published = member(ServerType::RsArbiter, 60_000, Some(50_000));
        assert_eq!(
            reason(
                &published,
                &member(ServerType::RsArbiter, 90_000, Some(50_000))
            ),
            None
        );
    }

    #[test]
    fn without_a_primary_a_secondary_last_write_drift_republishes_beyond_one_second() {
        let no_primary = TopologyType::ReplicaSetNoPrimary;
        let secondary = |updated, written| member(ServerType::RsSecondary, updated, written);
        // The lag term is unchanged in each case; only lastWriteDate moves.
        let published = secondary(60_000, Some(50_000));
        assert_eq!(
            republish_reason(&published, &secondary(61_000, Some(51_000)), no_primary),
            None
        );
        assert_eq!(
            republish_reason(&published, &secondary(61_001, Some(51_001)), no_primary),
            Some(RepublishReason::LastWriteDateMoved)
        );
        // With a primary only the lag term counts.
        assert_eq!(reason(&published, &secondary(61_001, Some(51_001))), None);
    }

    #[test]
    fn a_changed_hidden_flag_or_size_limit_republishes() {
        let published = mongos(Some(ms(10)));
        let mut fresh = published.clone();
        fresh.last_update_time = Some(MonotonicTime::from_millis(99));
        fresh.min_round_trip_time = Some(ms(3));
        assert_eq!(reason(&published, &fresh), None);
        fresh.max_write_batch_size = Some(1000);
        assert_eq!(
            reason(&published, &fresh),
            Some(RepublishReason::ReportedFieldChanged)
        );
        let mut hidden = published.clone();
        hidden.hidden = true;
        assert_eq!(
            reason(&published, &hidden),
            Some(RepublishReason::ReportedFieldChanged)
        );
    }
}
