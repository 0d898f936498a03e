//! Recordings read back: the NDJSON lines `watch --record` writes (`docs/recording.md`) as
//! typed records ([`read`]), and the failover timeline found in them ([`timeline`]).
//!
//! Pure like the rest of the core: text in, values out; the caller reads the file.

pub mod read;
pub mod timeline;

pub use read::{
    ReadError, RecordedEvent, RecordedLine, RecordedSettings, Recording, RECORDING_FORMAT,
    RECORDING_VERSION,
};
pub use timeline::{
    analyse, Bound, FailedCheckMark, Incident, Lane, Stage, StageKind, Timeline, TypeSpan,
};
