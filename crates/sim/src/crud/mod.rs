//! In-memory documents per database and collection, and the commands that read and write
//! them: `insert`, `update`, `delete`, `find` (with `filter`, `sort`, `skip`, `limit`,
//! `batchSize`, `singleBatch`), `aggregate` (`$match`, `$sort`, `$skip`, `$limit`),
//! `getMore`, `killCursors`, `create`, `drop`, `dropDatabase`, `listCollections`,
//! `createIndexes`, `listIndexes`. Documents are kept deployment-wide (every member sees
//! the primary's writes at once: replication lag is simulated on optimes, not data).

mod collection;
mod filter;
mod writes;

use std::collections::BTreeMap;

use bson::{doc, Bson, Document};

use crate::reply::error_reply;

use collection::Collection;
pub use filter::matches;

/// The server's default first batch size.
const DEFAULT_BATCH: usize = 101;

/// An open cursor: what is left to return, and its namespace.
#[derive(Debug, Clone)]
struct Cursor {
    ns: String,
    remaining: Vec<Document>,
}

/// Every database's collections, and the open cursors.
#[derive(Debug, Clone, Default)]
pub struct Store {
    databases: BTreeMap<String, BTreeMap<String, Collection>>,
    cursors: BTreeMap<i64, Cursor>,
    last_cursor: i64,
}

/// How long a command whose filter has a `$where` calling `sleep(ms)` (the drivers' tests'
/// way to make a command slow) runs on a real server: the sum of the sleeps of its filters
/// (find's `filter`, the `q` of update and delete statements).
pub fn where_sleep(command: &Document) -> Option<std::time::Duration> {
    let mut filters: Vec<&Document> = command.get_document("filter").into_iter().collect();
    for key in ["updates", "deletes"] {
        for statement in command.get_array(key).into_iter().flatten() {
            if let Some(q) = statement
                .as_document()
                .and_then(|s| s.get_document("q").ok())
            {
                filters.push(q);
            }
        }
    }
    let total: u64 = filters
        .iter()
        .filter_map(|filter| filter.get_str("$where").ok())
        .filter_map(|code| {
            let start = code.find("sleep(")? + "sleep(".len();
            let end = start + code[start..].find(')')?;
            code[start..end].trim().parse::<u64>().ok()
        })
        .sum();
    (total > 0).then(|| std::time::Duration::from_millis(total))
}

/// Whether command `name` is one of the store's (and whether it writes).
pub fn is_store_command(name: &str) -> Option<bool> {
    match name {
        "insert" | "update" | "delete" | "create" | "drop" | "dropDatabase" | "createIndexes" => {
            Some(true)
        }
        "find" | "aggregate" | "getMore" | "killCursors" | "listCollections" | "listIndexes" => {
            Some(false)
        }
        _ => None,
    }
}

impl Store {
    /// The documents of `db.collection`, in insertion order.
    pub fn documents(&self, db: &str, collection: &str) -> Vec<Document> {
        self.databases
            .get(db)
            .and_then(|colls| colls.get(collection))
            .map(|c| c.documents.clone())
            .unwrap_or_default()
    }

    /// Runs store command `name` (see [`is_store_command`]) on database `db`.
    pub fn run(&mut self, db: &str, name: &str, command: &Document) -> Document {
        let target = command.get_str(name).unwrap_or_default().to_owned();
        match name {
            "insert" => writes::insert(self.collection(db, &target), command),
            "update" => writes::update(self.collection(db, &target), command),
            "delete" => writes::delete(self.collection(db, &target), command),
            "create" => self.create(db, &target),
            "drop" => self.drop(db, &target),
            "dropDatabase" => {
                self.databases.remove(db);
                doc! { "ok": 1.0 }
            }
            "createIndexes" => self.create_indexes(db, &target, command),
            "find" => self.find(db, &target, command),
            "aggregate" => self.aggregate(db, &target, command),
            "getMore" => self.get_more(db, command),
            "killCursors" => self.kill_cursors(command),
            "listCollections" => self.list_collections(db, command),
            "listIndexes" => self.list_indexes(db, &target, command),
            _ => error_reply(59, "CommandNotFound", format!("no such command: '{name}'")),
        }
    }

    fn collection(&mut self, db: &str, name: &str) -> &mut Collection {
        self.databases
            .entry(db.to_owned())
            .or_default()
            .entry(name.to_owned())
            .or_insert_with(|| Collection {
                documents: Vec::new(),
                indexes: vec![doc! { "v": 2, "key": { "_id": 1 }, "name": "_id_" }],
            })
    }

