//! The binary's exit status, as scripts/test sees it: 0 on a clean crate, 1 on a cycle.

use std::path::PathBuf;
use std::process::Command;

fn tree(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let root =
        std::env::temp_dir().join(format!("import-cycles-exit-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (path, text) in files {
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    root
}

fn run(root: &PathBuf) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_import-cycles"))
        .arg(root.join("lib.rs"))
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(root);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn a_cycle_fails_with_status_1_and_prints_the_loop() {
    let root = tree(
        "cycle",
        &[
            ("lib.rs", "mod a;\nmod b;\n"),
            ("a.rs", "pub struct A(crate::b::B);\n"),
            ("b.rs", "pub struct B;\nfn f(_: &crate::a::A) {}\n"),
        ],
    );
    let (status, stdout) = run(&root);
    assert_eq!(status, Some(1), "{stdout}");
    assert!(
        stdout.contains("a.rs --[crate::b::B]--> b.rs --[crate::a::A]--> a.rs"),
        "{stdout}"
    );
}

#[test]
fn a_clean_crate_passes_with_status_0() {
    let root = tree(
        "clean",
        &[
            ("lib.rs", "mod a;\nmod b;\n"),
            ("a.rs", "pub struct A(crate::b::B);\n"),
            ("b.rs", "pub struct B;\n"),
        ],
    );
    let (status, stdout) = run(&root);
    assert_eq!(status, Some(0), "{stdout}");
    assert!(stdout.contains("0 import cycle(s)"), "{stdout}");
}

#[test]
fn a_missing_module_file_fails_with_status_2() {
    let root = tree("missing", &[("lib.rs", "mod absent;\n")]);
    let (status, _) = run(&root);
    assert_eq!(status, Some(2));
}
