//! Parsing and validating one option value according to its [`Kind`] (Connection String
//! spec, "Values"; URI Options spec, "Accepted Values" column).
//!
//! A value that does not fit its kind is not an error: the Connection String spec says "Any
//! invalid Values for a given key MUST be ignored and MUST log a WARN level message". The
//! reasons returned here become that warning; they never contain the value itself, so a
//! secret cannot leak through them.

use std::collections::BTreeMap;

use super::credential::AuthMechanismProperties;
use super::kind::Kind;
use super::option_value::OptionValue;
use super::secret::Secret;

/// Compressor names known to the OP_COMPRESSED spec.
const KNOWN_COMPRESSORS: &[&str] = &["snappy", "zlib", "zstd"];

/// Largest `appname`, in bytes (handshake spec, "Client Application Name").
const MAX_APPNAME_BYTES: usize = 128;

/// Largest `srvServiceName`: the DNS label limit of 63 minus the prepended underscore
/// (Initial DNS Seedlist Discovery spec, "srvServiceName").
const MAX_SRV_SERVICE_NAME: usize = 62;

/// Parses `text` (already percent-decoded) as a value of `kind`. `Err` says why the value is
/// unacceptable, without repeating it.
pub(crate) fn parse_value(kind: Kind, text: &str) -> Result<OptionValue, String> {
    match kind {
        Kind::Bool => parse_bool(text).map(OptionValue::Bool),
        Kind::Int { min, max } => parse_int(text, min, max).map(OptionValue::Int),
        Kind::MaxStaleness => parse_max_staleness(text).map(OptionValue::Int),
        Kind::String => Ok(OptionValue::String(text.to_string())),
        Kind::SecretString => Ok(OptionValue::Secret(Secret::new(text))),
        Kind::OneOf(allowed) => match allowed.iter().find(|a| **a == text) {
            Some(a) => Ok(OptionValue::String((*a).to_string())),
            None => Err(format!("expected one of {}", allowed.join(", "))),
        },
        Kind::WriteConcernW => parse_w(text),
        Kind::Compressors => parse_compressors(text).map(OptionValue::List),
        Kind::KeyValuePairs => parse_pairs(text)
            .map(|pairs| OptionValue::Properties(AuthMechanismProperties::new(pairs))),
        Kind::TagSet => parse_tag_set(text).map(|tags| OptionValue::TagSets(vec![tags])),
        Kind::AppName => parse_appname(text).map(OptionValue::String),
        Kind::SrvServiceName => parse_srv_service_name(text).map(OptionValue::String),
    }
}

/// Connection String spec, "Boolean": "true" and "false"; an empty value is ignored. The
/// legacy alternatives ("1", "yes", "y", "t", "0", "-1", "no", "n", "f") are deprecated and
/// not accepted here: they are reported as invalid values.
fn parse_bool(text: &str) -> Result<bool, String> {
    match text {
        "true" => Ok(true),
        "false" => Ok(false),
        "" => Err("empty value ignored".to_string()),
        _ => Err("expected \"true\" or \"false\"".to_string()),
    }
}

/// Connection String spec, "Integer": the value parsed as an integer; an empty value is
/// ignored. The range comes from the option's row in the URI Options table.
fn parse_int(text: &str, min: i64, max: i64) -> Result<i64, String> {
    let out_of_range = || format!("expected an integer from {min} to {max}");
    if text.is_empty() {
        return Err("empty value ignored".to_string());
    }
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("not an integer; {}", out_of_range()));
    }
    match text.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(out_of_range()),
    }
}

/// Max Staleness spec, "API": a positive integer, or -1 for "no maximum staleness". Small
/// positive values are accepted here: the spec's "No validation" test requires that a
/// client can be created with `maxStalenessSeconds=1`; server selection rejects it later.
fn parse_max_staleness(text: &str) -> Result<i64, String> {
    match parse_int(text, -1, i32::MAX as i64) {
        Ok(0) => Err("expected -1 or a positive integer".to_string()),
        Ok(n) => Ok(n),
        Err(_) if text.is_empty() => Err("empty value ignored".to_string()),
        Err(_) => Err("expected -1 or a positive integer".to_string()),
    }
}

/// URI Options spec, `w`: "non-negative integer or string".
fn parse_w(text: &str) -> Result<OptionValue, String> {
    if text.is_empty() {
        return Err("empty value ignored".to_string());
    }
    let looks_numeric = text
        .strip_prefix('-')
        .unwrap_or(text)
        .bytes()
        .all(|b| b.is_ascii_digit());
    if looks_numeric {
        parse_int(text, 0, i32::MAX as i64).map(OptionValue::Int)
    } else {
        Ok(OptionValue::String(text.to_string()))
    }
}