    fn existing(&self, db: &str, name: &str) -> Option<&Collection> {
        self.databases.get(db)?.get(name)
    }

    fn create(&mut self, db: &str, name: &str) -> Document {
        if self.existing(db, name).is_some() {
            return error_reply(
                48,
                "NamespaceExists",
                format!("Collection {db}.{name} already exists."),
            );
        }
        self.collection(db, name);
        doc! { "ok": 1.0 }
    }

    fn drop(&mut self, db: &str, name: &str) -> Document {
        let removed = self
            .databases
            .get_mut(db)
            .and_then(|colls| colls.remove(name));
        match removed {
            Some(collection) => doc! {
                "nIndexesWas": i32::try_from(collection.indexes.len()).unwrap_or(i32::MAX),
                "ns": format!("{db}.{name}"),
                "ok": 1.0,
            },
            None => error_reply(26, "NamespaceNotFound", "ns not found"),
        }
    }

    fn create_indexes(&mut self, db: &str, name: &str, command: &Document) -> Document {
        let created_automatically = self.existing(db, name).is_none();
        let collection = self.collection(db, name);
        let before = collection.indexes.len();
        if let Ok(indexes) = command.get_array("indexes") {
            for index in indexes.iter().filter_map(Bson::as_document) {
                let name = index.get_str("name").unwrap_or_default();
                if !collection
                    .indexes
                    .iter()
                    .any(|i| i.get_str("name").ok() == Some(name))
                {
                    let mut entry = doc! { "v": 2 };
                    entry.extend(index.clone());
                    collection.indexes.push(entry);
                }
            }
        }
        doc! {
            "numIndexesBefore": i32::try_from(before).unwrap_or(i32::MAX),
            "numIndexesAfter": i32::try_from(collection.indexes.len()).unwrap_or(i32::MAX),
            "createdCollectionAutomatically": created_automatically,
            "ok": 1.0,
        }
    }

