//! `watch --record FILE`: the watched cluster records what it receives (the engine's
//! flight recorder, `docs/recording.md`).

use std::path::PathBuf;

use clap::Args;
use mongo_topology::{
    Cluster, ClusterSettings, EventSubscriber, RecordingSettings, DEFAULT_RECORDING_KEEP_FILES,
    DEFAULT_RECORDING_MAX_BYTES,
};

use crate::cli::timeline::{live_timeline, timeline_json, timeline_text};
use crate::cli::untrusted::{display_untrusted, LINE_CHARS};

/// The recording options of `watch`.
#[derive(Debug, Args)]
pub(crate) struct RecordArgs {
    /// Record what the client receives (hello replies, failed checks, RTT samples, SRV
    /// answers, SDAM events) to FILE as NDJSON (docs/recording.md). Never the password.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Rotate the recording when it would grow past this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_RECORDING_MAX_BYTES,
          value_parser = clap::value_parser!(u64).range(1..))]
    record_max_bytes: u64,
    /// How many recording files to keep, the current one included (FILE, FILE.1, ...).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_RECORDING_KEEP_FILES as u16,
          value_parser = clap::value_parser!(u16).range(1..))]
    record_keep: u16,
}

impl RecordArgs {
    /// Starts the watched cluster, recording when `--record` asks for it. `uri` is the
    /// connection string as shown (its secrets are redacted again by the recorder).
    pub(crate) fn start_cluster(
        &self,
        settings: ClusterSettings,
        uri: &str,
    ) -> Result<(Cluster, EventSubscriber), String> {
        let started = match &self.record {
            Some(path) => {
                let mut recording = RecordingSettings::new(path);
                recording.max_bytes = self.record_max_bytes;
                recording.keep_files = usize::from(self.record_keep);
                recording.connection_string = Some(uri.to_owned());
                Cluster::with_events_and_recording(settings, &recording)
            }
            None => Cluster::with_events(settings),
        };
        started.map_err(|error| display_untrusted(&error.to_string(), LINE_CHARS).into_owned())
    }
}

impl RecordArgs {
    /// The failover timeline of the recording, shown at the end of the watch: the text's
    /// lines, or one JSON line (`{"event":"timeline","timeline":{...}}`) for `--json`;
    /// nothing when not recording or when the recording holds no incident.
    pub(crate) fn final_timeline(&self, json: bool) -> Vec<String> {
        let Some(path) = &self.record else {
            return Vec::new();
        };
        let Some(timeline) = live_timeline(path) else {
            return Vec::new();
        };
        if json {
            let line =
                serde_json::json!({"event": "timeline", "timeline": timeline_json(&timeline)});
            vec![line.to_string()]
        } else {
            std::iter::once(String::new())
                .chain(timeline_text(&timeline).lines().map(str::to_owned))
                .collect()
        }
    }
}
