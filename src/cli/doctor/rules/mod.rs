//! The rules: each a pure function of the [`Observations`], registered once in [`RULES`]
//! under its stable id (`family.name`; documented in docs/doctor.md).

mod auth;
mod balancer;
mod direct;
mod members;
mod names;
mod options;
mod read_preference;
mod srv;
mod text;
mod timing;
mod tls;
mod verdict;
mod wire;
mod write_concern;

#[cfg(test)]
pub(crate) mod fixtures;

use super::finding::Finding;
use super::observations::Observations;

/// One rule: its id and its check.
pub struct Rule {
    /// The stable id, `family.name`.
    pub id: &'static str,
    /// The check: every finding of this rule for these observations.
    pub check: fn(&Observations) -> Vec<Finding>,
}

/// Every rule, in the order findings are reported.
pub const RULES: &[Rule] = &[
    Rule {
        id: options::UNKNOWN,
        check: options::unknown,
    },
    Rule {
        id: options::INVALID_VALUE,
        check: options::invalid_value,
    },
    Rule {
        id: options::REPEATED,
        check: options::repeated,
    },
    Rule {
        id: options::SENSELESS_VALUE,
        check: options::senseless_value,
    },
    Rule {
        id: srv::LOOKUP_FAILED,
        check: srv::lookup_failed,
    },
    Rule {
        id: srv::PARENT_DOMAIN,
        check: srv::parent_domain,
    },
    Rule {
        id: srv::SINGLE_TARGET,
        check: srv::single_target,
    },
    Rule {
        id: srv::LOW_TTL,
        check: srv::low_ttl,
    },
    Rule {
        id: srv::MAX_HOSTS_WITH_REPLICA_SET,
        check: srv::max_hosts_with_replica_set,
    },
    Rule {
        id: srv::TXT_OPTIONS,
        check: srv::txt_options,
    },
    Rule {
        id: verdict::NOTHING_REACHABLE,
        check: verdict::nothing_reachable,
    },
    Rule {
        id: verdict::WRITE_FAILS,
        check: verdict::write_fails,
    },
    Rule {
        id: verdict::READ_FAILS,
        check: verdict::read_fails,
    },
    Rule {
        id: names::SET_NAME_MISMATCH,
        check: names::set_name_mismatch,
    },
    Rule {
        id: names::ADVERTISED_DIFFERS,
        check: names::advertised_differs,
    },
    Rule {
        id: names::MEMBER_UNREACHABLE,
        check: names::member_unreachable,
    },
    Rule {
        id: names::SEED_NOT_MEMBER,
        check: names::seed_not_member,
    },
    Rule {
        id: names::DUPLICATE_SEEDS,
        check: names::duplicate_seeds,
    },
    Rule {
        id: names::SEEDS_NOT_ELECTABLE,
        check: names::seeds_not_electable,
    },
    Rule {
        id: direct::NON_PRIMARY,
        check: direct::non_primary,
    },
    Rule {
        id: direct::DISCOVERY_WOULD_WORK,
        check: direct::discovery_would_work,
    },
    Rule {
        id: balancer::UNREACHABLE,
        check: balancer::unreachable,
    },
    Rule {
        id: balancer::NO_SERVICE_ID,
        check: balancer::no_service_id,
    },
    Rule {
        id: balancer::FLIPPING_HELLOS,
        check: balancer::flipping_hellos,
    },
    Rule {
        id: auth::FAILED,
        check: auth::failed,
    },
    Rule {
        id: auth::REQUIRED,
        check: auth::required,
    },
    Rule {
        id: auth::MECHANISM_NOT_OFFERED,
        check: auth::mechanism_not_offered,
    },
    Rule {
        id: auth::USER_NOT_IN_SOURCE,
        check: auth::user_not_in_source,
    },
    Rule {
        id: tls::SERVER_REQUIRES_TLS,
        check: tls::server_requires_tls,
    },
    Rule {
        id: tls::SERVER_WITHOUT_TLS,
        check: tls::server_without_tls,
    },
    Rule {
        id: tls::UNKNOWN_ISSUER,
        check: tls::unknown_issuer,
    },
    Rule {
        id: tls::NAME_MISMATCH,
        check: tls::name_mismatch,
    },
    Rule {
        id: tls::IP_LITERAL_SEED,
        check: tls::ip_literal_seed,
    },
    Rule {
        id: tls::EXPIRY,
        check: tls::expiry,
    },
    Rule {
        id: tls::INSECURE_OPTIONS,
        check: tls::insecure_options,
    },
    Rule {
        id: wire::INCOMPATIBLE,
        check: wire::incompatible,
    },
    Rule {
        id: wire::MIXED_VERSIONS,
        check: wire::mixed_versions,
    },
    Rule {
        id: read_preference::TAGS_MATCH_NONE,
        check: read_preference::tags_match_none,
    },
    Rule {
        id: read_preference::NO_SECONDARY,
        check: read_preference::no_secondary,
    },
    Rule {
        id: read_preference::MAX_STALENESS_TOO_LOW,
        check: read_preference::max_staleness_too_low,
    },
    Rule {
        id: read_preference::BEYOND_LATENCY_WINDOW,
        check: read_preference::beyond_latency_window,
    },
    Rule {
        id: read_preference::NEAREST_RTT_SPREAD,
        check: read_preference::nearest_rtt_spread,
    },
    Rule {
        id: write_concern::ARBITER_MAJORITY,
        check: write_concern::arbiter_majority,
    },
    Rule {
        id: write_concern::EVEN_VOTERS,
        check: write_concern::even_voters,
    },
    Rule {
        id: members::UNREACHABLE,
        check: members::unreachable,
    },
    Rule {
        id: members::NOT_READY,
        check: members::not_ready,
    },
    Rule {
        id: members::GHOST,
        check: members::ghost,
    },
    Rule {
        id: members::LAGGING,
        check: members::lagging,
    },
    Rule {
        id: members::SERVER_VIEW_DIFFERS,
        check: members::server_view_differs,
    },
    Rule {
        id: members::TWO_PRIMARIES,
        check: members::two_primaries,
    },
    Rule {
        id: timing::FAILOVER_DETECTION,
        check: timing::failover_detection,
    },
    Rule {
        id: timing::DISCOVERY_INCOMPLETE,
        check: timing::discovery_incomplete,
    },
];

