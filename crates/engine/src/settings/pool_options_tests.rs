//! The pool options as [`ClusterSettings`] carry them (the options themselves are tested in
//! the core).

use super::{ClusterSettings, ClusterSettingsError};

use mongo_topology_core::options::ConnectionString;

use crate::pool::PoolOptionsError;

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
