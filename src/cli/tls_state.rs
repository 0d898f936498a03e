//! What `discover` shows of TLS: per server, the protocol version, the certificate's
//! subject and its expiry, read from one TLS connection opened after discovery; a hint when
//! a certificate expires within 30 days.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use mongo_topology::{
    ClusterSettings, ConnectOptions, Connection, ServerAddress, TlsConnector, TlsInfo,
};
use serde_json::{json, Value};

/// A certificate expiring sooner than this gets a hint.
const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);

/// Each server's TLS state, or why it could not be read.
pub type TlsStates = BTreeMap<ServerAddress, Result<TlsInfo, String>>;

/// What a server's state says when its probe did not finish within the time left.
pub const PROBE_TIMED_OUT: &str = "TLS probe not finished within --timeout-ms";

/// Opens one TLS connection to each of `servers` (concurrently, each under connectTimeoutMS)
/// and keeps what the handshake negotiated, all within `budget` (what is left of
/// `--timeout-ms`): a server not done by then gets [`PROBE_TIMED_OUT`]. Empty when the
/// settings do not use TLS.
pub async fn probe(
    settings: &ClusterSettings,
    servers: &[ServerAddress],
    budget: Duration,
) -> TlsStates {
    let Some(tls) = &settings.tls else {
        return TlsStates::new();
    };
    let connector = match TlsConnector::new(tls) {
        Ok(connector) => connector,
        Err(error) => {
            return servers
                .iter()
                .map(|address| (address.clone(), Err(error.to_string())))
                .collect()
        }
    };
    let connect_timeout = Some(
        settings
            .connect_timeout
            .map_or(budget, |timeout| timeout.min(budget)),
    );
    let options = ConnectOptions {
        connect_timeout,
        socket_timeout: connect_timeout,
        name_server: settings.dns.name_server,
    };
    let mut probes = tokio::task::JoinSet::new();
    for address in servers {
        let (address, connector) = (address.clone(), connector.clone());
        probes.spawn(async move {
            let outcome = Connection::connect_with_tls(&address, &options, Some(&connector)).await;
            let state = match outcome {
                Ok(connection) => connection
                    .tls_info()
                    .cloned()
                    .ok_or_else(|| "no TLS session".to_owned()),
                Err(error) => Err(error.to_string()),
            };
            (address, state)
        });
    }
    let mut states = TlsStates::new();
    let joined_all = async {
        while let Some(joined) = probes.join_next().await {
            if let Ok((address, state)) = joined {
                states.insert(address, state);
            }
        }
    };
    // Past the budget the unfinished probes are dropped (aborted with their JoinSet).
    let _ = tokio::time::timeout(budget, joined_all).await;
    for address in servers {
        states
            .entry(address.clone())
            .or_insert_with(|| Err(PROBE_TIMED_OUT.to_owned()));
    }
    states
}

/// One line per server: `host:port  TLSv1.3  subject ...  expires YYYY-MM-DD (in N days)`.
pub fn lines(states: &TlsStates, now: SystemTime) -> Vec<String> {
    states
        .iter()
        .map(|(address, state)| match state {
            Ok(info) => format!(
                "{address}  {}  subject {}  {}",
                info.protocol,
                info.peer_subject.as_deref().unwrap_or("(unreadable)"),
                expiry_text(info.peer_not_after, now)
            ),
            Err(error) => format!("{address}  {error}"),
        })
        .collect()
}

/// Hints for certificates that expire within 30 days (or have expired).
pub fn hints(states: &TlsStates, now: SystemTime) -> Vec<String> {
    states
        .iter()
        .filter_map(|(address, state)| {
            let expiry = state.as_ref().ok()?.peer_not_after?;
            let left = expiry.duration_since(now).unwrap_or(Duration::ZERO);
            (left < EXPIRY_WARNING).then(|| {
                format!(
                    "the TLS certificate of {address} {}: renew it",
                    expiry_text(Some(expiry), now)
                )
            })
        })
        .collect()
}

/// The JSON of one server's TLS state.
pub fn json_of(state: &Result<TlsInfo, String>) -> Value {
    match state {
        Ok(info) => json!({
            "protocol": info.protocol,
            "peer_subject": info.peer_subject,
            "peer_not_after_unix": info
                .peer_not_after
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map(|d| d.as_secs()),
        }),
        Err(error) => json!({ "error": error }),
    }
}

fn expiry_text(not_after: Option<SystemTime>, now: SystemTime) -> String {
    let Some(not_after) = not_after else {
        return "expiry unknown".to_owned();
    };
    let date = not_after
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| civil_date(d.as_secs() / 86_400))
        .unwrap_or_else(|_| "before 1970".to_owned());
    match not_after.duration_since(now) {
        Ok(left) => format!("expires {date} (in {} days)", left.as_secs() / 86_400),
        Err(_) => format!("expired {date}"),
    }
}

/// `YYYY-MM-DD` of a day count since 1970-01-01 (proleptic Gregorian; H. Hinnant's
/// `civil_from_days`).
fn civil_date(days: u64) -> String {
    let z = i64::try_from(days).unwrap_or(i64::MAX / 2) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(19_782), "2024-02-29");
        assert_eq!(civil_date(20_787), "2026-11-30");
    }

    #[test]
    fn a_certificate_expiring_within_30_days_gets_a_hint() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(20_787 * 86_400);
        let info = |days: u64| TlsInfo {
            protocol: "TLSv1.3".into(),
            peer_subject: Some("CN=db".into()),
            peer_not_after: Some(now + Duration::from_secs(days * 86_400)),
        };
        let soon = ServerAddress::parse("a:1").unwrap();
        let later = ServerAddress::parse("b:1").unwrap();
        let states = TlsStates::from([(soon, Ok(info(10))), (later, Ok(info(90)))]);
        let hints = hints(&states, now);
        assert_eq!(hints.len(), 1, "{hints:?}");
        assert!(
            hints[0].contains("a:1") && hints[0].contains("in 10 days"),
            "{hints:?}"
        );
        let lines = lines(&states, now);
        assert!(
            lines[1].contains("TLSv1.3  subject CN=db  expires 2027-02-28 (in 90 days)"),
            "{lines:?}"
        );
    }
}
