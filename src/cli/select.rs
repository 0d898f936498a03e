//! The `select` command: discovery as `discover` runs it, then which server a read
//! preference would choose and, for every other server, why not.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use mongo_topology::selection::{
    explain_selection, ReadPreference, ReadPreferenceMode, Reason, SelectionCriteria, TagSet,
};

use super::discover::{discover, failure, usage_error, Target};
use super::untrusted::{display_untrusted, CELL_CHARS, LINE_CHARS};

const EXAMPLES: &str = "\
Examples:
  mongo-topology select 'mongodb://db1.example.net/?replicaSet=rs0' --read-preference secondary
  mongo-topology select \"$MONGODB_URI\" --read-preference nearest --tag dc:ny,rack:1 --tag ''
  mongo-topology select --read-preference secondaryPreferred --max-staleness 120

Each --tag is one tag set (k:v pairs, comma separated), tried in order; '' matches any server.
Exit status: 0 when a server is suitable, 2 when none is, 1 on a usage or connection string
error, 130 on Ctrl-C. Output has no colour.";

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
    let discovery = match discover(&args.target) {
        Ok(discovery) => discovery,
        Err(error) => return failure(error),
    };
    let mut settings = discovery.settings.selection();
    if let Some(ms) = args.local_threshold_ms {
        settings.local_threshold = Duration::from_millis(ms);
    }
    let criteria = SelectionCriteria::read(read_preference);
    let explanation = explain_selection(&discovery.topology, &criteria, &settings, &[]);
    let uri = discovery.uri.to_string();
    println!("connection string: {}", display_untrusted(&uri, LINE_CHARS));
    if !discovery.complete {
        println!(
            "discovery timed out after {} ms with servers not yet checked",
            discovery.elapsed.as_millis()
        );
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
    if explanation.has_selectable_server() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
