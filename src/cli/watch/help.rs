//! `watch --help`'s text after the options: examples, the NDJSON fields, exit statuses.

/// The text clap prints after `watch`'s options.
pub(super) const WATCH_HELP: &str = "\
Examples:
  mongo-topology watch 'mongodb://db1:27017/?replicaSet=rs0'            interactive view
  mongo-topology watch --json --duration 60 \"$MONGODB_URI\" > events.ndjson
  mongo-topology watch --metrics-addr 127.0.0.1:9464 'mongodb://db1:27017/'
  mongo-topology watch --record incident.ndjson 'mongodb://db1:27017/?replicaSet=rs0'

Views: --json prints one JSON object per line (NDJSON); without it, a terminal gets the
interactive view (q or Ctrl-C quits) and anything else gets one plain text line per event.

NDJSON fields (every line): ts (RFC 3339, UTC, ms), elapsed_ms (since the watch started),
event. Then by event:
  topology_opening, topology_closed          (no other field)
  server_opening                             address
  server_closed                              address, reason {kind, message, evidence...}
  server_description_changed                 address, previous_type, new_type,
                                             error ({cause, message} or null), changes
                                             ([{field, from, to} | {field, added, removed}])
  topology_description_changed               previous_type, new_type, primary (or null)
  primary_changed                            from, to (address or null), after_election_ms,
                                             without_primary_ms
  heartbeat_failed                           address, duration_ms, awaited, error {cause, message}
  events_missed                              count: events not shown, because the watch
                                             fell behind the engine or stdout's reader
                                             fell behind the watch
after_election_ms: from the first successful check in which `to` reported itself primary
(isWritablePrimary, with its current electionId) to the topology change that shows it as
the primary; null when no such check was seen. without_primary_ms: from the change that
lost the previous primary to this one; null at first discovery or when `to` is null.

--record FILE: hello replies, failed checks, RTT samples, SRV answers and SDAM events, timed,
as NDJSON (docs/recording.md; never a password), rotated at --record-max-bytes (FILE.1 ...).
When the recording holds a failover, its timeline (mongo-topology timeline FILE) is printed
at the end (with --json: one last line, event `timeline`).

Metrics (--metrics-addr, GET /metrics): mongo_topology_server_up, _server_type,
_server_rtt_seconds, _server_heartbeat_failures_total {address, set};
mongo_topology_topology_type, _topology_has_primary, _topology_changes_total.

Exit status: 0 at the end of --duration, on q, or when stdout's reader has gone (`| head`);
130 on Ctrl-C (SIGINT); 143 on SIGTERM; 1 on a usage or connection string error; 2 when the
seed list cannot be resolved (a mongodb+srv lookup failed, or took longer than --timeout-ms).
These hold with a reader that stopped reading: output waits in a bounded queue (overflow is
counted as events_missed) and the exit waits for it at most 1 s. Colour only on a terminal
and never when NO_COLOR is set.";
