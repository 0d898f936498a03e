//! What the PyMongo interoperability tests share: which Python runs them, and whether
//! PyMongo can be imported there (required under CI or MONGO_TOPOLOGY_REQUIRE_PYMONGO=1;
//! otherwise a missing PyMongo skips the test with a printed reason).

use std::path::PathBuf;

/// `MONGO_TOPOLOGY_PYTHON`, else the interpreter scripts/test installs PyMongo into
/// (`target/pyenv`), else `python3`.
pub fn python() -> String {
    if let Ok(python) = std::env::var("MONGO_TOPOLOGY_PYTHON") {
        return python;
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pyenv/bin/python");
    if local.exists() {
        return local.display().to_string();
    }
    "python3".to_owned()
}

/// Whether PyMongo can be used; panics when it is required but missing.
pub fn pymongo_available() -> bool {
    let probe = std::process::Command::new(python())
        .args(["-c", "import pymongo; print(pymongo.version)"])
        .output();
    let ok = matches!(&probe, Ok(out) if out.status.success());
    if ok {
        return true;
    }
    let required = std::env::var("MONGO_TOPOLOGY_REQUIRE_PYMONGO").is_ok_and(|v| v == "1")
        || std::env::var_os("CI").is_some();
    let why = match probe {
        Ok(out) => String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("no output")
            .to_owned(),
        Err(e) => e.to_string(),
    };
    assert!(
        !required,
        "PyMongo is required (MONGO_TOPOLOGY_REQUIRE_PYMONGO=1 or CI) but `{} -c 'import pymongo'` failed: {why}",
        python()
    );
    eprintln!(
        "SKIPPED: PyMongo is not importable with {} ({why}); run scripts/test to install it",
        python()
    );
    false
}
