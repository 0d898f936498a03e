//! The timeline as a picture: a self-contained SVG (no scripts, no external resources) with
//! one lane per server (its types over time as coloured bars, its failed checks as red
//! marks), each incident's stages as labelled spans above the lanes, a time axis and a
//! legend; or an HTML page embedding it with the text below. Every string from the
//! recording is XML-escaped.

use std::fmt::Write as _;

use mongo_topology::recording::timeline::human_duration;
use mongo_topology::recording::{Lane, StageKind, Timeline};

use crate::cli::timeline::text::{offset, timeline_text};

const WIDTH: f64 = 1200.0;
/// The label column on the left.
const LEFT: f64 = 190.0;
const RIGHT: f64 = 20.0;
const TITLE_HEIGHT: f64 = 44.0;
const STAGE_ROW: f64 = 20.0;
const LANE_HEIGHT: f64 = 30.0;
const BAR_HEIGHT: f64 = 16.0;
const AXIS_HEIGHT: f64 = 34.0;
const LEGEND_HEIGHT: f64 = 34.0;
/// The longest address shown in a lane's label.
const LABEL_CHARS: usize = 26;

/// The colour of a server type's bar.
fn type_colour(server_type: &str) -> &'static str {
    match server_type {
        "RSPrimary" => "#2e7d32",
        "RSSecondary" => "#1565c0",
        "RSArbiter" => "#6a1b9a",
        "RSOther" | "RSGhost" => "#8d6e63",
        "Mongos" => "#00838f",
        "Standalone" => "#f9a825",
        "LoadBalancer" => "#5d4037",
        _ => "#bdbdbd",
    }
}

/// The colour of a stage's span.
fn stage_colour(kind: StageKind) -> &'static str {
    match kind {
        StageKind::FirstFailedCheck | StageKind::StepDownReport => "#ef6c00",
        StageKind::OldPrimaryDemoted | StageKind::NoPrimary => "#ad1457",
        StageKind::NewPrimaryReportsItself => "#c62828",
        _ => "#37474f",
    }
}

/// Text escaped for XML: markup characters as entities, characters XML 1.0 forbids
/// (controls other than tab and newline) as U+FFFD.
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() || matches!(c, '\u{fffe}' | '\u{ffff}') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters, an ellipsis marking a cut.
fn shortened(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The time window drawn: around the incidents (with a margin), or the whole recording.
struct Scale {
    from_us: u64,
    to_us: u64,
}

impl Scale {
    fn of(timeline: &Timeline) -> Scale {
        let times: Vec<u64> = timeline
            .incidents
            .iter()
            .flat_map(|incident| {
                let end = incident.lost_at_us + incident.without_primary_us;
                incident.stages.iter().filter_map(|s| s.at_us).chain([end])
            })
            .collect();
        let (Some(&first), Some(&last)) = (times.iter().min(), times.iter().max()) else {
            return Scale {
                from_us: 0,
                to_us: timeline.end_us.max(1),
            };
        };
        let margin = (last - first).max(1_000_000) / 4;
        let from_us = first.saturating_sub(margin);
        let to_us = (last + margin)
            .min(timeline.end_us.max(last))
            .max(from_us + 1);
        Scale { from_us, to_us }
    }

    fn x(&self, at_us: u64) -> f64 {
        let at = at_us.clamp(self.from_us, self.to_us);
        let span = (self.to_us - self.from_us) as f64;
        LEFT + (at - self.from_us) as f64 * (WIDTH - LEFT - RIGHT) / span
    }

    /// Tick spacing (µs) giving at most about 10 ticks.
    fn tick_us(&self) -> u64 {
        const STEPS_MS: [u64; 14] = [
            10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000,
            600_000,
        ];
        let span = self.to_us - self.from_us;
        STEPS_MS
            .iter()
            .map(|ms| ms * 1_000)
            .find(|step| span / step <= 10)
            .unwrap_or(3_600_000_000)
    }
}

/// The picture as a standalone SVG document.
pub(crate) fn svg(timeline: &Timeline) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&svg_element(timeline));
    out
}

/// An HTML page with the picture and the text of the timeline.
pub(crate) fn html(timeline: &Timeline) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>mongo-topology timeline</title>\
         <style>body{{font-family:sans-serif;margin:0;background:#fff}}\
         svg{{display:block;max-width:100%;height:auto}}pre{{font-size:12px;margin:8px 12px;white-space:pre-wrap}}</style></head>\n<body>\n{}\n<pre>{}</pre>\n</body></html>\n",
        svg_element(timeline),
        xml_escape(&timeline_text(timeline))
    )
}

