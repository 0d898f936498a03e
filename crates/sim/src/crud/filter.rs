//! Query filters: the subset of the server's match language the simulator evaluates
//! (equality on top-level fields and dotted paths, `$eq`, `$ne`, `$gt`, `$gte`, `$lt`,
//! `$lte`, `$in`, `$nin`, `$exists`, `$and`, `$or`, `$nor`; `$where` matches every
//! document).

use std::cmp::Ordering;

use bson::{Bson, Document};

/// Why the server refuses `filter` (a `$and`, `$or` or `$nor` that is not a non-empty
/// array of documents: BadValue), if it does.
pub fn invalid(filter: &Document) -> Option<String> {
    for (key, condition) in filter {
        if matches!(key.as_str(), "$and" | "$or" | "$nor") {
            let Bson::Array(clauses) = condition else {
                return Some(format!("{key} must be an array"));
            };
            if clauses.is_empty() {
                return Some(format!("{key}/$or/$nor entries need to be full objects"));
            }
            for clause in clauses {
                match clause {
                    Bson::Document(inner) => {
                        if let Some(why) = invalid(inner) {
                            return Some(why);
                        }
                    }
                    _ => return Some("$or/$and/$nor entries need to be full objects".to_owned()),
                }
            }
        }
    }
    None
}

/// Whether `document` matches `filter`.
pub fn matches(document: &Document, filter: &Document) -> bool {
    filter.iter().all(|(key, condition)| match key.as_str() {
        "$and" => each_clause(condition).iter().all(|c| matches(document, c)),
        "$or" => each_clause(condition).iter().any(|c| matches(document, c)),
        "$nor" => !each_clause(condition).iter().any(|c| matches(document, c)),
        // JavaScript is not evaluated: the drivers' tests use `$where` only to make a
        // command slow ("sleep(2000) || true"), which [`super::where_sleep`] simulates.
        "$where" => true,
        _ => field_matches(lookup(document, key), condition),
    })
}

fn each_clause(condition: &Bson) -> Vec<&Document> {
    match condition {
        Bson::Array(clauses) => clauses.iter().filter_map(Bson::as_document).collect(),
        _ => Vec::new(),
    }
}

/// The value at a dotted path.
fn lookup<'a>(document: &'a Document, path: &str) -> Option<&'a Bson> {
    let mut parts = path.split('.');
    let mut current = document.get(parts.next()?)?;
    for part in parts {
        current = match current {
            Bson::Document(inner) => inner.get(part)?,
            Bson::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

fn field_matches(value: Option<&Bson>, condition: &Bson) -> bool {
    let Bson::Document(operators) = condition else {
        return equals(value, condition);
    };
    if !operators.keys().all(|k| k.starts_with('$')) || operators.is_empty() {
        return equals(value, condition);
    }
    operators.iter().all(|(op, operand)| match op.as_str() {
        "$eq" => equals(value, operand),
        "$ne" => !equals(value, operand),
        "$gt" => compare(value, operand) == Some(Ordering::Greater),
        "$gte" => matches!(
            compare(value, operand),
            Some(Ordering::Greater | Ordering::Equal)
        ),
        "$lt" => compare(value, operand) == Some(Ordering::Less),
        "$lte" => matches!(
            compare(value, operand),
            Some(Ordering::Less | Ordering::Equal)
        ),
        "$in" => operand
            .as_array()
            .is_some_and(|items| items.iter().any(|item| equals(value, item))),
        "$nin" => !operand
            .as_array()
            .is_some_and(|items| items.iter().any(|item| equals(value, item))),
        "$exists" => value.is_some() == truthy(operand),
        _ => false,
    })
}

fn truthy(value: &Bson) -> bool {
    match value {
        Bson::Boolean(b) => *b,
        Bson::Int32(n) => *n != 0,
        Bson::Int64(n) => *n != 0,
        Bson::Double(n) => *n != 0.0,
        Bson::Null => false,
        _ => true,
    }
}

/// Equality as the server compares: numbers by value; an array matches a value it holds.
fn equals(value: Option<&Bson>, wanted: &Bson) -> bool {
    match value {
        None => matches!(wanted, Bson::Null),
        Some(Bson::Array(items)) if !matches!(wanted, Bson::Array(_)) => {
            items.iter().any(|item| same(item, wanted))
        }
        Some(value) => same(value, wanted),
    }
}

fn same(a: &Bson, b: &Bson) -> bool {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn number(value: &Bson) -> Option<f64> {
    match value {
        Bson::Int32(n) => Some(f64::from(*n)),
        Bson::Int64(n) => Some(*n as f64),
        Bson::Double(n) => Some(*n),
        _ => None,
    }
}

/// Orders two values of the same kind (numbers, strings); `None` for others.
pub fn compare(value: Option<&Bson>, operand: &Bson) -> Option<Ordering> {
    let value = value?;
    if let (Some(x), Some(y)) = (number(value), number(operand)) {
        return x.partial_cmp(&y);
    }
    match (value, operand) {
        (Bson::String(x), Bson::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::matches;

    #[test]
    fn equality_operators_and_logic() {
        let d = doc! { "_id": 1, "x": 11, "tags": ["a", "b"], "sub": { "y": "z" } };
        assert!(matches(&d, &doc! {}));
        assert!(matches(&d, &doc! { "_id": 1.0 }));
        assert!(!matches(&d, &doc! { "_id": 2 }));
        assert!(matches(&d, &doc! { "x": { "$gt": 10, "$lte": 11 } }));
        assert!(matches(&d, &doc! { "tags": "b", "sub.y": "z" }));
        assert!(matches(&d, &doc! { "_id": { "$in": [3, 1] } }));
        assert!(matches(&d, &doc! { "missing": { "$exists": false } }));
        assert!(matches(&d, &doc! { "$or": [{ "x": 0 }, { "x": 11 }] }));
        assert!(!matches(&d, &doc! { "$and": [{ "x": 11 }, { "_id": 0 }] }));
    }
}
