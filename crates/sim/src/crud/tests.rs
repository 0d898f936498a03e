use bson::doc;

use super::*;

fn batch(reply: &Document, key: &str) -> Vec<Document> {
    reply
        .get_document("cursor")
        .unwrap()
        .get_array(key)
        .unwrap()
        .iter()
        .filter_map(|d| d.as_document().cloned())
        .collect()
}

fn cursor_id(reply: &Document) -> i64 {
    reply.get_document("cursor").unwrap().get_i64("id").unwrap()
}

#[test]
fn insert_find_in_batches_get_more_and_kill() {
    let mut store = Store::default();
    let reply = store.run(
        "db",
        "insert",
        &doc! { "insert": "c", "documents": [{ "_id": 1 }, { "_id": 2 }, { "_id": 3 }, { "_id": 4 }, { "_id": 5 }] },
    );
    assert_eq!(reply.get_i32("n").ok(), Some(5));
    let first = store.run(
        "db",
        "find",
        &doc! { "find": "c", "filter": {}, "batchSize": 2 },
    );
    assert_eq!(batch(&first, "firstBatch").len(), 2);
    let id = cursor_id(&first);
    assert_ne!(id, 0);
    let more = store.run(
        "db",
        "getMore",
        &doc! { "getMore": id, "collection": "c", "batchSize": 2 },
    );
    assert_eq!(
        batch(&more, "nextBatch"),
        vec![doc! { "_id": 3 }, doc! { "_id": 4 }]
    );
    assert_eq!(cursor_id(&more), id);
    let killed = store.run(
        "db",
        "killCursors",
        &doc! { "killCursors": "c", "cursors": [id] },
    );
    assert_eq!(killed.get_array("cursorsKilled").unwrap().len(), 1);
    let gone = store.run("db", "getMore", &doc! { "getMore": id, "collection": "c" });
    assert_eq!(gone.get_i32("code").ok(), Some(43));
    let last = store.run(
        "db",
        "find",
        &doc! { "find": "c", "filter": { "_id": { "$gt": 3 } } },
    );
    assert_eq!(batch(&last, "firstBatch").len(), 2);
    assert_eq!(cursor_id(&last), 0);
}

#[test]
fn duplicate_ids_delete_update_drop_create() {
    let mut store = Store::default();
    store.run(
        "db",
        "insert",
        &doc! { "insert": "c", "documents": [{ "_id": 1, "x": 1 }] },
    );
    let dup = store.run(
        "db",
        "insert",
        &doc! { "insert": "c", "documents": [{ "_id": 1 }] },
    );
    assert_eq!(dup.get_i32("n").ok(), Some(0));
    assert_eq!(dup.get_array("writeErrors").unwrap().len(), 1);
    let updated = store.run(
        "db",
        "update",
        &doc! { "update": "c", "updates": [{ "q": { "_id": 1 }, "u": { "$inc": { "x": 1 } } }] },
    );
    assert_eq!(updated.get_i32("nModified").ok(), Some(1));
    assert_eq!(store.documents("db", "c"), vec![doc! { "_id": 1, "x": 2 }]);
    let deleted = store.run(
        "db",
        "delete",
        &doc! { "delete": "c", "deletes": [{ "q": {}, "limit": 0 }] },
    );
    assert_eq!(deleted.get_i32("n").ok(), Some(1));
    assert_eq!(
        store
            .run("db", "drop", &doc! { "drop": "c" })
            .get_f64("ok")
            .ok(),
        Some(1.0)
    );
    assert_eq!(
        store
            .run("db", "drop", &doc! { "drop": "c" })
            .get_i32("code")
            .ok(),
        Some(26)
    );
    assert_eq!(
        store
            .run("db", "create", &doc! { "create": "c" })
            .get_f64("ok")
            .ok(),
        Some(1.0)
    );
    assert_eq!(
        store
            .run("db", "create", &doc! { "create": "c" })
            .get_i32("code")
            .ok(),
        Some(48)
    );
    let listed = store.run("db", "listCollections", &doc! { "listCollections": 1 });
    assert_eq!(
        batch(&listed, "firstBatch")[0].get_str("name").ok(),
        Some("c")
    );
}

#[test]
fn aggregate_matches_sorts_and_limits() {
    let mut store = Store::default();
    store.run(
        "db",
        "insert",
        &doc! { "insert": "c", "documents": [{ "_id": 1 }, { "_id": 3 }, { "_id": 2 }] },
    );
    let reply = store.run(
        "db",
        "aggregate",
        &doc! { "aggregate": "c", "pipeline": [{ "$match": { "_id": { "$gte": 2 } } }, { "$sort": { "_id": -1 } }, { "$limit": 1 }], "cursor": {} },
    );
    assert_eq!(batch(&reply, "firstBatch"), vec![doc! { "_id": 3 }]);
}

#[test]
fn where_sleeps_are_found_in_filters() {
    let find = doc! { "find": "c", "filter": { "$where": "sleep(2000) || true" } };
    assert_eq!(
        where_sleep(&find),
        Some(std::time::Duration::from_millis(2000))
    );
    let update = doc! { "update": "c", "updates": [{ "q": { "$where": "sleep(50)" }, "u": {} }] };
    assert_eq!(
        where_sleep(&update),
        Some(std::time::Duration::from_millis(50))
    );
    assert_eq!(where_sleep(&doc! { "find": "c", "filter": {} }), None);
    let mut store = Store::default();
    store.run(
        "db",
        "insert",
        &doc! { "insert": "c", "documents": [{ "_id": 1 }] },
    );
    let found = store.run("db", "find", &find);
    assert_eq!(batch(&found, "firstBatch").len(), 1, "$where matches");
}

#[test]
fn a_malformed_filter_is_refused() {
    let mut store = Store::default();
    let reply = store.run(
        "db",
        "find",
        &doc! { "find": "c", "filter": { "$or": true } },
    );
    assert_eq!(reply.get_i32("code").ok(), Some(2));
    let reply = store.run(
        "db",
        "find",
        &doc! { "find": "c", "filter": { "$and": [1] } },
    );
    assert_eq!(reply.get_i32("code").ok(), Some(2));
}
