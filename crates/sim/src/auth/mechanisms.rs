//! The SASL mechanisms a deployment offers (the server's `authenticationMechanisms`
//! parameter): a deployment may offer SCRAM-SHA-1 only, say, so that a client insisting
//! on SCRAM-SHA-256 fails while one negotiating through `saslSupportedMechs` succeeds.

use std::fmt;
use std::str::FromStr;

/// A SCRAM mechanism the simulator can offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScramMechanism {
    /// SCRAM-SHA-1.
    Sha1,
    /// SCRAM-SHA-256 (from 4.0).
    Sha256,
}

impl ScramMechanism {
    /// Both mechanisms, in the order the server lists them.
    pub const ALL: [ScramMechanism; 2] = [ScramMechanism::Sha1, ScramMechanism::Sha256];

    /// The mechanism's SASL name.
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha1 => "SCRAM-SHA-1",
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
        }
    }

    /// Parses a comma-separated list such as `SCRAM-SHA-1,SCRAM-SHA-256` (at least one).
    pub fn parse_list(text: &str) -> Result<Vec<ScramMechanism>, String> {
        let mut list = Vec::new();
        for word in text.split(',').map(str::trim) {
            let mechanism = word.parse::<ScramMechanism>()?;
            if !list.contains(&mechanism) {
                list.push(mechanism);
            }
        }
        Ok(list)
    }
}

impl FromStr for ScramMechanism {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ScramMechanism::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("{s:?} is not a mechanism: expected SCRAM-SHA-1 or SCRAM-SHA-256")
            })
    }
}

impl fmt::Display for ScramMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::ScramMechanism;

    #[test]
    fn lists_parse_and_reject_unknown_names() {
        assert_eq!(
            ScramMechanism::parse_list("SCRAM-SHA-1"),
            Ok(vec![ScramMechanism::Sha1])
        );
        assert_eq!(
            ScramMechanism::parse_list("scram-sha-256, SCRAM-SHA-1"),
            Ok(vec![ScramMechanism::Sha256, ScramMechanism::Sha1])
        );
        assert!(ScramMechanism::parse_list("PLAIN").is_err());
        assert!(ScramMechanism::parse_list("").is_err());
    }
}
