//! The `select` command: discovery as `discover` runs it, then which server a read
//! preference would choose and, for every other server, why not.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use mongo_topology::selection::{
    explain_selection, ReadPreference, ReadPreferenceMode, Reason, SelectionCriteria,
    SelectionExplanation, TagSet,
};

use super::discover::{discover, failure, usage_error, ProofRequest, Target};
use super::discovery::Discovery;
use super::proof::{self, Intent};
use super::untrusted::{display_untrusted, CELL_CHARS, LINE_CHARS};

const EXAMPLES: &str = "\
Examples:
  mongo-topology select 'mongodb://db1.example.net/?replicaSet=rs0' --read-preference secondary
  mongo-topology select \"$MONGODB_URI\" --read-preference nearest --tag dc:ny,rack:1 --tag ''
  mongo-topology select --read-preference secondaryPreferred --max-staleness 120
  mongo-topology select \"$MONGODB_URI\" --read-preference primary --json

Each --tag is one tag set (k:v pairs, comma separated), tried in order; '' matches any server.
After the explanation come the verdicts, proven as an application would (a pool connection
with the full handshake and authentication, ping; for the write, a server that reports itself
writable): `read (…): proven …` or `read (…): FAILS (cause) …`, the same for `write`.
Exit status: 0 when a server is suitable and the read with this read preference is proven,
2 when none is or the proof fails (the write verdict is shown, not counted), 1 on a usage or
connection string error, 130 on Ctrl-C. Output has no colour.";

/// `mongo-topology select`.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct SelectArgs {
    #[command(flatten)]
    target: Target,
    /// primary, primaryPreferred, secondary, secondaryPreferred or nearest.
    #[arg(long, value_name = "MODE")]
    read_preference: String,
    /// A tag set, as k:v pairs separated by commas; repeat for fallbacks.
    #[arg(long = "tag", value_name = "K:V,...")]
    tags: Vec<String>,
    /// maxStalenessSeconds.
    #[arg(long, value_name = "SECONDS")]
    max_staleness: Option<u64>,
    /// localThresholdMS (default: the connection string's, else 15).
    #[arg(long, value_name = "MS")]
    local_threshold_ms: Option<u64>,
    /// Print one JSON object instead of the text.
    #[arg(long)]
    json: bool,
}

/// Parses one `--tag` value: `dc:ny,rack:1`, or empty for the tag set that matches any server.
fn parse_tag_set(text: &str) -> Result<TagSet, String> {
    let mut tag_set = TagSet::new();
    for pair in text.split(',').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair
            .split_once(':')
            .ok_or_else(|| format!("--tag {text:?}: expected key:value pairs"))?;
        tag_set.insert(key.to_string(), value.to_string());
    }
    Ok(tag_set)
}

fn read_preference(args: &SelectArgs) -> Result<ReadPreference, String> {
    let mode: ReadPreferenceMode = args
        .read_preference
        .parse()
        .map_err(|error| format!("{error}"))?;
    let tag_sets = args
        .tags
        .iter()
        .map(|text| parse_tag_set(text))
        .collect::<Result<Vec<_>, _>>()?;
    let max_staleness = args.max_staleness.map(Duration::from_secs);
    ReadPreference::new(mode, tag_sets, max_staleness).map_err(|error| error.to_string())
}

