//! Mutations of real messages: byte-level (flips, interesting values, insertions, deletions,
//! duplications, splices with another input, length-field tweaks) and BSON-aware ones
//! (change a value's type, drop or duplicate a key, huge or deeply nested values) applied
//! to the document inside a wire message or to a hello reply, re-encoded so that the
//! mutation reaches past the length checks.

use bson::{Bson, Document};
use mongo_topology_core::wire::{decode_message, encode_message, Payload};
use rand::rngs::SmallRng;
use rand::{Rng, RngCore};

use crate::targets::Target;

/// Inputs larger than this are cut back (keeps one execution cheap).
pub const MAX_INPUT_LEN: usize = 1 << 20;

const INTERESTING_I32: [i32; 12] = [
    0,
    -1,
    1,
    16,
    17,
    i32::MAX,
    i32::MIN,
    48_000_000,
    48_000_001,
    16 * 1024 * 1024,
    16 * 1024 * 1024 + 1,
    0x7fff,
];

/// Produces a mutant of `input` for `target`; `other` is another corpus entry for splices.
pub fn mutate(rng: &mut SmallRng, target: Target, input: &[u8], other: &[u8]) -> Vec<u8> {
    let bson_aware = matches!(target, Target::Wire | Target::Hello) && rng.random_bool(0.5);
    let mut data = if bson_aware {
        bson_mutation(rng, target, input).unwrap_or_else(|| input.to_vec())
    } else {
        input.to_vec()
    };
    // A BSON-aware mutant stays valid BSON most of the time, to reach the parser behind.
    let rounds = if bson_aware && rng.random_bool(0.8) {
        0
    } else {
        1 + rng.random_range(0..4)
    };
    for _ in 0..rounds {
        byte_mutation(rng, &mut data, other);
    }
    data.truncate(MAX_INPUT_LEN);
    data
}

fn byte_mutation(rng: &mut SmallRng, data: &mut Vec<u8>, other: &[u8]) {
    let len = data.len();
    match rng.random_range(0..10) {
        0 if len > 0 => {
            let i = rng.random_range(0..len);
            data[i] ^= 1 << rng.random_range(0..8);
        }
        1 if len > 0 => {
            let i = rng.random_range(0..len);
            data[i] = *pick(rng, &[0u8, 0xff, 0x7f, 0x80, b',', b'=', b'%', b'/', 0x02]);
        }
        2 => {
            let i = rng.random_range(0..=len);
            let n = rng.random_range(1..16);
            let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            data.splice(i..i, bytes);
        }
        3 if len > 0 => {
            let i = rng.random_range(0..len);
            let n = rng.random_range(1..=(len - i).min(64));
            data.drain(i..i + n);
        }
        4 if len > 0 => {
            // Duplicate a range in place.
            let i = rng.random_range(0..len);
            let n = rng.random_range(1..=(len - i).min(256));
            let copy = data[i..i + n].to_vec();
            let at = rng.random_range(0..=len);
            data.splice(at..at, copy);
        }
        5 if !other.is_empty() => {
            // Splice: a prefix of this input and a suffix of the other.
            let cut = rng.random_range(0..=len);
            let from = rng.random_range(0..other.len());
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        }
        6 if len >= 4 => {
            // Overwrite an i32 (a length field, most often the first) with an
            // interesting value or a small change.
            let i = if rng.random_bool(0.5) {
                0
            } else {
                rng.random_range(0..=len - 4)
            };
            let old = i32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
            let new = if rng.random_bool(0.5) {
                *pick(rng, &INTERESTING_I32)
            } else {
                old.wrapping_add(rng.random_range(-4..=4))
            };
            data[i..i + 4].copy_from_slice(&new.to_le_bytes());
        }
        7 if len > 0 => {
            data.truncate(rng.random_range(0..len));
        }
        8 => {
            // Fix the outer length to the real size (lets inner mutations through).
            if let Ok(n) = i32::try_from(len) {
                if len >= 4 {
                    data[..4].copy_from_slice(&n.to_le_bytes());
                }
            }
        }
        _ => {
            let i = rng.random_range(0..=len);
            data.insert(i, rng.random());
        }
    }
}

/// A BSON-aware mutation of the document in `input` (a whole document for hello, the OP_MSG
/// body for wire), re-encoded.
fn bson_mutation(rng: &mut SmallRng, target: Target, input: &[u8]) -> Option<Vec<u8>> {
    match target {
        Target::Hello => {
            let doc = Document::from_reader(input).ok()?;
            mutate_document(rng, doc)
        }
        Target::Wire => {
            let mut message = decode_message(input).ok()?;
            let Payload::Msg(ref mut msg) = message.payload else {
                return None;
            };
            let body = std::mem::take(&mut msg.body);
            let raw = mutate_document(rng, body)?;
            // Most of the time keep the body valid BSON (so the mutation reaches the
            // sections); otherwise splice the raw (perhaps duplicate-keyed) bytes in.
            match Document::from_reader(raw.as_slice()) {
                Ok(body) => {
                    msg.body = body;
                    encode_message(&message).ok()
                }
                Err(_) => None,
            }
        }
        _ => None,
    }
}

