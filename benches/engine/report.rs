//! The bench's results: one [`Row`] per measured quantity, printed as a Markdown table with
//! median, min and max over the repetitions and the median's ratio to the target.

use std::time::Duration;

/// How a row's samples are shown.
#[derive(Clone, Copy, Debug)]
pub enum Unit {
    /// Durations, shown in milliseconds.
    Millis,
    /// Durations, shown in microseconds.
    Micros,
    /// Mebibytes.
    MiB,
    /// Percent of one core.
    PercentOfCore,
    /// A relative difference, in percent (may be negative).
    Percent,
    /// Operations per second.
    PerSecond,
    /// A plain count (threads, servers).
    Count,
}

impl Unit {
    fn format(self, value: f64) -> String {
        match self {
            Unit::Millis => format!("{value:.3} ms"),
            Unit::Micros => format!("{value:.1} µs"),
            Unit::MiB => format!("{value:.1} MiB"),
            Unit::PercentOfCore => format!("{value:.3} %"),
            Unit::Percent => format!("{value:+.2} %"),
            Unit::PerSecond => format!("{value:.0} /s"),
            Unit::Count => format!("{value:.0}"),
        }
    }
}

/// One measured quantity of one scenario.
#[derive(Debug)]
pub struct Row {
    scenario: String,
    measure: String,
    unit: Unit,
    samples: Vec<f64>,
    /// The upper bound for the median, if it sets one.
    target: Option<f64>,
    note: Option<String>,
}

impl Row {
    /// A row without samples yet.
    pub fn new(scenario: &str, measure: &str, unit: Unit) -> Row {
        Row {
            scenario: scenario.to_owned(),
            measure: measure.to_owned(),
            unit,
            samples: Vec::new(),
            target: None,
            note: None,
        }
    }

    /// The median must be at most `target` (in the row's unit).
    pub fn target(mut self, target: f64) -> Row {
        self.target = Some(target);
        self
    }

    /// A remark printed under the table.
    pub fn note(mut self, note: impl Into<String>) -> Row {
        self.note = Some(note.into());
        self
    }

    /// Adds one sample, in the row's unit.
    pub fn push(&mut self, value: f64) {
        self.samples.push(value);
    }

    /// Adds one duration sample (for [`Unit::Millis`] rows).
    pub fn push_duration(&mut self, elapsed: Duration) {
        self.push(elapsed.as_secs_f64() * 1e3);
    }

    /// The median of the samples (mean of the middle two for an even count).
    pub fn median(&self) -> Option<f64> {
        let mut sorted = self.samples.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(sorted[n / 2]),
            _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
        }
    }

    fn cells(&self) -> [String; 8] {
        let show = |value: Option<f64>| value.map_or("—".to_owned(), |v| self.unit.format(v));
        let min = self.samples.iter().copied().reduce(f64::min);
        let max = self.samples.iter().copied().reduce(f64::max);
        let median = self.median();
        let target = self
            .target
            .map_or("—".to_owned(), |t| format!("≤ {}", self.unit.format(t)));
        let ratio = match (median, self.target) {
            (Some(median), Some(target)) if target > 0.0 => {
                let verdict = if median <= target { "met" } else { "MISSED" };
                format!("{:.2} ({verdict})", median / target)
            }
            _ => "—".to_owned(),
        };
        [
            self.scenario.clone(),
            self.measure.clone(),
            self.samples.len().to_string(),
            show(median),
            show(min),
            show(max),
            target,
            ratio,
        ]
    }
}

/// The Markdown table of `rows`, then their notes.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| Scenario | Measure | N | Median | Min | Max | Target | Median / target |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        out.push_str(&format!("| {} |\n", row.cells().join(" | ")));
    }
    let notes: Vec<String> = rows
        .iter()
        .filter_map(|row| {
            let note = row.note.as_ref()?;
            Some(format!("- {} / {}: {note}", row.scenario, row.measure))
        })
        .collect();
    if !notes.is_empty() {
        out.push('\n');
        out.push_str(&notes.join("\n"));
        out.push('\n');
    }
    out
}
