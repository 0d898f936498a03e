//! `import-cycles ROOT_FILE...`: for each crate root file (`lib.rs` or `main.rs`), builds the
//! import graph between the crate's source files and prints every cycle. Exits 1 when a cycle
//! is found, 2 when a file cannot be read or parsed.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let roots: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if roots.is_empty() {
        eprintln!("usage: import-cycles ROOT_FILE... (a crate's lib.rs or main.rs)");
        return ExitCode::from(2);
    }
    let mut cycles_found = false;
    for root in &roots {
        match import_cycles::check_crate(root) {
            Ok(report) => {
                print!("{report}");
                cycles_found |= !report.cycles.is_empty();
            }
            Err(error) => {
                eprintln!("{}: {error}", root.display());
                return ExitCode::from(2);
            }
        }
    }
    if cycles_found {
        eprintln!("import cycles found: break them");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