fn stage_rows(timeline: &Timeline) -> usize {
    timeline
        .incidents
        .iter()
        .map(|i| i.stages.iter().filter(|s| s.happened()).count())
        .sum()
}

fn svg_element(timeline: &Timeline) -> String {
    let scale = Scale::of(timeline);
    let stages_top = TITLE_HEIGHT;
    let lanes_top = stages_top + stage_rows(timeline) as f64 * STAGE_ROW + 10.0;
    let lanes_bottom = lanes_top + timeline.lanes.len() as f64 * LANE_HEIGHT;
    let height = lanes_bottom + AXIS_HEIGHT + LEGEND_HEIGHT;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {WIDTH} {height}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(
        out,
        "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>"
    );
    let title = format!(
        "mongo-topology timeline: {} incident(s), {} server(s), {} shown from {}",
        timeline.incidents.len(),
        timeline.lanes.len(),
        human_duration(scale.to_us - scale.from_us),
        offset(scale.from_us)
    );
    let _ = writeln!(
        out,
        "<text x=\"12\" y=\"26\" font-size=\"16\" font-weight=\"bold\">{}</text>",
        xml_escape(&title)
    );
    draw_stages(&mut out, timeline, &scale, stages_top, lanes_bottom);
    for (index, lane) in timeline.lanes.iter().enumerate() {
        draw_lane(
            &mut out,
            lane,
            &scale,
            lanes_top + index as f64 * LANE_HEIGHT,
        );
    }
    draw_axis(&mut out, &scale, lanes_bottom);
    draw_legend(&mut out, timeline, lanes_bottom + AXIS_HEIGHT);
    out.push_str("</svg>");
    out
}

fn draw_stages(out: &mut String, timeline: &Timeline, scale: &Scale, top: f64, bottom: f64) {
    let mut row = 0usize;
    for (number, incident) in timeline.incidents.iter().enumerate() {
        let mut previous: Option<u64> = None;
        for stage in incident.stages.iter() {
            let Some(at) = stage.at_us else { continue };
            let y = top + row as f64 * STAGE_ROW;
            row += 1;
            let start = previous.unwrap_or(at);
            previous = Some(at);
            let (x0, x1) = (scale.x(start), scale.x(at));
            let colour = stage_colour(stage.kind);
            let label = match stage.duration_us {
                Some(d) => format!(
                    "{} {}: {}",
                    number + 1,
                    stage.kind.title(),
                    human_duration(d)
                ),
                None => format!("{} {}", number + 1, stage.kind.title()),
            };
            let tooltip = format!("{} — {}", stage.kind.title(), stage.detail);
            let _ = writeln!(
                out,
                "<g><title>{}</title><rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" \
                 height=\"{:.1}\" fill=\"{colour}\" opacity=\"0.85\"/>",
                xml_escape(&tooltip),
                y + 3.0,
                (x1 - x0).max(2.0),
                STAGE_ROW - 6.0
            );
            let (x, anchor) = if x1 > LEFT + (WIDTH - LEFT) * 0.6 {
                (x0 - 4.0, "end")
            } else {
                (x1 + 4.0, "start")
            };
            let _ = writeln!(
                out,
                "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text></g>",
                y + STAGE_ROW - 6.0,
                xml_escape(&label)
            );
            let _ = writeln!(
                out,
                "<line x1=\"{x1:.1}\" y1=\"{:.1}\" x2=\"{x1:.1}\" y2=\"{bottom:.1}\" \
                 stroke=\"{colour}\" stroke-dasharray=\"3,3\" stroke-width=\"1\"/>",
                y + STAGE_ROW - 3.0
            );
        }
    }
}

