//! [`ClusterSettings`]: everything the live engine needs, in one value, built from a
//! connection string ([`ClusterSettings::from_connection_string`]) or field by field, and its
//! resolution ([`ClusterSettings::parse`], and [`ClusterSettings::resolve`] which looks a
//! `mongodb+srv://` seed list up in DNS first).
//!
//! Defaults follow the specifications: heartbeatFrequencyMS 10 s and its 500 ms minimum
//! (SDAM "heartbeatFrequencyMS", "minHeartbeatFrequencyMS"), connectTimeoutMS 10 s,
//! serverSelectionTimeoutMS 30 s, localThresholdMS 15 ms, serverMonitoringMode `auto`.

pub(crate) mod cluster_settings;
pub(crate) mod resolution;

pub use cluster_settings::{
    ClusterSettings, ClusterSettingsError, ServerMonitoringMode, SrvSettings,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_SERVER_SELECTION_TIMEOUT, MIN_HEARTBEAT_FREQUENCY,
};
pub use resolution::resolve_srv;

#[cfg(test)]
mod pool_options_tests;
