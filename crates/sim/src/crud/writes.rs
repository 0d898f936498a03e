//! `insert`, `update` and `delete` on one collection, with the server's reply shapes
//! (`n`, `nModified`, `upserted`, `writeErrors` for a duplicate `_id`).

use bson::oid::ObjectId;
use bson::{doc, Bson, Document};

use super::collection::Collection;
use super::filter::matches;

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn with_write_errors(mut reply: Document, errors: Vec<Document>) -> Document {
    if !errors.is_empty() {
        reply.insert("writeErrors", errors);
    }
    reply.insert("ok", 1.0);
    reply
}

/// `insert`: each document gets an `_id` if it has none; a duplicate `_id` is a write
/// error (11000) and, for an ordered insert, stops the batch.
pub(super) fn insert(collection: &mut Collection, command: &Document) -> Document {
    let ordered = !matches!(command.get("ordered"), Some(Bson::Boolean(false)));
    let documents = command.get_array("documents").cloned().unwrap_or_default();
    let (mut inserted, mut errors) = (0usize, Vec::new());
    for (index, document) in documents.into_iter().enumerate() {
        let Bson::Document(mut document) = document else {
            continue;
        };
        if !document.contains_key("_id") {
            let mut with_id = doc! { "_id": ObjectId::new() };
            with_id.extend(document);
            document = with_id;
        }
        let id = document.get("_id").cloned().unwrap_or(Bson::Null);
        if collection
            .documents
            .iter()
            .any(|d| d.get("_id") == Some(&id))
        {
            errors.push(doc! {
                "index": count(index),
                "code": 11000,
                "errmsg": format!("E11000 duplicate key error dup key: {{ _id: {id} }}"),
            });
            if ordered {
                break;
            }
            continue;
        }
        collection.documents.push(document);
        inserted += 1;
    }
    with_write_errors(doc! { "n": count(inserted) }, errors)
}

/// `delete`: each statement's `q` with `limit` 1 (one document) or 0 (all).
pub(super) fn delete(collection: &mut Collection, command: &Document) -> Document {
    let mut removed = 0usize;
    for statement in command
        .get_array("deletes")
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(Bson::as_document)
    {
        let filter = statement.get_document("q").cloned().unwrap_or_default();
        let one = matches!(
            statement.get("limit"),
            Some(Bson::Int32(1) | Bson::Int64(1))
        ) || statement.get_f64("limit").ok() == Some(1.0);
        let mut taken = 0usize;
        collection.documents.retain(|d| {
            if (one && taken == 1) || !matches(d, &filter) {
                return true;
            }
            taken += 1;
            false
        });
        removed += taken;
    }
    doc! { "n": count(removed), "ok": 1.0 }
}

/// `update`: `$set`, `$unset` and `$inc`, or a replacement document; `multi` and `upsert`.
pub(super) fn update(collection: &mut Collection, command: &Document) -> Document {
    let (mut matched, mut modified, mut upserted) = (0usize, 0usize, Vec::new());
    for (index, statement) in command
        .get_array("updates")
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(Bson::as_document)
        .enumerate()
    {
        let filter = statement.get_document("q").cloned().unwrap_or_default();
        let change = statement.get_document("u").cloned().unwrap_or_default();
        let multi = statement.get_bool("multi").unwrap_or(false);
        let mut hit = false;
        for document in collection.documents.iter_mut() {
            if !matches(document, &filter) || (hit && !multi) {
                continue;
            }
            hit = true;
            matched += 1;
            let before = document.clone();
            apply(document, &change);
            if *document != before {
                modified += 1;
            }
        }
        if !hit && statement.get_bool("upsert").unwrap_or(false) {
            let mut document = Document::new();
            for (key, value) in &filter {
                if !key.starts_with('$') {
                    document.insert(key, value.clone());
                }
            }
            apply(&mut document, &change);
            if !document.contains_key("_id") {
                document.insert("_id", ObjectId::new());
            }
            let id = document.get("_id").cloned().unwrap_or(Bson::Null);
            upserted.push(doc! { "index": count(index), "_id": id });
            collection.documents.push(document);
        }
    }
    let mut reply = doc! { "n": count(matched + upserted.len()), "nModified": count(modified) };
    if !upserted.is_empty() {
        reply.insert("upserted", upserted);
    }
    with_write_errors(reply, Vec::new())
}

fn apply(document: &mut Document, change: &Document) {
    if !change.keys().any(|k| k.starts_with('$')) {
        let id = document.get("_id").cloned();
        *document = change.clone();
        if let Some(id) = id {
            let mut with_id = doc! { "_id": id };
            with_id.extend(std::mem::take(document));
            *document = with_id;
        }
        return;
    }
    for (op, fields) in change {
        let Bson::Document(fields) = fields else {
            continue;
        };
        for (key, value) in fields {
            match op.as_str() {
                "$set" => {
                    document.insert(key, value.clone());
                }
                "$unset" => {
                    document.remove(key);
                }
                "$inc" => {
                    let sum = match (document.get(key), value) {
                        (Some(Bson::Int32(a)), Bson::Int32(b)) => Bson::Int32(a.wrapping_add(*b)),
                        (Some(Bson::Int64(a)), Bson::Int64(b)) => Bson::Int64(a.wrapping_add(*b)),
                        (None, v) => v.clone(),
                        (Some(a), b) => {
                            Bson::Double(a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0))
                        }
                    };
                    document.insert(key, sum);
                }
                _ => {}
            }
        }
    }
}
