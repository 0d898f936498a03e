#![forbid(unsafe_code)]
//! The `mongo-topology` command-line tool.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
