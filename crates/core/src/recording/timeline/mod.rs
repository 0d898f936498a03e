//! The failover timeline of a recording: each incident (the client lost its primary) and its
//! stages — last good check of the old primary → first failed check or step-down report →
//! old primary Unknown / secondary → no primary → new primary reports itself → client view
//! shows it → first server selectable for writes — each with its duration, the setting that
//! bounds it (read from the recording's header) and what to change to shorten it; plus, for
//! pictures, one lane per server with its types over time and its failed checks.
//!
//! Everything here is the client's view as recorded: server types are those of the client's
//! SDAM events, times are the records' `t_us`.

mod found;
mod lanes;
mod model;
mod stages;
#[cfg(test)]
mod tests;

use crate::recording::read::Recording;

pub use model::{
    human_duration, Bound, FailedCheckMark, Incident, Lane, Stage, StageKind, Timeline, TypeSpan,
};

/// Finds the incidents and the lanes of a recording.
pub fn analyse(recording: &Recording) -> Timeline {
    Timeline {
        settings: recording.settings.clone(),
        started_wall_us: recording.started_wall_us,
        end_us: recording.end_us(),
        lanes: lanes::lanes(recording),
        incidents: stages::incidents(recording),
    }
}
