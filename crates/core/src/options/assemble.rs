//! From the decoded key=value pairs to the list of options that were set: look each key up
//! in the catalog, parse its value, and apply the option's rule for repeated keys.

use super::catalog::{self, OptionSpec, Repeat};
use super::error::{UriError, UriWarning};
use super::option_value::OptionValue;
use super::values::parse_value;

/// The options set by `pairs`, in order of first appearance, under their canonical names.
/// Unknown keys and invalid values become warnings (Connection String spec, "Keys" and
/// "Values"); the repetition rules that are errors fail the parse.
pub(crate) fn assemble(
    pairs: Vec<(String, String)>,
    warnings: &mut Vec<UriWarning>,
) -> Result<Vec<(&'static str, OptionValue)>, UriError> {
    let mut options: Vec<(&'static str, OptionValue)> = Vec::new();
    for (key, text) in pairs {
        let Some(spec) = catalog::lookup(&key) else {
            // "Keys that aren't supported by a driver MUST be ignored. A WARN level logging
            // message MUST be issued for unsupported keys."
            warnings.push(UriWarning::UnknownOption { key });
            continue;
        };
        let value = match parse_value(spec.kind, &text) {
            Ok(value) => value,
            Err(reason) => {
                warnings.push(UriWarning::InvalidValue {
                    option: spec.name,
                    value: (!spec.is_secret()).then_some(text),
                    reason,
                });
                continue;
            }
        };
        match options.iter_mut().find(|(name, _)| *name == spec.name) {
            None => options.push((spec.name, value)),
            Some((_, existing)) => repeat(spec, existing, value, warnings)?,
        }
    }
    Ok(options)
}

/// Applies the option's [`Repeat`] rule when it was already set to `existing`.
fn repeat(
    spec: &OptionSpec,
    existing: &mut OptionValue,
    value: OptionValue,
    warnings: &mut Vec<UriWarning>,
) -> Result<(), UriError> {
    match spec.repeat {
        Repeat::Append => match (existing, value) {
            (OptionValue::TagSets(sets), OptionValue::TagSets(more)) => sets.extend(more),
            (existing, value) => *existing = value,
        },
        Repeat::LastWinsWithWarning => {
            warnings.push(UriWarning::Repeated { option: spec.name });
            *existing = value;
        }
        Repeat::MustAgree => {
            if *existing != value {
                return Err(UriError::Combination(format!(
                    "every instance of {} (and its alias ssl) must have the same value",
                    spec.name
                )));
            }
        }
        Repeat::Error => {
            return Err(UriError::Combination(format!(
                "{} may be given only once",
                spec.name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::options::{ConnectionString, UriError};

    #[test]
    fn every_socks5_option_may_be_given_only_once() {
        for (option, first, second) in [
            ("proxyHost", "gw1.internal", "gw2.internal"),
            ("proxyPort", "9050", "9051"),
            ("proxyUsername", "carol", "dave"),
            ("proxyPassword", "first-pw-123", "second-pw-456"),
        ] {
            let mut uri = String::from("mongodb://db1/?proxyHost=gw.internal");
            if option != "proxyHost" {
                uri.push_str("&proxyUsername=u&proxyPassword=p");
            }
            uri.push_str(&format!("&{option}={first}&{option}={second}"));
            let error = ConnectionString::parse(&uri).expect_err(&uri);
            assert!(
                matches!(error, UriError::Combination(_)),
                "{uri}: {error:?}"
            );
            let shown = error.to_string();
            assert!(shown.contains(option), "{shown}");
            assert!(!shown.contains(first) && !shown.contains(second), "{shown}");
        }
    }

    #[test]
    fn an_unknown_auth_mechanism_is_ignored_with_a_warning() {
        let parsed = ConnectionString::parse("mongodb://db1/?authMechanism=KERBEROS5").unwrap();
        assert_eq!(parsed.auth_mechanism(), None);
        assert_eq!(parsed.warnings().len(), 1, "{:?}", parsed.warnings());

        let parsed = ConnectionString::parse("mongodb://u@db1/?authMechanism=PLAIN").unwrap();
        assert_eq!(parsed.auth_mechanism(), Some("PLAIN"));
        assert!(parsed.warnings().is_empty());
    }

    #[test]
    fn a_single_socks5_configuration_parses() {
        let uri = "mongodb://db1/?proxyHost=gw.internal&proxyPort=9050\
                   &proxyUsername=carol&proxyPassword=pw-789";
        let parsed = ConnectionString::parse(uri).unwrap();
        assert_eq!(parsed.proxy_host(), Some("gw.internal"));
        assert_eq!(parsed.proxy_port(), Some(9050));
        assert!(parsed.warnings().is_empty());
    }
}
