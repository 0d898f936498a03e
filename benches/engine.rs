//! The live engine's performance against the targets of issues 7 and 8, on the simulator:
//! discovery, failover (streaming and polling), 1,000 (and 10,000) servers, selection; and
//! commands: an insert reaching the new primary after a failover, the first ping from a
//! cold start, commands per second through one pool.
//!
//! `cargo bench --bench engine -- [--quick] [SCENARIO...]` prints the machine, then per
//! scenario the median, min and max over the repetitions and the median's ratio to its
//! target, as a Markdown table. Scenarios: `discovery`, `failover-streaming`,
//! `failover-polling`, `scale`, `selection`, `failover-insert`, `first-ping`,
//! `command-throughput`, or `commands` for the last three (default: all). Under
//! `cargo test --benches` (no `--bench` argument) only the quick `discovery` runs, as a
//! smoke test.

#![forbid(unsafe_code)]

#[path = "engine/command_throughput.rs"]
mod command_throughput;
#[path = "engine/discovery.rs"]
mod discovery;
#[path = "engine/failover.rs"]
mod failover;
#[path = "engine/failover_insert.rs"]
mod failover_insert;
#[path = "engine/first_ping.rs"]
mod first_ping;
#[path = "engine/metrics_overhead.rs"]
mod metrics_overhead;
#[path = "engine/report.rs"]
mod report;
#[path = "engine/scale.rs"]
mod scale;
#[path = "engine/selection.rs"]
mod selection;
#[path = "engine/support.rs"]
mod support;

use std::process::ExitCode;

use report::Row;

/// The scenarios, in the order of the table.
const SCENARIOS: [&str; 9] = [
    "discovery",
    "failover-streaming",
    "failover-polling",
    "scale",
    "selection",
    "failover-insert",
    "first-ping",
    "command-throughput",
    "metrics-overhead",
];

/// The scenarios of the command path (issue 8), also named together as `commands`.
const COMMAND_SCENARIOS: [&str; 3] = ["failover-insert", "first-ping", "command-throughput"];

/// Parsed command line.
pub struct Options {
    /// Fewer repetitions and shorter windows.
    pub quick: bool,
    scenarios: Vec<&'static str>,
    /// Run by `cargo bench` (which passes `--bench`) rather than by `cargo test`.
    benchmarking: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        quick: false,
        scenarios: Vec::new(),
        benchmarking: false,
    };
    for arg in args {
        match arg.as_str() {
            "--bench" => options.benchmarking = true,
            "--quick" => options.quick = true,
            flag if flag.starts_with('-') => eprintln!("ignoring the option {flag}"),
            "commands" => options.scenarios.extend(COMMAND_SCENARIOS),
            name => match SCENARIOS.iter().find(|known| **known == name) {
                Some(known) => options.scenarios.push(known),
                None => {
                    return Err(format!(
                        "unknown scenario {name:?}; the scenarios are {} (or commands)",
                        SCENARIOS.join(", ")
                    ))
                }
            },
        }
    }
    // Each scenario once (`commands` may overlap scenarios also named alone).
    options
        .scenarios
        .sort_by_key(|name| SCENARIOS.iter().position(|known| known == name));
    options.scenarios.dedup();
    if !options.benchmarking {
        // `cargo test --benches`: a quick smoke run of the cheapest scenario.
        options.quick = true;
        options.scenarios = vec!["discovery"];
    } else if options.scenarios.is_empty() {
        options.scenarios = SCENARIOS.to_vec();
    }
    Ok(options)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    print_header(&args);
    // Scale first: its memory figure is this process's, best measured before the other
    // scenarios have grown the allocator's heap.
    let mut order = options.scenarios.clone();
    order.sort_by_key(|name| *name != "scale");
    let mut results: Vec<(&str, Vec<Row>)> = Vec::new();
    for name in order {
        eprintln!("running {name}...");
        let rows = match name {
            "discovery" => discovery::run(&options),
            "failover-streaming" => vec![failover::streaming(&options)],
            "failover-polling" => vec![failover::polling(&options)],
            "scale" => scale::run(&options),
            "failover-insert" => failover_insert::run(&options),
            "first-ping" => first_ping::run(&options),
            "command-throughput" => command_throughput::run(&options),
            "metrics-overhead" => metrics_overhead::run(&options),
            _ => selection::run(&options),
        };
        results.push((name, rows));
    }
    results.sort_by_key(|(name, _)| SCENARIOS.iter().position(|known| known == name));
    let rows: Vec<Row> = results.into_iter().flat_map(|(_, rows)| rows).collect();
    println!("{}", report::markdown(&rows));
    ExitCode::SUCCESS
}

/// The machine, the date and the command.
fn print_header(args: &[String]) {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split(':').nth(1))
                .map(|model| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M:%S UTC"])
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map_or_else(|| "unknown date".to_owned(), |date| date.trim().to_owned());
    let user_args: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|arg| *arg != "--bench")
        .collect();
    let command = if args.iter().any(|arg| arg == "--bench") {
        if user_args.is_empty() {
            "cargo bench --bench engine".to_owned()
        } else {
            format!("cargo bench --bench engine -- {}", user_args.join(" "))
        }
    } else {
        "cargo test --benches (smoke run: quick discovery only)".to_owned()
    };
    println!("# mongo-topology engine bench\n");
    println!("- machine: {cores} CPU(s), {cpu}");
    println!("- date: {date}");
    println!("- command: `{command}`");
    println!(
        "- build: {}\n",
        if cfg!(debug_assertions) {
            "debug (cargo test)"
        } else {
            "release (cargo bench)"
        }
    );
}