fn draw_lane(out: &mut String, lane: &Lane, scale: &Scale, top: f64) {
    let bar_y = top + (LANE_HEIGHT - BAR_HEIGHT) / 2.0;
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
        LEFT - 8.0,
        bar_y + BAR_HEIGHT - 4.0,
        xml_escape(&shortened(&lane.address, LABEL_CHARS))
    );
    for span in &lane.spans {
        if span.to_us < scale.from_us || span.from_us > scale.to_us {
            continue;
        }
        let (x0, x1) = (scale.x(span.from_us), scale.x(span.to_us));
        let tooltip = format!(
            "{} {} from {} to {}",
            lane.address,
            span.server_type,
            offset(span.from_us),
            offset(span.to_us)
        );
        let _ = writeln!(
            out,
            "<rect x=\"{x0:.1}\" y=\"{bar_y:.1}\" width=\"{:.1}\" height=\"{BAR_HEIGHT}\" \
             fill=\"{}\"><title>{}</title></rect>",
            (x1 - x0).max(1.0),
            type_colour(&span.server_type),
            xml_escape(&tooltip)
        );
    }
    for check in &lane.failed_checks {
        if check.at_us < scale.from_us || check.at_us > scale.to_us {
            continue;
        }
        let x = scale.x(check.at_us);
        let started = scale.x(check.at_us.saturating_sub(check.duration_us));
        let tooltip = format!(
            "check failed ({}) at {} after {}",
            check.cause,
            offset(check.at_us),
            human_duration(check.duration_us)
        );
        let (y0, y1) = (bar_y - 3.0, bar_y + BAR_HEIGHT + 3.0);
        let _ = writeln!(
            out,
            "<g stroke=\"#d50000\" stroke-width=\"2\"><title>{}</title>\
             <line x1=\"{started:.1}\" y1=\"{y1:.1}\" x2=\"{x:.1}\" y2=\"{y1:.1}\"/>\
             <line x1=\"{:.1}\" y1=\"{y0:.1}\" x2=\"{:.1}\" y2=\"{y1:.1}\"/>\
             <line x1=\"{:.1}\" y1=\"{y1:.1}\" x2=\"{:.1}\" y2=\"{y0:.1}\"/></g>",
            xml_escape(&tooltip),
            x - 4.0,
            x + 4.0,
            x - 4.0,
            x + 4.0
        );
    }
}

fn draw_axis(out: &mut String, scale: &Scale, top: f64) {
    let _ = writeln!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{top:.1}\" x2=\"{:.1}\" y2=\"{top:.1}\" stroke=\"#424242\"/>",
        WIDTH - RIGHT
    );
    let step = scale.tick_us();
    let mut tick = scale.from_us.div_ceil(step) * step;
    while tick <= scale.to_us {
        let x = scale.x(tick);
        let label = if step < 1_000_000 {
            offset(tick)
        } else {
            format!("+{} s", tick / 1_000_000)
        };
        let _ = writeln!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#424242\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
            top + 5.0,
            top + 19.0
        );
        tick += step;
    }
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#616161\">since start</text>",
        LEFT - 36.0,
        top + 19.0
    );
}

fn draw_legend(out: &mut String, timeline: &Timeline, top: f64) {
    const TYPES: [&str; 9] = [
        "RSPrimary",
        "RSSecondary",
        "RSArbiter",
        "RSOther",
        "RSGhost",
        "Mongos",
        "Standalone",
        "LoadBalancer",
        "Unknown",
    ];
    let present = |name: &str| {
        timeline
            .lanes
            .iter()
            .flat_map(|lane| lane.spans.iter())
            .any(|span| {
                span.server_type == name
                    || (name == "Unknown" && type_colour(&span.server_type) == "#bdbdbd")
            })
    };
    let mut x = 12.0;
    let y = top + 10.0;
    for name in TYPES.iter().filter(|name| present(name)) {
        let _ = writeln!(
            out,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"14\" height=\"14\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{name}</text>",
            type_colour(name),
            x + 19.0,
            y + 12.0
        );
        x += 30.0 + 7.0 * name.len() as f64;
    }
    let _ = writeln!(
        out,
        "<g stroke=\"#d50000\" stroke-width=\"2\"><line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>\
         <line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/></g>\
         <text x=\"{:.1}\" y=\"{:.1}\">failed check (line: how long it ran)</text>",
        x,
        y,
        x + 12.0,
        y + 14.0,
        x,
        y + 14.0,
        x + 12.0,
        y,
        x + 19.0,
        y + 12.0
    );
    x += 250.0;
    let _ = writeln!(
        out,
        "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"24\" height=\"14\" fill=\"{}\" opacity=\"0.85\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\">stage (span: since the previous stage)</text>",
        stage_colour(StageKind::NewPrimaryReportsItself),
        x + 29.0,
        y + 12.0
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_controls_are_escaped() {
        assert_eq!(
            xml_escape("a&b<c>\"d'\u{1b}[31m\u{0}e\n"),
            "a&amp;b&lt;c&gt;&quot;d&#39;\u{fffd}[31m\u{fffd}e\n"
        );
    }

    #[test]
    fn long_labels_are_cut() {
        assert_eq!(shortened("abcdef", 4), "abc…");
        assert_eq!(shortened("abc", 4), "abc");
    }
}
