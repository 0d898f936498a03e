//! The unified format's "Evaluating Matches": an expected value against an actual one, with
//! root documents allowed extra keys, numbers compared by value, and the special operators
//! `$$exists`, `$$type`, `$$unsetOrMatches`, `$$matchesEntity`, `$$lte`,
//! `$$matchAsDocument`, `$$matchAsRoot`.

use bson::{Bson, Document};

/// Looks entities up for `$$matchesEntity`.
pub type EntityLookup<'a> = &'a dyn Fn(&str) -> Option<Bson>;

/// Matches `actual` against `expected` as a root document (extra keys allowed).
pub fn match_root(
    expected: &Bson,
    actual: Option<&Bson>,
    lookup: EntityLookup,
) -> Result<(), String> {
    matches(expected, actual, true, lookup, "")
}

/// Matches a nested value (documents must not have extra keys).
pub fn match_value(
    expected: &Bson,
    actual: Option<&Bson>,
    lookup: EntityLookup,
) -> Result<(), String> {
    matches(expected, actual, false, lookup, "")
}

fn number(value: &Bson) -> Option<f64> {
    match value {
        Bson::Int32(n) => Some(f64::from(*n)),
        Bson::Int64(n) => Some(*n as f64),
        Bson::Double(n) => Some(*n),
        _ => None,
    }
}

/// The `$$type` names of a value.
fn type_names(value: &Bson) -> &'static [&'static str] {
    match value {
        Bson::Double(_) => &["double", "number"],
        Bson::String(_) => &["string"],
        Bson::Document(_) => &["object"],
        Bson::Array(_) => &["array"],
        Bson::Binary(_) => &["binData"],
        Bson::ObjectId(_) => &["objectId"],
        Bson::Boolean(_) => &["bool"],
        Bson::DateTime(_) => &["date"],
        Bson::Null => &["null"],
        Bson::RegularExpression(_) => &["regex"],
        Bson::Int32(_) => &["int", "number"],
        Bson::Timestamp(_) => &["timestamp"],
        Bson::Int64(_) => &["long", "number"],
        Bson::Decimal128(_) => &["decimal", "number"],
        _ => &["other"],
    }
}

fn special(expected: &Document) -> Option<(&str, &Bson)> {
    if expected.len() != 1 {
        return None;
    }
    let (key, value) = expected.iter().next()?;
    key.starts_with("$$").then_some((key.as_str(), value))
}

