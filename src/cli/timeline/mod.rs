//! `mongo-topology timeline FILE`: the failovers of a recording (`watch --record`), each
//! with its stages, their durations, the setting that bounds each and what to change to
//! shorten it — as text, as JSON (`--json`), and as a picture (`--svg OUT`, `--html OUT`).
//! The analysis is the core's (`mongo_topology::recording::timeline`); this module reads
//! the file and renders. Also used live at the end of `watch --record` and of `demo`.

mod json;
mod svg;
mod text;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use mongo_topology::recording::{analyse, Recording, Timeline};

use crate::cli::untrusted::{display_untrusted, LINE_CHARS};

pub(crate) use json::timeline_json;
pub(crate) use text::timeline_text;

/// The largest recording file read (a rotated part is 64 MiB by default).
const MAX_RECORDING_BYTES: u64 = 512 * 1024 * 1024;

/// Shown after the options in `timeline --help`.
const TIMELINE_HELP: &str = "\
Examples:
  mongo-topology watch --record incident.ndjson mongodb://db1,db2/?replicaSet=rs0
  mongo-topology timeline incident.ndjson                 the stages of each failover
  mongo-topology timeline incident.ndjson --json          the same as one JSON document
  mongo-topology timeline incident.ndjson --svg t.svg     a picture: one lane per server
  mongo-topology timeline incident.ndjson --html t.html   the picture and the text in a page

Reading a timeline: docs/timeline.md. Exit 0 when the recording was read (with or without
incidents), 1 when it could not be read or the picture not written.";

/// Options of the `timeline` command.
#[derive(Debug, Args)]
#[command(after_help = TIMELINE_HELP)]
pub struct TimelineArgs {
    /// The recording (one file of it: `FILE`, or a rotated part `FILE.1` ...).
    file: PathBuf,
    /// Print the timeline as one JSON document instead of text.
    #[arg(long)]
    json: bool,
    /// Also write the picture as a self-contained SVG file.
    #[arg(long, value_name = "OUT", conflicts_with = "html")]
    svg: Option<PathBuf>,
    /// Also write an HTML page with the picture and the text.
    #[arg(long, value_name = "OUT")]
    html: Option<PathBuf>,
}

/// Runs `timeline`: exit 0 when the recording was read and everything asked was written.
pub fn run(args: TimelineArgs) -> ExitCode {
    let timeline = match read_timeline(&args.file) {
        Ok(timeline) => timeline,
        Err(message) => {
            eprintln!("error: {}", display_untrusted(&message, LINE_CHARS));
            return ExitCode::FAILURE;
        }
    };
    if args.json {
        println!("{}", timeline_json(&timeline));
    } else {
        print!("{}", timeline_text(&timeline));
    }
    let picture = match (&args.svg, &args.html) {
        (Some(path), _) => Some((path, svg::svg(&timeline))),
        (None, Some(path)) => Some((path, svg::html(&timeline))),
        (None, None) => None,
    };
    if let Some((path, document)) = picture {
        if let Err(e) = std::fs::write(path, document) {
            let message = format!("cannot write {}: {e}", path.display());
            eprintln!("error: {}", display_untrusted(&message, LINE_CHARS));
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// The timeline of the recording at `path`, or why it cannot be read (in words).
pub(crate) fn read_timeline(path: &Path) -> Result<Timeline, String> {
    let name = path.display();
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    if !metadata.is_file() {
        return Err(format!("{name} is not a regular file"));
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_RECORDING_BYTES).read_to_string(&mut text))
        .map_err(|e| format!("cannot read {name}: {e}"))?;
    let recording = Recording::parse(&text).map_err(|e| format!("{name}: {e}"))?;
    Ok(analyse(&recording))
}

/// The timeline shown live at the end of `watch --record` and `demo`, read once the
/// cluster has closed (`Cluster::close` returns after the recording is flushed): its
/// timeline when it holds an incident (`None` otherwise or when it cannot be read).
pub(crate) fn live_timeline(path: &Path) -> Option<Timeline> {
    read_timeline(path)
        .ok()
        .filter(|timeline| !timeline.incidents.is_empty())
}
