//! Finding the incidents of a recording and their stages.
//!
//! An incident starts where the client's view loses its primary (a topology change whose
//! previous primary is not its new one). Around that moment: the old primary's last check
//! that reported it primary, then its first failed check and its own step-down report
//! (whichever happened), the client's change of its type, the topology without a primary,
//! the first check of a server reporting itself primary, the client's change of that
//! server's type, and the topology with that primary (writes selectable again).

use crate::recording::read::{RecordedEvent, RecordedLine, RecordedSettings, Recording};
use crate::recording::timeline::found::{Found, ELECTION, STREAM_OR_POLL_FASTER};
use crate::recording::timeline::model::{human_duration, Bound, Incident, Stage, StageKind};

pub(super) fn incidents(recording: &Recording) -> Vec<Incident> {
    let lines = &recording.lines;
    let mut incidents = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        if let RecordedEvent::TopologyChanged {
            previous_primary: Some(old),
            new_primary,
            ..
        } = &lines[index].event
        {
            if new_primary.as_deref() != Some(old.as_str()) && !closing(lines, index) {
                let (incident, end) = Finder::new(recording, index, old).incident();
                incidents.push(incident);
                index = end.max(index) + 1;
                continue;
            }
        }
        index += 1;
    }
    incidents
}

/// Whether the change at `index` is the client closing: only SDAM changes follow it up to
/// the `topology_closed` record (no server was checked in between).
fn closing(lines: &[RecordedLine], index: usize) -> bool {
    for line in &lines[index + 1..] {
        match line.event {
            RecordedEvent::TopologyClosed => return true,
            RecordedEvent::ServerChanged { .. }
            | RecordedEvent::ServerClosed { .. }
            | RecordedEvent::TopologyChanged { .. } => {}
            _ => return false,
        }
    }
    false
}

/// What is known of one incident while its stages are looked for.
struct Finder<'a> {
    lines: &'a [RecordedLine],
    settings: &'a RecordedSettings,
    end_us: u64,
    /// The topology change that lost the old primary.
    lost: usize,
    old: &'a str,
}