fn matches(
    expected: &Bson,
    actual: Option<&Bson>,
    root: bool,
    lookup: EntityLookup,
    path: &str,
) -> Result<(), String> {
    let at = if path.is_empty() { "(root)" } else { path };
    if let Bson::Document(expected_doc) = expected {
        if let Some((operator, operand)) = special(expected_doc) {
            return operator_matches(operator, operand, actual, lookup, path);
        }
        let Some(Bson::Document(actual_doc)) = actual else {
            return Err(format!(
                "{at}: expected a document {expected}, got {actual:?}"
            ));
        };
        for (key, value) in expected_doc {
            let child = format!("{path}.{key}");
            let present = actual_doc.get(key);
            if let Bson::Document(inner) = value {
                if let Some(("$$exists", want)) = special(inner) {
                    if present.is_some() != (want.as_bool() == Some(true)) {
                        return Err(format!("{child}: $$exists {want} but found {present:?}"));
                    }
                    continue;
                }
                if let Some(("$$unsetOrMatches", inner_expected)) = special(inner) {
                    if present.is_none() {
                        continue;
                    }
                    matches(inner_expected, present, false, lookup, &child)?;
                    continue;
                }
            }
            matches(value, present, false, lookup, &child)?;
        }
        if !root {
            if let Some(extra) = actual_doc
                .keys()
                .find(|k| !expected_doc.contains_key(k.as_str()))
            {
                return Err(format!("{at}: unexpected key {extra:?} in {actual_doc}"));
            }
        }
        return Ok(());
    }
    let Some(actual) = actual else {
        return Err(format!("{at}: expected {expected}, found nothing"));
    };
    match (expected, actual) {
        (Bson::Array(want), Bson::Array(got)) => {
            if want.len() != got.len() {
                return Err(format!(
                    "{at}: expected {} items {expected}, got {} {actual}",
                    want.len(),
                    got.len()
                ));
            }
            for (i, (w, g)) in want.iter().zip(got).enumerate() {
                matches(w, Some(g), false, lookup, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        _ => match (number(expected), number(actual)) {
            (Some(x), Some(y)) if x == y => Ok(()),
            (Some(_), _) | (_, Some(_)) => Err(format!("{at}: expected {expected}, got {actual}")),
            _ if expected == actual => Ok(()),
            _ => Err(format!("{at}: expected {expected}, got {actual}")),
        },
    }
}

fn operator_matches(
    operator: &str,
    operand: &Bson,
    actual: Option<&Bson>,
    lookup: EntityLookup,
    path: &str,
) -> Result<(), String> {
    let at = if path.is_empty() { "(root)" } else { path };
    match operator {
        "$$exists" => {
            if actual.is_some() == (operand.as_bool() == Some(true)) {
                Ok(())
            } else {
                Err(format!("{at}: $$exists {operand}, found {actual:?}"))
            }
        }
        "$$unsetOrMatches" => match actual {
            None => Ok(()),
            Some(_) => matches(operand, actual, false, lookup, path),
        },
        "$$type" => {
            let Some(actual) = actual else {
                return Err(format!("{at}: $$type {operand}, found nothing"));
            };
            let wanted: Vec<&str> = match operand {
                Bson::String(name) => vec![name.as_str()],
                Bson::Array(names) => names.iter().filter_map(Bson::as_str).collect(),
                _ => Vec::new(),
            };
            if type_names(actual).iter().any(|t| wanted.contains(t)) {
                Ok(())
            } else {
                Err(format!("{at}: $$type {operand}, found {actual}"))
            }
        }
        "$$matchesEntity" => {
            let name = operand.as_str().unwrap_or_default();
            let entity = lookup(name).ok_or_else(|| format!("{at}: no entity {name:?}"))?;
            matches(&entity, actual, false, lookup, path)
        }
        "$$lte" => match (number(operand), actual.and_then(number)) {
            (Some(limit), Some(value)) if value <= limit => Ok(()),
            _ => Err(format!("{at}: $$lte {operand}, found {actual:?}")),
        },
        "$$matchAsDocument" => match actual {
            Some(Bson::String(text)) => {
                let value: serde_json::Value =
                    serde_json::from_str(text).map_err(|e| format!("{at}: not JSON: {e}"))?;
                let parsed = crate::sdam::extjson::to_bson(&value)?;
                matches(operand, Some(&parsed), false, lookup, path)
            }
            other => Err(format!(
                "{at}: $$matchAsDocument needs a string, found {other:?}"
            )),
        },
        "$$matchAsRoot" => matches(operand, actual, true, lookup, path),
        other => Err(format!("{at}: the runner does not implement {other}")),
    }
}

/// The runner's own check of its matcher, run before each file: each rule of "Evaluating
/// Matches" it relies on must both accept and reject, or the suite's passes mean nothing.
pub fn self_check() -> Result<(), String> {
    use bson::doc;
    let none = |_: &str| None;
    let root = |expected: Document, actual: Document| {
        match_root(
            &Bson::Document(expected),
            Some(&Bson::Document(actual)),
            &none,
        )
        .is_ok()
    };
    let nested = |expected: Document, actual: Document| {
        match_value(
            &Bson::Document(expected),
            Some(&Bson::Document(actual)),
            &none,
        )
        .is_ok()
    };
    let checks: [(&str, bool); 12] = [
        (
            "a root allows extra keys",
            root(doc! { "a": 1 }, doc! { "a": 1, "b": 2 }),
        ),
        (
            "a nested document does not",
            !nested(doc! { "a": 1 }, doc! { "a": 1, "b": 2 }),
        ),
        (
            "numbers compare by value",
            root(doc! { "a": 1 }, doc! { "a": 1.0 }),
        ),
        (
            "different values differ",
            !root(doc! { "a": 1 }, doc! { "a": 2 }),
        ),
        (
            "a missing key fails",
            !root(doc! { "a": 1 }, doc! { "b": 1 }),
        ),
        (
            "$$exists false",
            root(doc! { "a": { "$$exists": false } }, doc! {})
                && !root(doc! { "a": { "$$exists": false } }, doc! { "a": 1 }),
        ),
        (
            "$$exists true",
            !root(doc! { "a": { "$$exists": true } }, doc! {}),
        ),
        (
            "$$type",
            root(
                doc! { "a": { "$$type": ["int", "long"] } },
                doc! { "a": 5i64 },
            ) && !root(doc! { "a": { "$$type": "string" } }, doc! { "a": 5 }),
        ),
        (
            "$$unsetOrMatches",
            root(doc! { "a": { "$$unsetOrMatches": 1 } }, doc! {})
                && !root(doc! { "a": { "$$unsetOrMatches": 1 } }, doc! { "a": 2 }),
        ),
        (
            "arrays match item by item",
            !root(doc! { "a": [1, 2] }, doc! { "a": [1] })
                && !root(
                    doc! { "a": [{ "x": 1 }] },
                    doc! { "a": [{ "x": 1, "y": 2 }] },
                ),
        ),
        (
            "$$matchAsDocument",
            root(
                doc! { "r": { "$$matchAsDocument": { "$$matchAsRoot": { "ok": 1 } } } },
                doc! { "r": "{\"ok\": 1, \"x\": 2}" },
            ) && !root(
                doc! { "r": { "$$matchAsDocument": { "ok": 1 } } },
                doc! { "r": "{\"ok\": 1, \"x\": 2}" },
            ),
        ),
        (
            "$$lte",
            root(doc! { "a": { "$$lte": 5 } }, doc! { "a": 3 })
                && !root(doc! { "a": { "$$lte": 5 } }, doc! { "a": 6 }),
        ),
    ];
    match checks.iter().find(|(_, held)| !held) {
        Some((rule, _)) => Err(format!("the runner's matcher is broken: {rule}")),
        None => Ok(()),
    }
}
