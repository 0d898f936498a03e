//! A file-level import graph of a Rust crate, and its cycles.
//!
//! Nodes are the crate's source files. File A imports file B when code in A names an item
//! path (`use crate::a::B`, grouped `use crate::{a, b::{c, d}}`, `super::x`, `self::x`, a
//! child module's `child::x`, or an inline path such as `crate::a::B::new()` in code or in
//! a macro's tokens) that resolves to an item defined in B. Paths are resolved through
//! `use` re-exports to the file that defines the item, so `crate::Cluster` re-exported by
//! `lib.rs` points at the file defining `Cluster`, not at `lib.rs`. When a path cannot be
//! resolved to an item, it points at the longest module prefix that exists.
//!
//! What is not an import: declaring a module (`mod x;`), and a `pub use` re-export (a facade
//! for users of the module, not a dependency of its file). So a `x_tests.rs` child module
//! using its parent is no cycle unless the parent names something of the test file.
//!
//! A cycle is a strongly connected component of more than one file; each is reported with
//! one concrete loop and the path that makes each of its imports.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod collect;
mod graph;
mod modules;
mod report;
mod resolve;

#[cfg(test)]
mod tests;

pub use report::{check_crate, CrateReport, Cycle, LoadError};
