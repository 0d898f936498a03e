#![forbid(unsafe_code)]
//! The `mongo-topology` command-line tool.

fn main() {
    println!("mongo-topology {}", env!("CARGO_PKG_VERSION"));
    println!("usage: mongo-topology <command>  (commands arrive with the CLI issue)");
}