/// Runs every rule and returns the findings, most severe first (stable within a
/// severity: the order of [`RULES`]).
pub fn run_all(observations: &Observations) -> Vec<Finding> {
    let mut findings: Vec<Finding> = RULES
        .iter()
        .flat_map(|rule| {
            (rule.check)(observations).into_iter().map(|mut finding| {
                finding.rule = rule.id;
                finding
            })
        })
        .collect();
    let unexplained = verdict::unexplained(observations, &findings);
    findings.extend(unexplained);
    findings.sort_by_key(|finding| std::cmp::Reverse(finding.severity));
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids_are_unique_and_well_formed() {
        for (i, rule) in RULES.iter().enumerate() {
            assert!(
                rule.id.split_once('.').is_some_and(|(family, name)| {
                    !family.is_empty()
                        && !name.is_empty()
                        && rule
                            .id
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c == '-' || c == '.')
                }),
                "{}",
                rule.id
            );
            assert!(
                RULES[i + 1..].iter().all(|other| other.id != rule.id),
                "{}",
                rule.id
            );
        }
        assert!(RULES.len() >= 30, "{} rules", RULES.len());
    }

    #[test]
    fn every_rule_is_documented() {
        let docs = include_str!("../../../../docs/doctor.md");
        for rule in RULES {
            assert!(
                docs.contains(&format!("## `{}`", rule.id)),
                "{} is not in docs/doctor.md",
                rule.id
            );
        }
    }
}
