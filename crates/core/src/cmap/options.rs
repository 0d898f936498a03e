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
    /// The options as the user gave them (empty for options built in code): what
    /// `ConnectionPoolCreated` reports, with any other option that differs from its default.
    pub given: GivenPoolOptions,
}

/// The pool options the user wrote, exactly as written (a 0 stays 0); `None` for an option
/// not given. CMAP: `PoolCreatedEvent.options` holds "any non-default pool options that were
/// set", and maxIdleTimeMS "only if the user specified a value".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GivenPoolOptions {
    /// `maxPoolSize`, if given.
    pub max_pool_size: Option<u32>,
    /// `minPoolSize`, if given.
    pub min_pool_size: Option<u32>,
    /// `maxIdleTimeMS`, if given (0 means no limit).
    pub max_idle_time: Option<Duration>,
    /// `maxConnecting`, if given.
    pub max_connecting: Option<u32>,
    /// `waitQueueTimeoutMS`, if given (0 means no limit).
    pub wait_queue_timeout: Option<Duration>,
}

impl GivenPoolOptions {
    /// The pool options a parsed connection string gives.
    pub fn from_connection_string(uri: &ConnectionString) -> Self {
        GivenPoolOptions {
            max_pool_size: uri.max_pool_size(),
            min_pool_size: uri.min_pool_size(),
            max_idle_time: uri.max_idle_time(),
            max_connecting: uri.max_connecting(),
            wait_queue_timeout: uri.wait_queue_timeout(),
        }
    }

    /// The options these make: the ones given, the defaults for the others; a zero
    /// `maxIdleTimeMS` or `waitQueueTimeoutMS` means no limit. Not validated: call
    /// [`PoolOptions::validate`].
    pub fn resolve(&self) -> PoolOptions {
        let defaults = PoolOptions::default();
        let no_limit_if_zero = |limit: Duration| Some(limit).filter(|limit| !limit.is_zero());
        PoolOptions {
            max_pool_size: self.max_pool_size.unwrap_or(defaults.max_pool_size),
            min_pool_size: self.min_pool_size.unwrap_or(defaults.min_pool_size),
            max_idle_time: self.max_idle_time.and_then(no_limit_if_zero),
            max_connecting: self.max_connecting.unwrap_or(defaults.max_connecting),
            wait_queue_timeout: self.wait_queue_timeout.and_then(no_limit_if_zero),
            given: self.clone(),
        }
    }
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_pool_size: DEFAULT_MAX_POOL_SIZE,
            min_pool_size: 0,
            max_idle_time: None,
            max_connecting: DEFAULT_MAX_CONNECTING,
            wait_queue_timeout: None,
            given: GivenPoolOptions::default(),
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
        GivenPoolOptions::from_connection_string(uri).resolve()
    }

    /// The options `ConnectionPoolCreated` reports: each one the user gave, as given, and
    /// each other one whose value differs from its default (set in code).
    pub fn reported(&self) -> GivenPoolOptions {
        let defaults = PoolOptions::default();
        let given = &self.given;
        fn unless_default<T: PartialEq>(value: T, default: T) -> Option<T> {
            (value != default).then_some(value)
        }
        GivenPoolOptions {
            max_pool_size: given
                .max_pool_size
                .or(unless_default(self.max_pool_size, defaults.max_pool_size)),
            min_pool_size: given
                .min_pool_size
                .or(unless_default(self.min_pool_size, defaults.min_pool_size)),
            max_idle_time: given.max_idle_time.or(self.max_idle_time),
            max_connecting: given
                .max_connecting
                .or(unless_default(self.max_connecting, defaults.max_connecting)),
            wait_queue_timeout: given.wait_queue_timeout.or(self.wait_queue_timeout),
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
                given: GivenPoolOptions {
                    max_pool_size: Some(7),
                    min_pool_size: Some(3),
                    max_idle_time: Some(Duration::from_millis(1500)),
                    max_connecting: Some(4),
                    wait_queue_timeout: Some(Duration::from_millis(250)),
                },
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
    fn pool_created_reports_the_options_as_given_and_only_those() {
        let options = parse("mongodb://a/?maxPoolSize=50&minPoolSize=5&maxIdleTimeMS=100");
        assert_eq!(
            options.reported(),
            GivenPoolOptions {
                max_pool_size: Some(50),
                min_pool_size: Some(5),
                max_idle_time: Some(Duration::from_millis(100)),
                max_connecting: None,
                wait_queue_timeout: None,
            }
        );
        assert_eq!(parse("mongodb://a").reported(), GivenPoolOptions::default());
        // A zero (no limit) is reported as the user wrote it.
        let unlimited = parse("mongodb://a/?maxIdleTimeMS=0");
        assert_eq!(unlimited.max_idle_time, None);
        assert_eq!(unlimited.reported().max_idle_time, Some(Duration::ZERO));
        // Options set in code are reported when they differ from the default.
        let in_code = PoolOptions {
            max_pool_size: 7,
            max_idle_time: Some(Duration::from_secs(1)),
            ..PoolOptions::default()
        };
        assert_eq!(in_code.reported().max_pool_size, Some(7));
        assert_eq!(
            in_code.reported().max_idle_time,
            Some(Duration::from_secs(1))
        );
        assert_eq!(in_code.reported().min_pool_size, None);
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