/// URI Options spec, `compressors`: "comma separated list of strings". Names the
/// compression spec does not know are reported and left out.
fn parse_compressors(text: &str) -> Result<Vec<String>, String> {
    let names: Vec<String> = text.split(',').map(str::to_string).collect();
    if let Some(unknown) = names
        .iter()
        .find(|name| !KNOWN_COMPRESSORS.contains(&name.as_str()))
    {
        return Err(format!(
            "unknown compressor {unknown:?}; expected a comma-separated list of {}",
            KNOWN_COMPRESSORS.join(", ")
        ));
    }
    Ok(names)
}

/// Connection String spec, "Key value pairs": pairs are delimited by ",", the key is
/// everything up to the first ":" and the value everything after it (so a value may
/// contain ":"). A pair without ":" or with an empty key makes the whole value invalid.
fn parse_pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    if text.is_empty() {
        return Err("empty value ignored".to_string());
    }
    text.split(',')
        .enumerate()
        .map(|(i, pair)| match pair.split_once(':') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
            _ => Err(format!(
                "pair {} is not key:value (a value containing a comma must not be given in \
                 the connection string)",
                i + 1
            )),
        })
        .collect()
}

/// URI Options spec, `readPreferenceTags`: comma-separated key:value pairs forming one tag
/// set; the empty value is the empty tag set (Connection String spec, "Lists" example).
fn parse_tag_set(text: &str) -> Result<BTreeMap<String, String>, String> {
    if text.is_empty() {
        return Ok(BTreeMap::new());
    }
    Ok(parse_pairs(text)?.into_iter().collect())
}

fn parse_appname(text: &str) -> Result<String, String> {
    if text.len() > MAX_APPNAME_BYTES {
        return Err(format!("longer than {MAX_APPNAME_BYTES} bytes"));
    }
    Ok(text.to_string())
}

/// RFC 6335 section 5.1: letters, digits and hyphens; at least one letter; no hyphen at
/// either end and no two hyphens in a row. The seedlist spec lifts the 15-character limit
/// up to the DNS label limit.
fn parse_srv_service_name(text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text.len() <= MAX_SRV_SERVICE_NAME
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && text.bytes().any(|b| b.is_ascii_alphabetic())
        && !text.starts_with('-')
        && !text.ends_with('-')
        && !text.contains("--");
    if valid {
        Ok(text.to_string())
    } else {
        Err(format!(
            "not a valid SRV service name (RFC 6335: letters, digits and single inner \
             hyphens, at most {MAX_SRV_SERVICE_NAME} characters)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_respect_their_range() {
        assert_eq!(parse_int("500", 500, 1000), Ok(500));
        assert!(parse_int("499", 500, 1000).is_err());
        assert!(parse_int("-", 0, 10).is_err());
        assert!(parse_int("+5", 0, 10).is_err());
        assert!(parse_int("99999999999999999999999", 0, i64::MAX).is_err());
        assert_eq!(parse_int("-1", -1, 9), Ok(-1));
    }

    #[test]
    fn max_staleness_accepts_minus_one_and_positive() {
        assert_eq!(parse_max_staleness("-1"), Ok(-1));
        assert_eq!(parse_max_staleness("1"), Ok(1));
        assert!(parse_max_staleness("0").is_err());
        assert!(parse_max_staleness("-2").is_err());
    }

    #[test]
    fn pairs_split_on_first_colon() {
        assert_eq!(
            parse_pairs("TOKEN_RESOURCE:mongodb://foo"),
            Ok(vec![("TOKEN_RESOURCE".into(), "mongodb://foo".into())])
        );
        assert!(parse_pairs("a:1,b").is_err());
        assert!(parse_pairs(":x").is_err());
    }

    #[test]
    fn service_names() {
        assert!(parse_srv_service_name("customname").is_ok());
        assert!(parse_srv_service_name("my-db2").is_ok());
        for bad in ["", "-a", "a-", "a--b", "123", "a_b", &"a".repeat(63)] {
            assert!(parse_srv_service_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn w_is_integer_or_string() {
        assert_eq!(parse_w("2"), Ok(OptionValue::Int(2)));
        assert_eq!(
            parse_w("majority"),
            Ok(OptionValue::String("majority".into()))
        );
        assert!(parse_w("-1").is_err());
    }
}