fn mutate_document(rng: &mut SmallRng, mut doc: Document) -> Option<Vec<u8>> {
    let keys: Vec<String> = doc.keys().cloned().collect();
    if keys.is_empty() {
        doc.insert("ok", 1.0);
        return doc.to_vec().ok();
    }
    let key = pick(rng, &keys).clone();
    match rng.random_range(0..40) {
        0..=5 => {
            doc.remove(&key);
        }
        6..=15 => {
            let value = interesting_value(rng);
            doc.insert(key, value);
        }
        16..=20 => {
            // Duplicate the key (a Document cannot hold it twice: build raw bytes).
            let mut bytes = doc.to_vec().ok()?;
            let mut extra = Document::new();
            extra.insert(key, interesting_value(rng));
            let extra = extra.to_vec().ok()?;
            bytes.pop();
            bytes.extend_from_slice(&extra[4..]);
            let len = i32::try_from(bytes.len()).ok()?;
            bytes[..4].copy_from_slice(&len.to_le_bytes());
            return Some(bytes);
        }
        21 => {
            // A huge array (rare: costly) of the first element (or of host names).
            let element = match doc.get(&key) {
                Some(Bson::Array(items)) if !items.is_empty() => items[0].clone(),
                _ => Bson::String("h:27017".into()),
            };
            let n = *pick(rng, &[1000usize, 1001, 5000]);
            let items: Vec<Bson> = (0..n)
                .map(|i| match &element {
                    Bson::String(s) => Bson::String(format!("{s}{i}")),
                    other => other.clone(),
                })
                .collect();
            doc.insert(key, items);
        }
        22 => {
            // Deep nesting.
            let depth = *pick(rng, &[50usize, 99, 100, 101, 200]);
            let mut value = Bson::Int32(1);
            for _ in 0..depth {
                value = Bson::Document(bson::doc! { "a": value });
            }
            doc.insert(key, value);
        }
        23..=31 => {
            // Recurse into a nested document or array element.
            match doc.get(&key).cloned() {
                Some(Bson::Document(inner)) => {
                    let bytes = mutate_document(rng, inner)?;
                    let inner = Document::from_reader(bytes.as_slice()).ok()?;
                    doc.insert(key, inner);
                }
                Some(Bson::Array(mut items)) if !items.is_empty() => {
                    let i = rng.random_range(0..items.len());
                    items[i] = interesting_value(rng);
                    doc.insert(key, items);
                }
                _ => {
                    doc.insert(key, interesting_value(rng));
                }
            }
        }
        _ => {
            // Add a known field with a strange value.
            let field = *pick(
                rng,
                &[
                    "hosts",
                    "passives",
                    "arbiters",
                    "setName",
                    "primary",
                    "me",
                    "electionId",
                    "setVersion",
                    "topologyVersion",
                    "maxWireVersion",
                    "minWireVersion",
                    "msg",
                    "tags",
                    "lastWrite",
                    "logicalSessionTimeoutMinutes",
                    "ok",
                    "code",
                    "isWritablePrimary",
                    "ismaster",
                    "secondary",
                    "arbiterOnly",
                    "hidden",
                    "maxBsonObjectSize",
                    "maxMessageSizeBytes",
                    "compression",
                    "helloOk",
                ],
            );
            doc.insert(field, interesting_value(rng));
        }
    }
    doc.to_vec().ok()
}

fn interesting_value(rng: &mut SmallRng) -> Bson {
    match rng.random_range(0..16) {
        0 => Bson::Int32(*pick(rng, &INTERESTING_I32)),
        1 => Bson::Int64(*pick(rng, &[i64::MAX, i64::MIN, -1, 0, 1 << 53])),
        2 => Bson::Double(*pick(
            rng,
            &[f64::NAN, f64::INFINITY, -0.0, 1e300, 0.5, 1.0],
        )),
        3 => Bson::String(String::new()),
        4 => Bson::String("h:0".into()),
        5 => Bson::String("[::1]:99999".into()),
        6 => Bson::String("x".repeat(rng.random_range(1..2_000))),
        7 => Bson::Boolean(rng.random()),
        8 => Bson::Null,
        9 => Bson::Array(vec![Bson::String("a:1".into()), Bson::Int32(3), Bson::Null]),
        10 => {
            Bson::Document(bson::doc! { "processId": bson::oid::ObjectId::new(), "counter": -1i64 })
        }
        11 => Bson::ObjectId(bson::oid::ObjectId::from_bytes([0xff; 12])),
        12 => Bson::DateTime(bson::DateTime::from_millis(*pick(
            rng,
            &[i64::MIN, i64::MAX, 0],
        ))),
        13 => Bson::Timestamp(bson::Timestamp {
            time: u32::MAX,
            increment: u32::MAX,
        }),
        14 => Bson::Document(Document::new()),
        _ => Bson::String(String::from_utf8_lossy(&[rng.next_u32() as u8; 3]).into_owned()),
    }
}

fn pick<'a, T>(rng: &mut SmallRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}
