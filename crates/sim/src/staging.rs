//! The text forms of the real-world situations the simulator can stage (member tags,
//! advertised names, split horizons, per-member versions, startup states), shared by the
//! control language and the `sim` command's flags.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::state::StartupPhase;
use super::versions::ServerVersion;

/// A member state a control command or flag can put a member in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StagedState {
    /// STARTUP: no config loaded yet (hello: "Does not have a valid replica set config").
    Startup,
    /// STARTUP2: initial sync (hello names the set; neither primary nor secondary).
    Startup2,
    /// RECOVERING.
    Recovering,
    /// Back to what its config makes it (SECONDARY, ARBITER).
    Normal,
}

impl StagedState {
    /// The startup phase this state sets, if any.
    pub fn startup(self) -> Option<StartupPhase> {
        match self {
            StagedState::Startup => Some(StartupPhase::Startup),
            StagedState::Startup2 => Some(StartupPhase::Startup2),
            StagedState::Recovering | StagedState::Normal => None,
        }
    }
}

impl FromStr for StagedState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "startup" => Ok(StagedState::Startup),
            "startup2" => Ok(StagedState::Startup2),
            "recovering" => Ok(StagedState::Recovering),
            "normal" | "secondary" => Ok(StagedState::Normal),
            _ => Err(format!(
                "{s:?} is not a member state: expected startup, startup2, recovering or normal"
            )),
        }
    }
}

impl fmt::Display for StagedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StagedState::Startup => "startup",
            StagedState::Startup2 => "startup2",
            StagedState::Recovering => "recovering",
            StagedState::Normal => "normal",
        })
    }
}

/// One member's tags, `key:value` pairs separated by commas (`dc:east,rack:1`); empty or
/// `-`: no tags.
pub fn parse_tags(text: &str) -> Result<BTreeMap<String, String>, String> {
    let text = text.trim();
    if text.is_empty() || text == "-" {
        return Ok(BTreeMap::new());
    }
    text.split(',')
        .map(|pair| match pair.split_once(':') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
            _ => Err(format!("{pair:?} is not a tag: expected key:value")),
        })
        .collect()
}

/// Tags per member, members separated by semicolons (`dc:east,rack:1;dc:west;-`).
pub fn parse_member_tags(text: &str) -> Result<Vec<BTreeMap<String, String>>, String> {
    text.split(';').map(parse_tags).collect()
}

/// A value per member, members separated by commas; an empty entry or `-` leaves that
/// member as it is (`None`).
pub fn parse_per_member(text: &str) -> Vec<Option<String>> {
    text.split(',')
        .map(str::trim)
        .map(|s| (!s.is_empty() && s != "-").then(|| s.to_owned()))
        .collect()
}

/// A split horizon: `NAME=ADDR,ADDR,...`, one "host" or "host:port" per member (a host
/// without a port keeps the member's port).
pub fn parse_horizon(text: &str) -> Result<(String, Vec<String>), String> {
    let (name, addresses) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected NAME=HOST[:PORT],HOST[:PORT],..."))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("{text:?}: the horizon has no name"));
    }
    let addresses: Vec<String> = addresses.split(',').map(|a| a.trim().to_owned()).collect();
    if addresses.iter().any(String::is_empty) {
        return Err(format!("{text:?}: a member has no address in this horizon"));
    }
    Ok((name.to_owned(), addresses))
}

/// Server versions per member (`7.0,7.0,4.4`; `-` keeps the deployment's).
pub fn parse_member_versions(text: &str) -> Result<Vec<Option<ServerVersion>>, String> {
    parse_per_member(text)
        .into_iter()
        .map(|v| {
            v.map(|v| v.parse::<ServerVersion>().map_err(|e| e.to_string()))
                .transpose()
        })
        .collect()
}

/// Member states per member (`normal,startup2,recovering`; `-` for normal).
pub fn parse_member_states(text: &str) -> Result<Vec<StagedState>, String> {
    parse_per_member(text)
        .into_iter()
        .map(|s| s.map_or(Ok(StagedState::Normal), |s| s.parse()))
        .collect()
}

/// `address` as "host:port": as given when it has a port, else with `port`.
pub fn with_port(address: &str, port: u16) -> String {
    match address.rsplit_once(':') {
        Some((_, p)) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => {
            address.to_owned()
        }
        _ => format!("{address}:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_member_lists_parse() {
        let tags = parse_member_tags("dc:east,rack:1;dc:west;-").unwrap();
        assert_eq!(tags.len(), 3);
        assert_eq!(tags[0].get("rack").map(String::as_str), Some("1"));
        assert_eq!(tags[1].get("dc").map(String::as_str), Some("west"));
        assert!(tags[2].is_empty());
        assert!(parse_tags("dc").is_err());
        assert_eq!(
            parse_per_member("a.invalid,-,c:5"),
            vec![Some("a.invalid".into()), None, Some("c:5".into())]
        );
        let (name, addresses) = parse_horizon("external=ext-0.example:1,ext-1.example").unwrap();
        assert_eq!(name, "external");
        assert_eq!(addresses, vec!["ext-0.example:1", "ext-1.example"]);
        assert!(parse_horizon("=a").is_err() && parse_horizon("x=a,,b").is_err());
        assert_eq!(
            parse_member_versions("7.0,-,4.4").unwrap(),
            vec![Some(ServerVersion::V7_0), None, Some(ServerVersion::V4_4)]
        );
        assert!(parse_member_versions("9.9").is_err());
        assert_eq!(
            parse_member_states("-,startup2,recovering").unwrap(),
            vec![
                StagedState::Normal,
                StagedState::Startup2,
                StagedState::Recovering
            ]
        );
        assert_eq!(with_port("a.invalid", 7), "a.invalid:7");
        assert_eq!(with_port("a.invalid:9", 7), "a.invalid:9");
    }
}
