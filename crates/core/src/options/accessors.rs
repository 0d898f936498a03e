//! Typed accessors for what a [`ConnectionString`] holds. An option that was not given (or
//! whose value was invalid and ignored) reads as `None`; the defaults belong to the specs
//! that use each option and are applied by that code.

use std::time::Duration;

use super::catalog;
use super::{
    AuthMechanismProperties, ConnectionString, Credential, OptionValue, Secret, TagSet, UriWarning,
};
use crate::address::ServerAddress;

impl ConnectionString {
    /// Every option that was set, in order of first appearance, under its canonical name
    /// from the URI Options spec (e.g. `replicaSet`, `tls` for `ssl`).
    pub fn options(&self) -> impl Iterator<Item = (&'static str, &OptionValue)> {
        self.options.iter().map(|(name, value)| (*name, value))
    }

    /// The value of an option, by canonical name or alias, case-insensitively.
    pub fn option(&self, name: &str) -> Option<&OptionValue> {
        let spec = catalog::lookup(name)?;
        self.options
            .iter()
            .find(|(set, _)| *set == spec.name)
            .map(|(_, value)| value)
    }

    /// What was ignored while parsing (unknown options, invalid values, repeated keys).
    pub fn warnings(&self) -> &[UriWarning] {
        &self.warnings
    }

