//! The suite-independent part of the spec runner: finding files, counting, reporting.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The result of one spec case.
pub enum Outcome {
    /// The case passed.
    Passed,
    /// The case failed; the text says what differed.
    Failed(String),
    /// The case was not run; the text says why (every skip must have a written reason).
    Skipped(String),
}

/// One named case and its outcome.
pub struct Case {
    pub name: String,
    pub outcome: Outcome,
}

impl Case {
    pub fn new(name: impl Into<String>, outcome: Outcome) -> Self {
        Case {
            name: name.into(),
            outcome,
        }
    }

    /// A case whose check returned `Ok(())` passed; `Err(why)` failed.
    pub fn from_result(name: impl Into<String>, result: Result<(), String>) -> Self {
        Case::new(
            name,
            match result {
                Ok(()) => Outcome::Passed,
                Err(why) => Outcome::Failed(why),
            },
        )
    }
}

/// Runs every case of one JSON file: `path` is the file, `json` its parsed content.
pub type FileRunner = fn(path: &Path, json: &serde_json::Value) -> Vec<Case>;

/// A directory of JSON files (searched recursively) and the runner for each file in it.
pub struct Suite {
    pub dir: String,
    pub runner: FileRunner,
    /// How many of its files may run at once (1: one after the other).
    pub files_at_once: usize,
}

impl Suite {
    pub fn new(dir: impl Into<String>, runner: FileRunner) -> Self {
        Suite {
            dir: dir.into(),
            runner,
            files_at_once: 1,
        }
    }

    /// Runs up to `count` files at once: for suites whose files spend their time waiting
    /// (heartbeats, timeouts on simulated deployments) and share nothing (each file starts
    /// its own deployment and clients; captured logs are told apart by topology id).
    pub fn files_at_once(mut self, count: usize) -> Self {
        self.files_at_once = count.max(1);
        self
    }
}

fn specs_dir() -> PathBuf {
    match std::env::var_os("MONGO_SPECS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/specs"),
    }
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|entry| entry.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            json_files(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "json") {
            out.push(path);
        }
    }
    Ok(())
}

/// Runs the suites and prints the report; returns the process exit code.
pub fn run_all(suites: Vec<Suite>) -> i32 {
    let root = specs_dir();
    if !root.is_dir() {
        eprintln!(
            "spec: the specs directory {} does not exist.\n\
             Set MONGO_SPECS_DIR to a checkout of the MongoDB specifications' `source` \
             directory, or run scripts/fetch-specs to fetch it at the pinned commit.",
            root.display()
        );
        return 1;
    }
    let filter = std::env::var("SPEC_FILTER").unwrap_or_default();
    let (mut passed, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    let mut failures = Vec::new();
    let mut skips = Vec::new();
    let mut empty_suites = Vec::new();
    for suite in suites.iter().filter(|suite| suite.dir.contains(&filter)) {
        let dir = root.join(&suite.dir);
        if !dir.is_dir() {
            println!("spec {}: not found", suite.dir);
            continue;
        }
        let mut files = Vec::new();
        if let Err(error) = json_files(&dir, &mut files) {
            println!("spec {}: cannot read: {error}", suite.dir);
            failed += 1;
            continue;
        }
        let (mut p, mut f, mut s) = (0usize, 0usize, 0usize);
        for (file, cases) in files.iter().zip(run_files(suite, &files)) {
            let shown = file
                .strip_prefix(&root)
                .unwrap_or(file)
                .display()
                .to_string();
            for case in cases {
                match case.outcome {
                    Outcome::Passed => p += 1,
                    Outcome::Failed(why) => {
                        f += 1;
                        failures.push(format!(
                            "FAILED {shown} :: {}\n    {}",
                            case.name,
                            why.replace('\n', "\n    ")
                        ));
                    }
                    Outcome::Skipped(why) => {
                        s += 1;
                        skips.push(format!("skipped {shown} :: {}: {why}", case.name));
                    }
                }
            }
        }
        println!("spec {}: {p} passed, {f} failed, {s} skipped", suite.dir);
        if p + f + s == 0 {
            empty_suites.push(suite.dir.clone());
        }
        passed += p;
        failed += f;
        skipped += s;
    }
    for skip in &skips {
        println!("{skip}");
    }
    for failure in &failures {
        println!("{failure}");
    }
    for dir in &empty_suites {
        println!("FAILED spec {dir}: the directory exists but yielded no case");
    }
    println!("spec: {passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 || !empty_suites.is_empty() {
        1
    } else {
        0
    }
}

/// Every file's cases, in the order of `files`, running up to `suite.files_at_once` files
/// at a time.
fn run_files(suite: &Suite, files: &[PathBuf]) -> Vec<Vec<Case>> {
    let run_one = |file: &PathBuf| match std::fs::read_to_string(file)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
    {
        Ok(json) => (suite.runner)(file, &json),
        Err(error) => vec![Case::new(
            "(file)",
            Outcome::Failed(format!("cannot load: {error}")),
        )],
    };
    if suite.files_at_once <= 1 {
        return files.iter().map(run_one).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Vec<Case>>> =
        files.iter().map(|_| std::sync::Mutex::default()).collect();
    std::thread::scope(|scope| {
        for _ in 0..suite.files_at_once.min(files.len()) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(file) = files.get(index) else {
                    return;
                };
                let cases = run_one(file);
                *results[index].lock().unwrap_or_else(|p| p.into_inner()) = cases;
            });
        }
    });
    results
        .into_iter()
        .map(|cases| cases.into_inner().unwrap_or_else(|p| p.into_inner()))
        .collect()
}

/// The cases of a file whose cases form a `"tests"` array, each named by its
/// `"description"` (or its position): `run` decides each one's outcome. A file without the
/// array is one failed case.
pub fn run_described_tests(json: &Value, mut run: impl FnMut(String, &Value) -> Case) -> Vec<Case> {
    let Some(tests) = json.get("tests").and_then(Value::as_array) else {
        return vec![Case::from_result(
            "(file)",
            Err("no \"tests\" array".to_string()),
        )];
    };
    tests
        .iter()
        .enumerate()
        .map(|(i, test)| {
            let name = test
                .get("description")
                .and_then(Value::as_str)
                .map_or_else(|| format!("test {i}"), str::to_string);
            run(name, test)
        })
        .collect()
}
