//! The same [`Record`]s for people (one line each: the plain view and the TUI's log) and for
//! programs (one JSON object each: `--json`). Field names are documented in
//! docs/cli-watch.md and in `watch --help`; keep the three in step.

use std::time::{Duration, SystemTime};

use mongo_topology::ServerAddress;
use serde_json::{json, Value};

use super::timeline::changes::Change;
use super::timeline::{ErrorText, Record, What};
use crate::cli::removed::reason_json;
use crate::cli::untrusted::{display_untrusted, LINE_CHARS};

/// Milliseconds with microsecond precision, as the JSON numbers carry them.
fn ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// A duration for people: `3 ms`, `0.4 ms`, `1.25 s`.
fn human(duration: Duration) -> String {
    let millis = duration.as_secs_f64() * 1000.0;
    if millis >= 1000.0 {
        format!("{:.2} s", millis / 1000.0)
    } else if millis >= 10.0 {
        format!("{millis:.0} ms")
    } else {
        format!("{millis:.1} ms")
    }
}

/// The civil date of a day counted from 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both fit: month is 1..=12, day 1..=31.
    (year, month as u32, day as u32)
}

/// RFC 3339 in UTC with exactly three decimals, e.g. `2026-11-30T21:50:34.120Z`.
pub fn rfc3339(ts: SystemTime) -> String {
    let millis = match ts.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    };
    let (days, in_day) = (millis.div_euclid(86_400_000), millis.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(days);
    let (seconds, milli) = (in_day / 1000, in_day % 1000);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// The time of day in UTC with milliseconds, e.g. `21:50:34.123`.
pub fn time_of_day(ts: SystemTime) -> String {
    let full = rfc3339(ts);
    // "YYYY-MM-DDTHH:MM:SS.mmmZ": the part between 'T' and 'Z'.
    full.split_once('T')
        .map(|(_, time)| time.trim_end_matches('Z').to_string())
        .unwrap_or(full)
}

fn address_or_none(address: &Option<ServerAddress>) -> String {
    address
        .as_ref()
        .map_or_else(|| "none".to_string(), ToString::to_string)
}

fn error_line(error: &ErrorText) -> String {
    format!("[{}] {}", error.cause, error.message)
}

/// Whether people see `what`: a topology change that keeps the topology type only repeats
/// the server change just shown, so only NDJSON has it.
pub fn for_people(what: &What) -> bool {
    !matches!(
        what,
        What::TopologyDescriptionChanged { previous_type, new_type, .. } if previous_type == new_type
    )
}

/// One line for people, without the time stamp: server addresses and error messages come
/// from servers, so the line is shown through [`display_untrusted`] (one line, no escapes).
pub fn describe(what: &What) -> String {
    let line = describe_raw(what);
    display_untrusted(&line, LINE_CHARS).into_owned()
}

fn describe_raw(what: &What) -> String {
    match what {
        What::TopologyOpening => "client started".to_string(),
        What::ServerOpening { address } => format!("server {address} added"),
        What::ServerDescriptionChanged {
            address,
            previous_type,
            new_type,
            error,
            changes,
        } => {
            let mut line = if previous_type == new_type {
                let what: Vec<String> = changes
                    .iter()
                    .filter(|change| !matches!(change, Change::Value { field: "error", .. }))
                    .map(ToString::to_string)
                    .collect();
                if what.is_empty() {
                    format!("server {address} still {new_type}, its description changed")
                } else {
                    format!("server {address} still {new_type}: {}", what.join(", "))
                }
            } else {
                format!("server {address} {previous_type} → {new_type}")
            };
            if let Some(error) = error {
                line.push_str(": ");
                line.push_str(&error_line(error));
            }
            line
        }
        What::TopologyDescriptionChanged {
            previous_type,
            new_type,
            ..
        } if previous_type != new_type => {
            format!("topology {previous_type} → {new_type}")
        }
        What::TopologyDescriptionChanged { new_type, .. } => {
            format!("topology still {new_type}")
        }
        What::PrimaryChanged {
            from,
            to,
            after_election,
            without_primary,
        } => {
            let mut line = format!(
                "primary changed {} → {}",
                address_or_none(from),
                address_or_none(to)
            );
            if let (Some(to), Some(after)) = (to, after_election) {
                line.push_str(&format!(
                    ", {} after {to} reported its election",
                    human(*after)
                ));
            }
            if let Some(without) = without_primary {
                line.push_str(&format!(" (no primary for {})", human(*without)));
            }
            line
        }
        What::HeartbeatFailed {
            address,
            duration,
            error,
            ..
        } => format!(
            "check of {address} failed after {}: {}",
            human(*duration),
            error_line(error)
        ),
        What::ServerClosed { address, reason } => format!("server {address} removed: {reason}"),
        What::TopologyClosed => "client closed".to_string(),
        What::EventsMissed { count } => format!("fell behind: {count} events not shown"),
    }
}

/// The plain view's line: time of day, time since the start, description.
pub fn plain_line(record: &Record) -> String {
    format!(
        "{} +{:>7.1}s  {}",
        time_of_day(record.ts),
        record.elapsed.as_secs_f64(),
        describe(&record.what)
    )
}

fn error_json(error: &ErrorText) -> Value {
    json!({ "cause": error.cause, "message": error.message })
}

/// The NDJSON line: `ts`, `elapsed_ms`, `event` first, then the event's own fields.
pub fn json_line(record: &Record) -> String {
    let head = format!(
        "{{\"ts\":{},\"elapsed_ms\":{},\"event\":{}",
        json!(rfc3339(record.ts)),
        json!(ms(record.elapsed)),
        json!(record.what.name())
    );
    match fields(&record.what) {
        Value::Object(fields) if !fields.is_empty() => {
            let rest = Value::Object(fields).to_string();
            // `rest` is `{...}`: its members follow the head's.
            format!("{head},{}", &rest[1..])
        }
        _ => format!("{head}}}"),
    }
}

/// The event's own fields.
fn fields(what: &What) -> Value {
    match what {
        What::TopologyOpening | What::TopologyClosed => json!({}),
        What::ServerOpening { address } => {
            json!({ "address": address.to_string() })
        }
        What::ServerClosed { address, reason } => json!({
            "address": address.to_string(),
            "reason": reason_json(reason),
        }),
        What::ServerDescriptionChanged {
            address,
            previous_type,
            new_type,
            error,
            changes,
        } => json!({
            "address": address.to_string(),
            "previous_type": previous_type.to_string(),
            "new_type": new_type.to_string(),
            "error": error.as_ref().map(error_json),
            "changes": changes.iter().map(Change::json).collect::<Vec<_>>(),
        }),
        What::TopologyDescriptionChanged {
            previous_type,
            new_type,
            primary,
        } => json!({
            "previous_type": previous_type.to_string(),
            "new_type": new_type.to_string(),
            "primary": primary.as_ref().map(ToString::to_string),
        }),
        What::PrimaryChanged {
            from,
            to,
            after_election,
            without_primary,
        } => json!({
            "from": from.as_ref().map(ToString::to_string),
            "to": to.as_ref().map(ToString::to_string),
            "after_election_ms": after_election.map(ms),
            "without_primary_ms": without_primary.map(ms),
        }),
        What::HeartbeatFailed {
            address,
            duration,
            awaited,
            error,
        } => json!({
            "address": address.to_string(),
            "duration_ms": ms(*duration),
            "awaited": awaited,
            "error": error_json(error),
        }),
        What::EventsMissed { count } => json!({ "count": count }),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use mongo_topology::ServerAddress;
    use proptest::prelude::*;

    use mongo_topology::sdam::{RemovalReason, ServerType};

    use super::super::timeline::changes::Change;
    use super::super::timeline::Record;
    use super::{describe, json_line, rfc3339, ErrorText, What};

    fn record(what: What) -> Record {
        Record {
            ts: SystemTime::UNIX_EPOCH,
            elapsed: Duration::ZERO,
            what,
        }
    }

    #[test]
    fn a_removal_says_why_in_plain_text_and_json() {
        let closed = What::ServerClosed {
            address: ServerAddress::parse("b:2").unwrap(),
            reason: RemovalReason::SetNameMismatch {
                reported: Some("foo\u{1b}[2J".into()),
                expected: Some("rs0".into()),
            },
        };
        let line = describe(&closed);
        assert_eq!(
            line,
            r#"server b:2 removed: reported set name "foo\u{1b}[2J", expected "rs0""#
        );
        let json: serde_json::Value = serde_json::from_str(&json_line(&record(closed))).unwrap();
        assert_eq!(json["event"], "server_closed");
        assert_eq!(json["reason"]["kind"], "set_name_mismatch");
        assert_eq!(json["reason"]["reported_set_name"], "foo\u{1b}[2J");
        assert_eq!(json["reason"]["expected_set_name"], "rs0");
    }

    #[test]
    fn a_description_change_of_the_same_type_says_what_changed() {
        let changed = What::ServerDescriptionChanged {
            address: ServerAddress::parse("a:1").unwrap(),
            previous_type: ServerType::RsSecondary,
            new_type: ServerType::RsSecondary,
            error: None,
            changes: vec![
                Change::Value {
                    field: "setVersion",
                    from: "3".into(),
                    to: "4".into(),
                },
                Change::Members {
                    field: "hosts",
                    added: vec!["c:3".into()],
                    removed: vec!["b:2".into()],
                },
            ],
        };
        assert_eq!(
            describe(&changed),
            "server a:1 still RSSecondary: setVersion 3 → 4, hosts +c:3 -b:2"
        );
        let json: serde_json::Value = serde_json::from_str(&json_line(&record(changed))).unwrap();
        assert_eq!(json["changes"][0]["field"], "setVersion");
        assert_eq!(json["changes"][0]["to"], "4");
        assert_eq!(json["changes"][1]["removed"][0], "b:2");
    }

    /// A failed check whose error message is `message`.
    fn failed_check(message: &str) -> What {
        What::HeartbeatFailed {
            address: ServerAddress::parse("a:1").unwrap(),
            duration: Duration::from_millis(3),
            awaited: false,
            error: ErrorText {
                cause: "command".to_string(),
                message: message.to_string(),
            },
        }
    }

    #[test]
    fn a_servers_error_message_cannot_forge_lines_or_send_escapes() {
        let line = describe(&failed_check("no\u{1b}[2J\n21:50:34.123 +   1.0s  forged"));
        assert_eq!(
            line,
            "check of a:1 failed after 3.0 ms: [command] no\\u{1b}[2J\\n21:50:34.123 +   1.0s  forged"
        );
        let line = describe(&failed_check(&"x".repeat(70_000)));
        assert!(line.ends_with("… (70044 chars)"), "{line}");
    }

    proptest! {
        #[test]
        fn any_error_message_makes_one_printable_line(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let line = describe(&failed_check(&String::from_utf8_lossy(&bytes)));
            prop_assert!(!line.chars().any(char::is_control), "{:?}", line);
        }
    }

    #[test]
    fn rfc3339_has_three_decimals_in_utc() {
        let at = |millis: u64| SystemTime::UNIX_EPOCH + Duration::from_millis(millis);
        assert_eq!(rfc3339(at(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(at(951_782_400_120)), "2000-02-29T00:00:00.120Z");
        assert_eq!(rfc3339(at(1_800_000_001_500)), "2027-01-15T08:00:01.500Z");
        assert_eq!(rfc3339(at(4_107_542_399_999)), "2100-02-28T23:59:59.999Z");
    }
}
