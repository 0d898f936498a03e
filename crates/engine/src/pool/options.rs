//! The pool's options (CMAP "Connection Pool Options") and the combinations it refuses.

use std::time::Duration;

use crate::options::ConnectionString;

/// `maxPoolSize` default.
pub const DEFAULT_MAX_POOL_SIZE: u32 = 100;

/// `maxConnecting` default.
pub const DEFAULT_MAX_CONNECTING: u32 = 2;

/// The options of one connection pool; every pool of a cluster has the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolOptions {
    /// `maxPoolSize`: the most connections (pending, available and in use) the pool may
    /// hold; 0 means no limit. Default 100.
    pub max_pool_size: u32,
    /// `minPoolSize`: the pool keeps at least this many connections while it is ready,
    /// establishing them in the background. Default 0.
    pub min_pool_size: u32,
    /// `maxIdleTimeMS`: an available connection unused for this long is closed; `None` means
    /// no limit (the connection string's 0).
    pub max_idle_time: Option<Duration>,
    /// `maxConnecting`: the most connections being established at once. Default 2; never 0.
    pub max_connecting: u32,
    /// `waitQueueTimeoutMS`: how long a check-out may wait for a connection; `None` means no
    /// limit (the connection string's 0).
    pub wait_queue_timeout: Option<Duration>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_pool_size: DEFAULT_MAX_POOL_SIZE,
            min_pool_size: 0,
            max_idle_time: None,
            max_connecting: DEFAULT_MAX_CONNECTING,
            wait_queue_timeout: None,
        }
    }
}

/// A combination of pool options CMAP forbids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PoolOptionsError {
    /// `minPoolSize` above a non-zero `maxPoolSize`.
    #[error("minPoolSize ({min_pool_size}) must not exceed maxPoolSize ({max_pool_size})")]
    MinAboveMax {
        /// The `minPoolSize` given.
        min_pool_size: u32,
        /// The `maxPoolSize` given.
        max_pool_size: u32,
    },
    /// `maxConnecting` of 0: no connection could ever be established.
    #[error("maxConnecting must be greater than 0")]
    ZeroMaxConnecting,
}

impl PoolOptions {
    /// The options a parsed connection string asks for; options it does not set keep their
    /// defaults. Not validated: call [`PoolOptions::validate`].
    pub fn from_connection_string(uri: &ConnectionString) -> Self {
        let defaults = PoolOptions::default();
        let no_limit_if_zero = |limit: Duration| Some(limit).filter(|limit| !limit.is_zero());
        PoolOptions {
            max_pool_size: uri.max_pool_size().unwrap_or(defaults.max_pool_size),
            min_pool_size: uri.min_pool_size().unwrap_or(defaults.min_pool_size),
            max_idle_time: uri.max_idle_time().and_then(no_limit_if_zero),
            max_connecting: uri.max_connecting().unwrap_or(defaults.max_connecting),
            wait_queue_timeout: uri.wait_queue_timeout().and_then(no_limit_if_zero),
        }
    }

    /// Checks `minPoolSize <= maxPoolSize` (when `maxPoolSize` is not 0) and `maxConnecting
    /// > 0`.
    pub fn validate(&self) -> Result<(), PoolOptionsError> {
        if self.max_pool_size != 0 && self.min_pool_size > self.max_pool_size {
            return Err(PoolOptionsError::MinAboveMax {
                min_pool_size: self.min_pool_size,
                max_pool_size: self.max_pool_size,
            });
        }
        if self.max_connecting == 0 {
            return Err(PoolOptionsError::ZeroMaxConnecting);
        }
        Ok(())
    }

    /// Whether `total` connections leave room for one more under `maxPoolSize`.
    pub fn has_room_for_another(&self, total: usize) -> bool {
        self.max_pool_size == 0 || total < self.max_pool_size as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(uri: &str) -> PoolOptions {
        PoolOptions::from_connection_string(&ConnectionString::parse(uri).unwrap())
    }

    #[test]
    fn defaults_follow_the_spec() {
        let options = parse("mongodb://a");
        assert_eq!(options, PoolOptions::default());
        assert_eq!(options.max_pool_size, 100);
        assert_eq!(options.max_connecting, 2);
        assert!(options.validate().is_ok());
    }

    #[test]
    fn connection_string_sets_every_option_and_zero_means_no_limit() {
        let options = parse(
            "mongodb://a/?maxPoolSize=7&minPoolSize=3&maxIdleTimeMS=1500&maxConnecting=4\
             &waitQueueTimeoutMS=250",
        );
        assert_eq!(
            options,
            PoolOptions {
                max_pool_size: 7,
                min_pool_size: 3,
                max_idle_time: Some(Duration::from_millis(1500)),
                max_connecting: 4,
                wait_queue_timeout: Some(Duration::from_millis(250)),
            }
        );
        let unlimited = parse("mongodb://a/?maxIdleTimeMS=0&waitQueueTimeoutMS=0&maxPoolSize=0");
        assert_eq!(unlimited.max_idle_time, None);
        assert_eq!(unlimited.wait_queue_timeout, None);
        assert!(unlimited.has_room_for_another(1_000_000));
    }

    #[test]
    fn min_pool_size_must_not_exceed_a_non_zero_max() {
        let too_many = parse("mongodb://a/?maxPoolSize=2&minPoolSize=3");
        assert_eq!(
            too_many.validate(),
            Err(PoolOptionsError::MinAboveMax {
                min_pool_size: 3,
                max_pool_size: 2
            })
        );
        assert!(parse("mongodb://a/?maxPoolSize=0&minPoolSize=3")
            .validate()
            .is_ok());
        assert!(parse("mongodb://a/?maxPoolSize=3&minPoolSize=3")
            .validate()
            .is_ok());
    }

    #[test]
    fn zero_max_connecting_is_refused() {
        let options = PoolOptions {
            max_connecting: 0,
            ..PoolOptions::default()
        };
        assert_eq!(options.validate(), Err(PoolOptionsError::ZeroMaxConnecting));
    }
}

#[cfg(test)]
mod cluster_settings_tests {
    use crate::settings::cluster_settings::{ClusterSettings, ClusterSettingsError};

    use super::*;

    #[test]
    fn cluster_settings_carry_the_pool_options_of_the_connection_string() {
        let settings = ClusterSettings::parse("mongodb://a/?maxPoolSize=5&minPoolSize=2").unwrap();
        assert_eq!(settings.pool.max_pool_size, 5);
        assert_eq!(settings.pool.min_pool_size, 2);
    }

    #[test]
    fn cluster_settings_refuse_min_pool_size_above_max_pool_size() {
        let uri = ConnectionString::parse("mongodb://a/?maxPoolSize=1&minPoolSize=2").unwrap();
        assert_eq!(
            ClusterSettings::from_connection_string(&uri),
            Err(ClusterSettingsError::Pool(PoolOptionsError::MinAboveMax {
                min_pool_size: 2,
                max_pool_size: 1
            }))
        );
    }
}