/// Runs `select`.
pub fn run(args: SelectArgs) -> ExitCode {
    let read_preference = match read_preference(&args) {
        Ok(read_preference) => read_preference,
        Err(message) => return usage_error(&message),
    };
    let request = ProofRequest {
        read_preference: Some(read_preference.clone()),
        local_threshold: args.local_threshold_ms.map(Duration::from_millis),
    };
    let discovery = match discover(&args.target, &request) {
        Ok(discovery) => discovery,
        Err(error) => return failure(error),
    };
    let settings = discovery.settings.selection();
    let criteria = SelectionCriteria::read(read_preference);
    let explanation = explain_selection(&discovery.topology, &criteria, &settings, &[]);
    if args.json {
        println!("{}", json(&discovery, &explanation));
    } else {
        print_text(&discovery, &explanation);
    }
    let read_proven = discovery
        .verdicts
        .iter()
        .any(|verdict| matches!(verdict.intent, Intent::Read(_)) && verdict.passed);
    if explanation.has_selectable_server() && read_proven {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

/// The plain-text output: the connection string, the choice, the explanation, the verdicts.
fn print_text(discovery: &Discovery, explanation: &SelectionExplanation) {
    let uri = discovery.uri.to_string();
    println!("connection string: {}", display_untrusted(&uri, LINE_CHARS));
    if !discovery.complete {
        let text = discovery.timed_out_text();
        println!("discovery {}", display_untrusted(&text, LINE_CHARS));
    }
    let window: Vec<String> = explanation
        .servers
        .iter()
        .filter(|verdict| verdict.reason == Reason::InLatencyWindow)
        .map(|verdict| {
            let address = verdict.address.to_string();
            let address = display_untrusted(&address, CELL_CHARS);
            format!("{address} ({})", verdict.server_type)
        })
        .collect();
    match window.as_slice() {
        [] => println!("would choose: none"),
        [only] => println!("would choose: {only}"),
        several => println!(
            "would choose one of (all in the latency window; the less busy of two random \
             picks): {}",
            several.join(", ")
        ),
    }
    // The explanation's Display is its header, then one line per server; server text (error
    // messages, tags) may hold newlines, so each part is shown through `display_untrusted`.
    let verdicts: Vec<String> = explanation
        .servers
        .iter()
        .map(ToString::to_string)
        .collect();
    let tail: String = verdicts.iter().map(|line| format!("\n  {line}")).collect();
    let full = explanation.to_string();
    let header = full.strip_suffix(&tail).unwrap_or(&full);
    println!("{}", display_untrusted(header, LINE_CHARS));
    for verdict in &verdicts {
        println!("  {}", display_untrusted(verdict, LINE_CHARS));
    }
    for verdict in &discovery.verdicts {
        for line in proof::text(verdict) {
            println!("{}", display_untrusted(&line, LINE_CHARS));
        }
    }
}

/// The same content as [`print_text`], as one JSON object: `connection_string`, `complete`,
/// `elapsed_ms`, `criteria`, `topology_type`, `would_choose` (the latency window),
/// `servers` (each with `address`, `type`, `suitable` and `why`), `verdicts` (read, write)
/// and `selectable`.
fn json(discovery: &Discovery, explanation: &SelectionExplanation) -> serde_json::Value {
    let window: Vec<String> = explanation
        .servers
        .iter()
        .filter(|verdict| verdict.reason == Reason::InLatencyWindow)
        .map(|verdict| verdict.address.to_string())
        .collect();
    serde_json::json!({
        "connection_string": discovery.uri.to_string(),
        "complete": discovery.complete,
        "not_yet_checked": discovery
            .unchecked_servers()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        "elapsed_ms": u64::try_from(discovery.elapsed.as_millis()).unwrap_or(u64::MAX),
        "criteria": explanation.criteria,
        "topology_type": explanation.topology_type.to_string(),
        "topology_problem": explanation.topology_problem.as_ref().map(ToString::to_string),
        "would_choose": window,
        "servers": explanation.servers.iter().map(|verdict| serde_json::json!({
            "address": verdict.address.to_string(),
            "type": verdict.server_type.to_string(),
            "suitable": verdict.reason == Reason::InLatencyWindow,
            "why": verdict.reason.to_string(),
        })).collect::<Vec<_>>(),
        "verdicts": discovery.verdicts.iter().map(proof::json).collect::<Vec<_>>(),
        "selectable": explanation.has_selectable_server(),
    })
}