    fn find(&mut self, db: &str, name: &str, command: &Document) -> Document {
        let filter = command.get_document("filter").cloned().unwrap_or_default();
        if let Some(why) = filter::invalid(&filter) {
            return error_reply(2, "BadValue", why);
        }
        let mut found: Vec<Document> = self
            .existing(db, name)
            .map(|c| {
                c.documents
                    .iter()
                    .filter(|d| matches(d, &filter))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        if let Ok(sort) = command.get_document("sort") {
            sort_by(&mut found, sort);
        }
        let skip = count_of(command.get("skip")).unwrap_or(0);
        found = found.into_iter().skip(skip).collect();
        if let Some(limit) = count_of(command.get("limit")).filter(|l| *l > 0) {
            found.truncate(limit);
        }
        let single = matches!(command.get("singleBatch"), Some(Bson::Boolean(true)));
        self.open_cursor(format!("{db}.{name}"), found, command, single)
    }

    fn aggregate(&mut self, db: &str, name: &str, command: &Document) -> Document {
        let mut found = self
            .existing(db, name)
            .map(|c| c.documents.clone())
            .unwrap_or_default();
        let stages = command.get_array("pipeline").cloned().unwrap_or_default();
        for stage in stages.iter().filter_map(Bson::as_document) {
            let Some((op, argument)) = stage.iter().next() else {
                continue;
            };
            match (op.as_str(), argument) {
                ("$match", Bson::Document(filter)) => found.retain(|d| matches(d, filter)),
                ("$sort", Bson::Document(sort)) => sort_by(&mut found, sort),
                ("$skip", n) => {
                    found = found
                        .into_iter()
                        .skip(count_of(Some(n)).unwrap_or(0))
                        .collect()
                }
                ("$limit", n) => found.truncate(count_of(Some(n)).unwrap_or(usize::MAX)),
                _ => {
                    return error_reply(
                        40324,
                        "Location40324",
                        format!("Unrecognized pipeline stage name: '{op}' (simulator)"),
                    )
                }
            }
        }
        let options = command.get_document("cursor").cloned().unwrap_or_default();
        self.open_cursor(format!("{db}.{name}"), found, &options, false)
    }

    /// The first batch of `documents` (a `batchSize` of `options`, or 101), keeping the
    /// rest behind a cursor id unless `single` or nothing is left.
    fn open_cursor(
        &mut self,
        ns: String,
        mut documents: Vec<Document>,
        options: &Document,
        single: bool,
    ) -> Document {
        let batch = count_of(options.get("batchSize")).unwrap_or(DEFAULT_BATCH);
        let rest = documents.split_off(batch.min(documents.len()));
        let id = if rest.is_empty() || single {
            0
        } else {
            self.last_cursor += 1;
            self.cursors.insert(
                self.last_cursor,
                Cursor {
                    ns: ns.clone(),
                    remaining: rest,
                },
            );
            self.last_cursor
        };
        doc! {
            "cursor": { "firstBatch": documents, "id": id, "ns": ns },
            "ok": 1.0,
        }
    }

    fn get_more(&mut self, db: &str, command: &Document) -> Document {
        let id = match command.get("getMore") {
            Some(Bson::Int64(id)) => *id,
            Some(Bson::Int32(id)) => i64::from(*id),
            _ => return error_reply(14, "TypeMismatch", "getMore must be a long"),
        };
        let collection = command.get_str("collection").unwrap_or_default();
        let ns = format!("{db}.{collection}");
        let Some(cursor) = self.cursors.get_mut(&id).filter(|c| c.ns == ns) else {
            return error_reply(43, "CursorNotFound", format!("cursor id {id} not found"));
        };
        let batch = count_of(command.get("batchSize")).unwrap_or(usize::MAX);
        let rest = cursor
            .remaining
            .split_off(batch.min(cursor.remaining.len()));
        let documents = std::mem::replace(&mut cursor.remaining, rest);
        let id = if cursor.remaining.is_empty() {
            self.cursors.remove(&id);
            0
        } else {
            id
        };
        doc! {
            "cursor": { "nextBatch": documents, "id": id, "ns": ns },
            "ok": 1.0,
        }
    }

    fn kill_cursors(&mut self, command: &Document) -> Document {
        let (mut killed, mut not_found) = (Vec::new(), Vec::new());
        for id in command.get_array("cursors").cloned().unwrap_or_default() {
            let number = match id {
                Bson::Int64(n) => n,
                Bson::Int32(n) => i64::from(n),
                _ => continue,
            };
            if self.cursors.remove(&number).is_some() {
                killed.push(number);
            } else {
                not_found.push(number);
            }
        }
        doc! {
            "cursorsKilled": killed,
            "cursorsNotFound": not_found,
            "cursorsAlive": [],
            "cursorsUnknown": [],
            "ok": 1.0,
        }
    }

    fn list_collections(&mut self, db: &str, command: &Document) -> Document {
        let filter = command.get_document("filter").cloned().unwrap_or_default();
        let names: Vec<Document> = self
            .databases
            .get(db)
            .map(|colls| {
                colls
                    .keys()
                    .map(|name| {
                        doc! {
                            "name": name, "type": "collection", "options": {},
                            "info": { "readOnly": false },
                            "idIndex": { "v": 2, "key": { "_id": 1 }, "name": "_id_" },
                        }
                    })
                    .filter(|d| matches(d, &filter))
                    .collect()
            })
            .unwrap_or_default();
        let options = command.get_document("cursor").cloned().unwrap_or_default();
        self.open_cursor(format!("{db}.$cmd.listCollections"), names, &options, false)
    }

    fn list_indexes(&mut self, db: &str, name: &str, command: &Document) -> Document {
        let Some(collection) = self.existing(db, name) else {
            return error_reply(
                26,
                "NamespaceNotFound",
                format!("ns does not exist: {db}.{name}"),
            );
        };
        let indexes = collection.indexes.clone();
        let options = command.get_document("cursor").cloned().unwrap_or_default();
        self.open_cursor(format!("{db}.{name}"), indexes, &options, false)
    }
}

/// Sorts by the keys of `sort` (1 ascending, -1 descending), numbers and strings only.
fn sort_by(documents: &mut [Document], sort: &Document) {
    documents.sort_by(|a, b| {
        for (key, direction) in sort {
            let order = filter::compare(a.get(key), b.get(key).unwrap_or(&Bson::Null))
                .unwrap_or(std::cmp::Ordering::Equal);
            // 1 ascending; -1 (not a count) descending.
            let descending = count_of(Some(direction)).is_none();
            let order = if descending { order.reverse() } else { order };
            if order != std::cmp::Ordering::Equal {
                return order;
            }
        }
        std::cmp::Ordering::Equal
    });
}

/// A non-negative count given as any BSON number.
fn count_of(value: Option<&Bson>) -> Option<usize> {
    match value? {
        Bson::Int32(n) => usize::try_from(*n).ok(),
        Bson::Int64(n) => usize::try_from(*n).ok(),
        Bson::Double(n) if *n >= 0.0 && n.fract() == 0.0 && *n < 1.0e15 => Some(*n as usize),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
