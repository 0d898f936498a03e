//! Server selection, pure: read preferences, tag sets, max staleness, the latency window.