    fn bool_option(&self, name: &str) -> Option<bool> {
        match self.option(name)? {
            OptionValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    fn int_option(&self, name: &str) -> Option<i64> {
        match self.option(name)? {
            OptionValue::Int(n) => Some(*n),
            _ => None,
        }
    }

    fn u32_option(&self, name: &str) -> Option<u32> {
        self.int_option(name).and_then(|n| u32::try_from(n).ok())
    }

    fn millis_option(&self, name: &str) -> Option<Duration> {
        self.int_option(name)
            .and_then(|n| u64::try_from(n).ok())
            .map(Duration::from_millis)
    }

    fn str_option(&self, name: &str) -> Option<&str> {
        match self.option(name)? {
            OptionValue::String(s) => Some(s),
            _ => None,
        }
    }

    fn secret_option(&self, name: &str) -> Option<&Secret> {
        match self.option(name)? {
            OptionValue::Secret(s) => Some(s),
            _ => None,
        }
    }

    // --- Hosts and credentials -------------------------------------------------------

    /// The seed list, in the order given. Empty for `mongodb+srv`, whose seeds come from
    /// DNS (see [`ConnectionString::srv_hostname`]).
    pub fn hosts(&self) -> &[ServerAddress] {
        &self.hosts
    }

    /// Whether the scheme is `mongodb+srv`.
    pub fn is_srv(&self) -> bool {
        self.srv_hostname.is_some()
    }

    /// The host name to look up SRV and TXT records for (`mongodb+srv` only), lower case.
    pub fn srv_hostname(&self) -> Option<&str> {
        self.srv_hostname.as_deref()
    }

    /// The auth database / default database from the path, percent-decoded.
    pub fn default_database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// The credential, when a username or an `authMechanism` is given. The auth database
    /// alone is not a request for authentication (Connection String spec, "Auth Database").
    pub fn credential(&self) -> Option<Credential> {
        let mechanism = self.auth_mechanism().map(str::to_string);
        if self.username.is_none() && mechanism.is_none() {
            return None;
        }
        Some(Credential {
            username: self.username.clone(),
            password: self.password.clone(),
            source: self
                .str_option("authSource")
                .or(self.database.as_deref())
                .map(str::to_string),
            mechanism,
            mechanism_properties: self
                .auth_mechanism_properties()
                .cloned()
                .unwrap_or_default(),
        })
    }

    /// `authMechanism`.
    pub fn auth_mechanism(&self) -> Option<&str> {
        self.str_option("authMechanism")
    }

    /// `authMechanismProperties`.
    pub fn auth_mechanism_properties(&self) -> Option<&AuthMechanismProperties> {
        match self.option("authMechanismProperties")? {
            OptionValue::Properties(p) => Some(p),
            _ => None,
        }
    }

    /// `authSource`, as given (no default applied).
    pub fn auth_source(&self) -> Option<&str> {
        self.str_option("authSource")
    }

    // --- Topology (used by discovery and selection) ------------------------------------

    /// `replicaSet`.
    pub fn replica_set(&self) -> Option<&str> {
        self.str_option("replicaSet")
    }

    /// `directConnection`; `None` when not given (SDAM chooses the initial topology type).
    pub fn direct_connection(&self) -> Option<bool> {
        self.bool_option("directConnection")
    }

    /// `loadBalanced`.
    pub fn load_balanced(&self) -> Option<bool> {
        self.bool_option("loadBalanced")
    }

    /// `heartbeatFrequencyMS` (at least 500 ms).
    pub fn heartbeat_frequency(&self) -> Option<Duration> {
        self.millis_option("heartbeatFrequencyMS")
    }

    /// `localThresholdMS`.
    pub fn local_threshold(&self) -> Option<Duration> {
        self.millis_option("localThresholdMS")
    }

    /// `serverSelectionTimeoutMS`.
    pub fn server_selection_timeout(&self) -> Option<Duration> {
        self.millis_option("serverSelectionTimeoutMS")
    }

    /// `serverSelectionTryOnce`.
    pub fn server_selection_try_once(&self) -> Option<bool> {
        self.bool_option("serverSelectionTryOnce")
    }

    /// `serverMonitoringMode`: "stream", "poll" or "auto".
    pub fn server_monitoring_mode(&self) -> Option<&str> {
        self.str_option("serverMonitoringMode")
    }

    /// `readPreference`, the mode as given (e.g. "primaryPreferred").
    pub fn read_preference(&self) -> Option<&str> {
        self.str_option("readPreference")
    }

    /// `readPreferenceTags`: the tag sets in the order given; empty when none.
    pub fn read_preference_tags(&self) -> &[TagSet] {
        match self.option("readPreferenceTags") {
            Some(OptionValue::TagSets(sets)) => sets,
            _ => &[],
        }
    }

    /// `maxStalenessSeconds`; `None` when absent or -1 ("no maximum staleness").
    pub fn max_staleness_seconds(&self) -> Option<u32> {
        self.u32_option("maxStalenessSeconds")
    }

    /// `srvMaxHosts` (0 means no limit).
    pub fn srv_max_hosts(&self) -> Option<u32> {
        self.u32_option("srvMaxHosts")
    }

    /// `srvServiceName` as given; the SRV lookup uses "mongodb" when it is `None`.
    pub fn srv_service_name(&self) -> Option<&str> {
        self.str_option("srvServiceName")
    }

    // --- Connections and pools ---------------------------------------------------------

    /// `appname`.
    pub fn app_name(&self) -> Option<&str> {
        self.str_option("appname")
    }

    /// `connectTimeoutMS`; zero means no timeout.
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.millis_option("connectTimeoutMS")
    }

    /// `socketTimeoutMS`; zero means no timeout.
    pub fn socket_timeout(&self) -> Option<Duration> {
        self.millis_option("socketTimeoutMS")
    }

    /// `timeoutMS`; zero means no timeout.
    pub fn timeout(&self) -> Option<Duration> {
        self.millis_option("timeoutMS")
    }

    /// `maxPoolSize`; zero means no maximum.
    pub fn max_pool_size(&self) -> Option<u32> {
        self.u32_option("maxPoolSize")
    }

    /// `minPoolSize`.
    pub fn min_pool_size(&self) -> Option<u32> {
        self.u32_option("minPoolSize")
    }

    /// `maxConnecting`.
    pub fn max_connecting(&self) -> Option<u32> {
        self.u32_option("maxConnecting")
    }

    /// `maxIdleTimeMS`; zero means no limit.
    pub fn max_idle_time(&self) -> Option<Duration> {
        self.millis_option("maxIdleTimeMS")
    }

    /// `waitQueueTimeoutMS`.
    pub fn wait_queue_timeout(&self) -> Option<Duration> {
        self.millis_option("waitQueueTimeoutMS")
    }

    /// `compressors`, in order of preference.
    pub fn compressors(&self) -> Option<&[String]> {
        match self.option("compressors")? {
            OptionValue::List(list) => Some(list),
            _ => None,
        }
    }

    /// `zlibCompressionLevel` (-1 to 9).
    pub fn zlib_compression_level(&self) -> Option<i32> {
        self.int_option("zlibCompressionLevel")
            .and_then(|n| i32::try_from(n).ok())
    }

    // --- TLS ---------------------------------------------------------------------------

    /// Whether TLS is required: `tls` (or `ssl`) when given, otherwise true for
    /// `mongodb+srv` and false for `mongodb`.
    pub fn tls(&self) -> bool {
        self.bool_option("tls").unwrap_or(self.is_srv())
    }

    /// `tlsInsecure`.
    pub fn tls_insecure(&self) -> Option<bool> {
        self.bool_option("tlsInsecure")
    }

    /// `tlsAllowInvalidCertificates`.
    pub fn tls_allow_invalid_certificates(&self) -> Option<bool> {
        self.bool_option("tlsAllowInvalidCertificates")
    }

    /// `tlsAllowInvalidHostnames`.
    pub fn tls_allow_invalid_hostnames(&self) -> Option<bool> {
        self.bool_option("tlsAllowInvalidHostnames")
    }

    /// `tlsCAFile`.
    pub fn tls_ca_file(&self) -> Option<&str> {
        self.str_option("tlsCAFile")
    }

    /// `tlsCertificateKeyFile`.
    pub fn tls_certificate_key_file(&self) -> Option<&str> {
        self.str_option("tlsCertificateKeyFile")
    }

    /// `tlsCertificateKeyFilePassword`.
    pub fn tls_certificate_key_file_password(&self) -> Option<&Secret> {
        self.secret_option("tlsCertificateKeyFilePassword")
    }

    /// `tlsDisableOCSPEndpointCheck`.
    pub fn tls_disable_ocsp_endpoint_check(&self) -> Option<bool> {
        self.bool_option("tlsDisableOCSPEndpointCheck")
    }

    /// `tlsDisableCertificateRevocationCheck`.
    pub fn tls_disable_certificate_revocation_check(&self) -> Option<bool> {
        self.bool_option("tlsDisableCertificateRevocationCheck")
    }

    // --- Proxy -------------------------------------------------------------------------

    /// `proxyHost`.
    pub fn proxy_host(&self) -> Option<&str> {
        self.str_option("proxyHost")
    }

    /// `proxyPort`.
    pub fn proxy_port(&self) -> Option<u16> {
        self.int_option("proxyPort")
            .and_then(|n| u16::try_from(n).ok())
    }

    /// `proxyUsername`.
    pub fn proxy_username(&self) -> Option<&str> {
        self.str_option("proxyUsername")
    }

    /// `proxyPassword`.
    pub fn proxy_password(&self) -> Option<&Secret> {
        self.secret_option("proxyPassword")
    }

    // --- Operations --------------------------------------------------------------------

    /// `w`, a number or a string such as "majority".
    pub fn w(&self) -> Option<&OptionValue> {
        self.option("w")
    }

    /// `wTimeoutMS`.
    pub fn w_timeout(&self) -> Option<Duration> {
        self.millis_option("wTimeoutMS")
    }

    /// `journal`.
    pub fn journal(&self) -> Option<bool> {
        self.bool_option("journal")
    }

    /// `readConcernLevel`.
    pub fn read_concern_level(&self) -> Option<&str> {
        self.str_option("readConcernLevel")
    }

    /// `retryReads`.
    pub fn retry_reads(&self) -> Option<bool> {
        self.bool_option("retryReads")
    }

    /// `retryWrites`.
    pub fn retry_writes(&self) -> Option<bool> {
        self.bool_option("retryWrites")
    }

    /// `maxAdaptiveRetries`.
    pub fn max_adaptive_retries(&self) -> Option<u32> {
        self.u32_option("maxAdaptiveRetries")
    }

    /// `enableOverloadRetargeting`.
    pub fn enable_overload_retargeting(&self) -> Option<bool> {
        self.bool_option("enableOverloadRetargeting")
    }
}
