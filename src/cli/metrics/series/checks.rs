//! The heartbeat histogram of a deployment's servers: which checks are timed. An awaited,
//! streaming check lasts as long as the server waits for news, which measures nothing about
//! its health (the RTT gauge covers streaming servers), so only polled servers, and servers
//! whose checks fail, have one.

use std::time::Duration;

use mongo_topology::ServerAddress;

use super::{DeploymentSeries, State};

impl DeploymentSeries {
    /// Times one successful check of `address`, if the server is polled. A server's first
    /// check is not awaited whether it then streams or not: it is held back, and timed with
    /// the next non-awaited check, or dropped when an awaited one shows that the server
    /// streams (twelve series holding one handshake forever would tell nothing).
    pub fn heartbeat(&self, address: &ServerAddress, duration: Duration, awaited: bool) {
        let Some(mut state) = self.state() else {
            return;
        };
        if awaited {
            state.held_first_checks.remove(address);
            return;
        }
        if !state.timed.contains(address) && !state.held_first_checks.contains_key(address) {
            state.held_first_checks.insert(address.clone(), duration);
            return;
        }
        self.time_check(&mut state, address, duration);
    }

    /// Counts one failed check of `address` and, unless it was awaited, times it (with a
    /// first check held back): a server whose checks fail has a histogram, streaming or not.
    pub fn heartbeat_failed(&self, address: &ServerAddress, duration: Duration, awaited: bool) {
        let Some(mut state) = self.state() else {
            return;
        };
        if !awaited {
            self.time_check(&mut state, address, duration);
        }
        let labels = self.server_labels(address, &state.set);
        self.families
            .heartbeat_failures
            .get_or_create(&labels)
            .inc();
    }

    /// Observes `duration` in the histogram of `address`, after the check held back.
    fn time_check(&self, state: &mut State, address: &ServerAddress, duration: Duration) {
        let labels = self.server_labels(address, &state.set);
        let histogram = self.families.heartbeat_duration.get_or_create(&labels);
        if let Some(first) = state.held_first_checks.remove(address) {
            histogram.observe(first.as_secs_f64());
        }
        histogram.observe(duration.as_secs_f64());
        drop(histogram);
        if state.timed.insert(address.clone()) && !state.durations.contains(address) {
            state.durations.push(address.clone());
        }
    }
}
