//! The mutation fuzzer: `fuzz-mutate [--target NAME]... [--executions N] [--seconds S]
//! [--seed N] [--corpus DIR] [--crashes DIR]`. Prints one line per target (seeds,
//! executions, crashes, rate) and exits 1 when any input crashed.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::time::Duration;

use mongo_topology_fuzz::corpus;
use mongo_topology_fuzz::run::run;
use mongo_topology_fuzz::targets::Target;

struct Args {
    targets: Vec<Target>,
    executions: u64,
    seconds: u64,
    seed: u64,
    corpus: PathBuf,
    crashes: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut args = Args {
        targets: Vec::new(),
        executions: 100_000,
        seconds: 3600,
        seed: 1,
        corpus: here.join("corpus"),
        crashes: here.join("crashes"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--target" => {
                let name = value()?;
                let target =
                    Target::from_name(&name).ok_or_else(|| format!("unknown target {name}"))?;
                args.targets.push(target);
            }
            "--executions" => args.executions = value()?.parse().map_err(|e| format!("{e}"))?,
            "--seconds" => args.seconds = value()?.parse().map_err(|e| format!("{e}"))?,
            "--seed" => args.seed = value()?.parse().map_err(|e| format!("{e}"))?,
            "--corpus" => args.corpus = value()?.into(),
            "--crashes" => args.crashes = value()?.into(),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.targets.is_empty() {
        args.targets = Target::ALL.to_vec();
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("fuzz-mutate: {e}");
            std::process::exit(2);
        }
    };
    // Caught panics are counted and saved; their messages would only flood the output.
    std::panic::set_hook(Box::new(|info| {
        if std::env::var_os("FUZZ_VERBOSE").is_some() {
            eprintln!("{info}");
        }
    }));
    let specs = std::env::var_os("MONGO_SPECS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/specs"));
    let mut total_crashes = 0;
    for target in &args.targets {
        let seeds = corpus::load(&args.corpus, Some(&specs), *target);
        let report = run(
            *target,
            &seeds,
            args.executions,
            Duration::from_secs(args.seconds),
            args.seed,
            &args.crashes,
        );
        let rate = report.executions as f64 / report.elapsed.as_secs_f64().max(1e-9);
        println!(
            "fuzz {:<6} seeds {:>4}  executions {:>11}  accepted {:>10}  crashes {:>3}  {:>7.1} s  {:>9.0} exec/s",
            target.name(),
            report.seeds,
            report.executions,
            report.accepted,
            report.crashes,
            report.elapsed.as_secs_f64(),
            rate
        );
        for path in &report.saved {
            println!("  crash saved: {}", path.display());
        }
        total_crashes += report.crashes;
    }
    if total_crashes > 0 {
        std::process::exit(1);
    }
}
