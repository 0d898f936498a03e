//! Deliberate cycles in small source trees written to a temporary folder.

use std::path::PathBuf;

use crate::{check_crate, CrateReport};

/// A source tree in a fresh temporary folder, removed when dropped.
struct SourceTree {
    root: PathBuf,
}

impl SourceTree {
    fn new(name: &str, files: &[(&str, &str)]) -> Self {
        let root =
            std::env::temp_dir().join(format!("import-cycles-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (path, text) in files {
            let file = root.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        SourceTree { root }
    }

    fn check(&self) -> CrateReport {
        check_crate(&self.root.join("lib.rs")).unwrap()
    }
}

impl Drop for SourceTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn cycle_files(report: &CrateReport) -> Vec<Vec<String>> {
    report
        .cycles
        .iter()
        .map(|cycle| cycle.files.clone())
        .collect()
}

#[test]
fn a_two_file_cycle_is_found() {
    let tree = SourceTree::new(
        "two",
        &[
            ("lib.rs", "mod a;\nmod b;\n"),
            ("a.rs", "use crate::b::B;\npub struct A(B);\n"),
            (
                "b.rs",
                "pub struct B;\nfn make() -> crate::a::A { todo!() }\n",
            ),
        ],
    );
    let report = tree.check();
    assert_eq!(cycle_files(&report), vec![vec!["a.rs", "b.rs"]]);
    let loop_files: Vec<&str> = report.cycles[0]
        .loop_path
        .iter()
        .map(|(file, _)| file.as_str())
        .collect();
    assert_eq!(loop_files, ["a.rs", "b.rs"]);
    assert_eq!(report.cycles[0].loop_path[1].1, "crate::a::A");
}

#[test]
fn a_three_file_cycle_through_super_and_grouped_uses_is_found() {
    let tree = SourceTree::new(
        "three",
        &[
            ("lib.rs", "mod layer;\n"),
            ("layer/mod.rs", "mod a;\nmod b;\nmod c;\n"),
            ("layer/a.rs", "use super::{b::{B, Other}};\npub struct A;\n"),
            (
                "layer/b.rs",
                "pub struct B; pub struct Other;\nfn f() { super::c::C::go(); }\n",
            ),
            (
                "layer/c.rs",
                "pub struct C;\nimpl C { fn go() { let _ = self::super::a::A; } }\n",
            ),
        ],
    );
    assert_eq!(
        cycle_files(&tree.check()),
        vec![vec!["layer/a.rs", "layer/b.rs", "layer/c.rs"]]
    );
}

#[test]
fn reexports_resolve_to_the_defining_file() {
    // `crate::Engine` is re-exported by lib.rs and `crate::net::Socket` by net/mod.rs: the
    // imports go to engine.rs and net/socket.rs, so lib.rs and net/mod.rs are in no cycle even
    // though lib.rs defines an error type everything uses.
    let tree = SourceTree::new(
        "reexports",
        &[
            (
                "lib.rs",
                "mod engine;\nmod net;\npub use engine::Engine;\npub use net::Socket;\npub struct Error;\n",
            ),
            ("engine.rs", "use crate::{Error, Socket};\npub struct Engine(Socket, Error);\n"),
            ("net/mod.rs", "mod socket;\npub use socket::*;\n"),
            ("net/socket.rs", "pub struct Socket;\nfn f(_: crate::Error) {}\n"),
        ],
    );
    let report = tree.check();
    assert!(report.cycles.is_empty(), "{report}");
    assert_eq!(report.imports, 3, "{report}");
}

#[test]
fn a_reexport_chain_that_loops_back_is_a_cycle() {
    // engine.rs uses `crate::Socket`, which lib.rs re-exports from net/socket.rs, which uses
    // `crate::net::Engine`, re-exported by net/mod.rs from engine.rs.
    let tree = SourceTree::new(
        "reexport-cycle",
        &[
            ("lib.rs", "mod engine;\nmod net;\npub use net::Socket;\n"),
            ("engine.rs", "pub struct Engine(crate::Socket);\n"),
            (
                "net/mod.rs",
                "mod socket;\npub use socket::Socket;\npub use crate::engine::Engine;\n",
            ),
            (
                "net/socket.rs",
                "pub struct Socket;\nfn f(_: crate::net::Engine) {}\n",
            ),
        ],
    );
    assert_eq!(
        cycle_files(&tree.check()),
        vec![vec!["engine.rs", "net/socket.rs"]]
    );
}

#[test]
fn a_test_child_using_its_parent_is_no_cycle_but_a_parent_naming_it_is() {
    let clean = SourceTree::new(
        "test-child",
        &[
            ("lib.rs", "mod pool;\n"),
            (
                "pool.rs",
                "pub struct Pool;\n#[cfg(test)]\nmod pool_tests;\n",
            ),
            (
                "pool/pool_tests.rs",
                "use super::*;\n#[test]\nfn t() { let _ = Pool; }\n",
            ),
        ],
    );
    assert!(clean.check().cycles.is_empty());
    let cyclic = SourceTree::new(
        "test-child-cycle",
        &[
            ("lib.rs", "mod pool;\n"),
            (
                "pool.rs",
                "pub struct Pool;\nmod helpers;\nfn f() { helpers::help(); }\n",
            ),
            (
                "pool/helpers.rs",
                "pub fn help() { let _ = super::Pool; }\n",
            ),
        ],
    );
    assert_eq!(
        cycle_files(&cyclic.check()),
        vec![vec!["pool.rs", "pool/helpers.rs"]]
    );
}

#[test]
fn module_imports_and_macro_paths_count() {
    // `use crate::b;` then `b::B` in code; `crate::a::A` inside a macro call.
    let tree = SourceTree::new(
        "module-import",
        &[
            ("lib.rs", "mod a;\nmod b;\n"),
            (
                "a.rs",
                "use crate::b;\npub struct A;\nfn f() { let _ = b::B; }\n",
            ),
            (
                "b.rs",
                "pub struct B;\nfn g() { assert!(matches!(x, crate::a::A)); }\n",
            ),
        ],
    );
    assert_eq!(cycle_files(&tree.check()), vec![vec!["a.rs", "b.rs"]]);
}

#[test]
fn a_clean_layered_tree_passes() {
    let tree = SourceTree::new(
        "clean",
        &[
            (
                "lib.rs",
                "pub mod low;\npub mod high;\npub use high::High;\n",
            ),
            ("low.rs", "pub struct Low;\n"),
            (
                "high.rs",
                "use crate::low::Low;\nuse std::fmt;\npub struct High(Low);\n",
            ),
        ],
    );
    let report = tree.check();
    assert!(report.cycles.is_empty(), "{report}");
    assert_eq!(report.files, 3);
    assert_eq!(report.imports, 1);
}
