//! From the decoded key=value pairs to the list of options that were set: look each key up
//! in the catalog, parse its value, and apply the option's rule for repeated keys.

use super::catalog::{self, OptionSpec, Repeat};
use super::error::{UriError, UriWarning};
use super::values::parse_value;
use super::OptionValue;

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