impl<'a> Finder<'a> {
    fn new(recording: &'a Recording, lost: usize, old: &'a str) -> Finder<'a> {
        Finder {
            lines: &recording.lines,
            settings: &recording.settings,
            end_us: recording.end_us(),
            lost,
            old,
        }
    }

    fn at(&self, index: usize) -> u64 {
        self.lines[index].t_us
    }

    /// The first index in `range` whose event passes `test`.
    fn first(
        &self,
        range: std::ops::Range<usize>,
        test: impl Fn(&RecordedEvent) -> bool,
    ) -> Option<usize> {
        let end = range.end.min(self.lines.len());
        (range.start..end).find(|&index| test(&self.lines[index].event))
    }

    fn incident(&self) -> (Incident, usize) {
        let old = self.old;
        let last_good = (0..self.lost).rev().find(|&index| {
            matches!(&self.lines[index].event,
                RecordedEvent::Hello { address, writable_primary: true, .. } if address == old)
        });
        let window = last_good.map_or(0, |index| index + 1);
        let through_loss = window..self.lost + 1;
        let failed = self.first(
            through_loss.clone(),
            |event| matches!(event, RecordedEvent::CheckFailed { address, .. } if address == old),
        );
        let stepped_down = self.first(through_loss, |event| {
            matches!(event,
                RecordedEvent::Hello { address, writable_primary: false, .. } if address == old)
        });
        let first_sign = match (failed, stepped_down) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let demoted = self.first(window..self.lines.len(), |event| match event {
            RecordedEvent::ServerChanged {
                address,
                previous_type,
                new_type,
            } => address == old && previous_type == "RSPrimary" && new_type != "RSPrimary",
            RecordedEvent::ServerClosed { address } => address == old,
            _ => false,
        });
        let (no_primary, new_primary_at) = match &self.lines[self.lost].event {
            RecordedEvent::TopologyChanged {
                new_primary: Some(_),
                ..
            } => (None, Some(self.lost)),
            _ => (
                Some(self.lost),
                self.first(self.lost + 1..self.lines.len(), |event| {
                    matches!(
                        event,
                        RecordedEvent::TopologyChanged {
                            new_primary: Some(_),
                            ..
                        }
                    )
                }),
            ),
        };
        let new_primary = new_primary_at.and_then(|index| match &self.lines[index].event {
            RecordedEvent::TopologyChanged { new_primary, .. } => new_primary.clone(),
            _ => None,
        });
        let after_sign = first_sign.map_or(window, |index| index + 1);
        let reports = new_primary.as_deref().and_then(|new| {
            let from = if new == old { after_sign } else { window };
            self.first(from..new_primary_at.map_or(0, |index| index + 1), |event| {
                matches!(event,
                    RecordedEvent::Hello { address, writable_primary: true, .. } if address == new)
            })
        });
        let shows = new_primary.as_deref().and_then(|new| {
            let from = reports.unwrap_or(window);
            self.first(from..new_primary_at.map_or(0, |index| index + 1), |event| {
                matches!(event,
                    RecordedEvent::ServerChanged { address, new_type, .. }
                        if address == new && new_type == "RSPrimary")
            })
        });
        let found = vec![
            self.last_good_check(last_good),
            self.first_failed_check(failed, stepped_down, last_good),
            self.step_down_report(stepped_down, failed, last_good),
            self.demotion(demoted, first_sign),
            self.no_primary(no_primary, new_primary.as_deref()),
            self.new_primary_reports(reports, new_primary.as_deref()),
            self.client_shows(shows, new_primary.as_deref()),
            self.selectable(new_primary_at, new_primary.as_deref()),
        ];
        let lost_at_us = self.at(self.lost);
        let without_primary_us = new_primary_at
            .map_or(self.end_us, |index| self.at(index))
            .saturating_sub(lost_at_us);
        let incident = Incident {
            old_primary: old.to_owned(),
            new_primary,
            lost_at_us,
            without_primary_us,
            stages: self.timed(found),
        };
        (incident, new_primary_at.unwrap_or(self.lines.len()))
    }

    /// The stages with their times and the durations since the previous stage that happened.
    fn timed(&self, found: Vec<Found>) -> Vec<Stage> {
        let mut previous: Option<u64> = None;
        found
            .into_iter()
            .map(|found| {
                let at_us = found.at.map(|index| self.at(index));
                let duration_us = at_us.and_then(|at| previous.map(|p| at.saturating_sub(p)));
                if at_us.is_some() {
                    previous = at_us;
                }
                Stage {
                    kind: found.kind,
                    at_us,
                    duration_us,
                    address: found.address,
                    detail: found.detail,
                    bounds: found.bounds,
                    shorten: found.shorten,
                }
            })
            .collect()
    }

    fn last_good_check(&self, at: Option<usize>) -> Found {
        let detail = match at {
            Some(_) => format!("{} last reported itself primary", self.old),
            None => format!(
                "did not happen within the recording: no check of {} reported it primary \
                 before the loss",
                self.old
            ),
        };
        Found::new(StageKind::LastGoodCheck, at, Some(self.old)).said(detail, Vec::new(), "")
    }

    fn first_failed_check(
        &self,
        at: Option<usize>,
        stepped_down: Option<usize>,
        last_good: Option<usize>,
    ) -> Found {
        let found = Found::new(StageKind::FirstFailedCheck, at, Some(self.old));
        let Some(index) = at else {
            let why = if stepped_down.is_some() {
                "did not happen: the old primary reported its step-down itself"
            } else {
                "did not happen: the client heard of another primary first"
            };
            return found.said(why.to_owned(), Vec::new(), "");
        };
        let RecordedEvent::CheckFailed {
            awaited,
            duration_us,
            cause,
            ..
        } = &self.lines[index].event
        else {
            return found;
        };
        let ran = human_duration(*duration_us);
        if cause == "timeout" {
            let mut bounds = vec![Bound::ConnectTimeout];
            if !awaited {
                bounds.push(Bound::HeartbeatFrequency);
            }
            return found.said(
                format!(
                    "a check of {} timed out ({cause}) after {ran}: the server went silent",
                    self.old
                ),
                bounds,
                "lower connectTimeoutMS (monitors give up on a silent server after it); \
                 operations already sent to the old primary wait up to socketTimeoutMS \
                 (none set: until their connection is closed), so set socketTimeoutMS or \
                 timeoutMS",
            );
        }
        let (bounds, how) = if *awaited {
            (vec![Bound::Immediate], "its streamed connection broke")
        } else if self.early_check(index, last_good) {
            (
                vec![Bound::MinHeartbeatFrequency],
                "a check requested early",
            )
        } else {
            (vec![Bound::HeartbeatFrequency], "the next regular check")
        };
        found.said(
            format!(
                "a check of {} failed ({cause}) after {ran}: {how}",
                self.old
            ),
            bounds,
            if *awaited { "" } else { STREAM_OR_POLL_FASTER },
        )
    }

    fn step_down_report(
        &self,
        at: Option<usize>,
        failed: Option<usize>,
        last_good: Option<usize>,
    ) -> Found {
        let found = Found::new(StageKind::StepDownReport, at, Some(self.old));
        let Some(index) = at else {
            let why = if failed.is_some() {
                "did not happen: the old primary's checks failed, it never said it stepped down"
            } else {
                "did not happen: the old primary did not report a step-down"
            };
            return found.said(why.to_owned(), Vec::new(), "");
        };
        let awaited = matches!(
            &self.lines[index].event,
            RecordedEvent::Hello { awaited: true, .. }
        );
        if awaited {
            found.said(
                format!("{} streamed its step-down at once", self.old),
                vec![Bound::Immediate],
                "",
            )
        } else {
            let bound = if self.early_check(index, last_good) {
                Bound::MinHeartbeatFrequency
            } else {
                Bound::HeartbeatFrequency
            };
            found.said(
                format!("{} reported it is no longer primary when polled", self.old),
                vec![bound],
                STREAM_OR_POLL_FASTER,
            )
        }
    }

    /// Whether the check at `index` came clearly sooner than a heartbeat after `previous`.
    fn early_check(&self, index: usize, previous: Option<usize>) -> bool {
        let (Some(previous), Some(heartbeat_ms)) = (previous, self.settings.heartbeat_frequency_ms)
        else {
            return false;
        };
        let gap = self.at(index).saturating_sub(self.at(previous));
        gap < heartbeat_ms.saturating_mul(900)
    }

    fn demotion(&self, at: Option<usize>, first_sign: Option<usize>) -> Found {
        let found = Found::new(StageKind::OldPrimaryDemoted, at, Some(self.old));
        let Some(index) = at else {
            return found.said(
                "did not happen within the recording".to_owned(),
                Vec::new(),
                "",
            );
        };
        let now = match &self.lines[index].event {
            RecordedEvent::ServerChanged { new_type, .. } => new_type.clone(),
            _ => "removed".to_owned(),
        };
        let retries = first_sign.map_or(0, |sign| {
            (sign + 1..index)
                .filter(|&i| {
                    matches!(&self.lines[i].event,
                        RecordedEvent::CheckFailed { address, .. } if address == self.old)
                })
                .count()
        });
        if retries > 0 {
            found.said(
                format!(
                    "the client marks {} {now} after {retries} more failed check(s)",
                    self.old
                ),
                vec![Bound::ConnectTimeout],
                "lower connectTimeoutMS (each retried check may wait that long)",
            )
        } else {
            found.said(
                format!("the client marks {} {now}", self.old),
                vec![Bound::Immediate],
                "",
            )
        }
    }

    fn no_primary(&self, at: Option<usize>, new_primary: Option<&str>) -> Found {
        let found = Found::new(StageKind::NoPrimary, at, None);
        match (at, new_primary) {
            (Some(_), _) => found.said(
                "the client's view has no primary: writes wait for one".to_owned(),
                vec![Bound::Immediate],
                "",
            ),
            (None, Some(new)) => found.said(
                format!(
                    "did not happen: the client went straight from {} to {new}",
                    self.old
                ),
                Vec::new(),
                "",
            ),
            (None, None) => found,
        }
    }

    fn new_primary_reports(&self, at: Option<usize>, new_primary: Option<&str>) -> Found {
        let found = Found::new(StageKind::NewPrimaryReportsItself, at, new_primary);
        let Some(index) = at else {
            return found.said(self.no_new_primary(), vec![Bound::Election], ELECTION);
        };
        let new = new_primary.unwrap_or_default();
        let awaited = matches!(
            &self.lines[index].event,
            RecordedEvent::Hello { awaited: true, .. }
        );
        let previous_check = (0..index).rev().find(|&i| match &self.lines[i].event {
            RecordedEvent::Hello { address, .. } | RecordedEvent::CheckFailed { address, .. } => {
                address == new
            }
            _ => false,
        });
        let (heard, bounds) = if awaited {
            ("streamed at once", vec![Bound::Election])
        } else if self.early_check(index, previous_check) {
            (
                "polled early (an operation or the loss asked for a check)",
                vec![Bound::Election, Bound::MinHeartbeatFrequency],
            )
        } else {
            (
                "polled at its next regular check",
                vec![Bound::Election, Bound::HeartbeatFrequency],
            )
        };
        found.said(
            format!("{new} reports itself primary ({heard})"),
            bounds,
            ELECTION,
        )
    }

    fn no_new_primary(&self) -> String {
        format!(
            "did not happen: no new primary within the recording (it ends {} after the loss)",
            human_duration(self.end_us.saturating_sub(self.at(self.lost)))
        )
    }

    fn client_shows(&self, at: Option<usize>, new_primary: Option<&str>) -> Found {
        let found = Found::new(StageKind::ClientShowsNewPrimary, at, new_primary);
        match (at, new_primary) {
            (Some(_), Some(new)) => found.said(
                format!("the client marks {new} RSPrimary"),
                vec![Bound::Immediate],
                "",
            ),
            _ => found.said(self.no_new_primary(), Vec::new(), ""),
        }
    }

    fn selectable(&self, at: Option<usize>, new_primary: Option<&str>) -> Found {
        let found = Found::new(StageKind::SelectableForWrites, at, new_primary);
        let selection = self.settings.server_selection_timeout_ms;
        let Some(index) = at else {
            return found.said(
                self.no_new_primary(),
                vec![Bound::ServerSelectionTimeout],
                "writes waiting for a primary fail after serverSelectionTimeoutMS",
            );
        };
        let outage = self.at(index).saturating_sub(self.at(self.lost));
        let waited = match selection {
            Some(ms) if outage > ms.saturating_mul(1_000) => format!(
                "writes waiting since the loss failed: serverSelectionTimeoutMS ({}) is \
                 shorter than the {} without a primary",
                human_duration(ms.saturating_mul(1_000)),
                human_duration(outage)
            ),
            Some(ms) => format!(
                "writes waiting since the loss waited {} of serverSelectionTimeoutMS ({})",
                human_duration(outage),
                human_duration(ms.saturating_mul(1_000))
            ),
            None => format!("{} without a primary", human_duration(outage)),
        };
        found.said(
            format!(
                "{} is selectable for writes; {waited}",
                new_primary.unwrap_or_default()
            ),
            vec![Bound::ServerSelectionTimeout],
            "shorten the stages above; keep serverSelectionTimeoutMS above the usual outage \
             so waiting writes succeed instead of failing (and use retryable writes)",
        )
    }
}
