//! A mutation fuzzer for mongo-topology's decoders that runs on stable Rust: it mutates a
//! seed corpus of real messages (`fuzz/corpus/<target>/`, plus the connection strings of
//! the spec tests read at run time) and feeds every mutant to its target, catching panics.
//! See `scripts/fuzz`.

#![forbid(unsafe_code)]

pub mod corpus;
pub mod mutate;
pub mod run;
pub mod targets;
