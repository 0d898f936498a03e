//! One lane per server: its types over time (the client's SDAM events) and its failed checks.

use crate::recording::read::{RecordedEvent, Recording};
use crate::recording::timeline::model::{FailedCheckMark, Lane, TypeSpan};

/// A lane being built: the type it has had since when.
struct Building {
    lane: Lane,
    current: Option<(u64, String)>,
}

impl Building {
    fn close(&mut self, at_us: u64) {
        if let Some((from_us, server_type)) = self.current.take() {
            self.lane.spans.push(TypeSpan {
                from_us,
                to_us: at_us,
                server_type,
            });
        }
    }
}

/// The lane of `address`, added when it has none yet.
fn lane_of<'a>(building: &'a mut Vec<Building>, address: &str) -> &'a mut Building {
    let index = match building.iter().position(|b| b.lane.address == address) {
        Some(index) => index,
        None => {
            building.push(Building {
                lane: Lane {
                    address: address.to_owned(),
                    spans: Vec::new(),
                    failed_checks: Vec::new(),
                },
                current: None,
            });
            building.len() - 1
        }
    };
    &mut building[index]
}

pub(super) fn lanes(recording: &Recording) -> Vec<Lane> {
    let mut building: Vec<Building> = Vec::new();
    for line in &recording.lines {
        let at = line.t_us;
        match &line.event {
            RecordedEvent::ServerOpening { address } => {
                let lane = lane_of(&mut building, address);
                lane.close(at);
                lane.current = Some((at, "Unknown".to_owned()));
            }
            RecordedEvent::ServerChanged {
                address, new_type, ..
            } => {
                let lane = lane_of(&mut building, address);
                lane.close(at);
                lane.current = Some((at, new_type.clone()));
            }
            RecordedEvent::ServerClosed { address } => {
                let lane = lane_of(&mut building, address);
                lane.close(at);
            }
            RecordedEvent::CheckFailed {
                address,
                duration_us,
                cause,
                ..
            } => {
                let lane = lane_of(&mut building, address);
                lane.lane.failed_checks.push(FailedCheckMark {
                    at_us: at,
                    duration_us: *duration_us,
                    cause: cause.clone(),
                });
            }
            _ => {}
        }
    }
    let end = recording.end_us();
    building
        .into_iter()
        .map(|mut lane| {
            lane.close(end);
            lane.lane
        })
        .collect()
}
