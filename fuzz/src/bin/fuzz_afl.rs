//! The AFL++ entry point: `FUZZ_TARGET=<wire|hello|uri|txt|scram> cargo afl fuzz ...`
//! (see `scripts/fuzz --afl`).

#![forbid(unsafe_code)]

use mongo_topology_fuzz::targets::Target;

fn main() {
    let name = std::env::var("FUZZ_TARGET").unwrap_or_default();
    let Some(target) = Target::from_name(&name) else {
        eprintln!("set FUZZ_TARGET to one of wire, hello, uri, txt, scram");
        std::process::exit(2);
    };
    afl::fuzz!(|data: &[u8]| {
        let _ = target.run(data);
    });
}
