//! The interactive view: the server table, each server's RTT trend and the event log,
//! drawn by [`draw`] as a pure function of a [`WatchState`]; [`Screen`] owns the terminal
//! (raw mode, alternate screen) and restores it when dropped, also on error or panic.

use std::io::{self, Stdout};
use std::time::Duration;

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::crossterm::{cursor, execute};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Sparkline, Table};
use ratatui::{Frame, Terminal};
use tokio::sync::mpsc;

use mongo_topology::sdam::ServerType;

use super::state::WatchState;
use super::text;
use crate::cli::render;
use crate::cli::untrusted::{display_untrusted, CELL_CHARS, LINE_CHARS};

/// Width of the RTT pane's label beyond the longest address (two spaces and `123.4 ms`).
const RTT_LABEL_EXTRA: usize = 12;
/// How often the key-reading thread checks whether the watch has ended.
const KEY_POLL: Duration = Duration::from_millis(100);

/// A key that ends the view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// `q` or Esc: a normal end (exit 0).
    Quit,
    /// Ctrl-C (raw mode turns it into a key): an interrupt (exit 130).
    Interrupt,
}

fn type_style(server_type: ServerType, colour: bool) -> Style {
    if !colour {
        return Style::default();
    }
    match server_type {
        ServerType::RsPrimary | ServerType::Standalone | ServerType::Mongos => {
            Style::default().fg(Color::Green)
        }
        ServerType::RsSecondary => Style::default().fg(Color::Cyan),
        ServerType::Unknown => Style::default().fg(Color::Red),
        _ => Style::default().fg(Color::Yellow),
    }
}

fn title_line(state: &WatchState) -> Line<'static> {
    let topology = &state.topology;
    let primary = topology
        .primary()
        .map_or_else(|| "none".to_string(), |p| p.address.to_string());
    // The state first, the connection string last: a narrow terminal cuts only the string.
    Line::from(format!(
        "{}  primary {}  |  {:.1} s  |  q: quit  |  {}",
        topology.topology_type,
        display_untrusted(&primary, CELL_CHARS),
        state.elapsed.as_secs_f64(),
        display_untrusted(&state.uri.to_string(), LINE_CHARS),
    ))
}

/// The columns that give way, first to last, when the table is wider than the terminal:
/// ADDRESS, TYPE and LAST ERROR always stay.
const DROPPED_FIRST: [&str; 7] = [
    "ELECTIONID",
    "TAGS",
    "SETVERSION",
    "WIRE",
    "STALENESS MS",
    "SET",
    "RTT AVG/MIN MS",
];
/// The column that gets what is left of the width.
const LAST_ERROR: &str = "LAST ERROR";
/// Spaces between columns.
const COLUMN_SPACING: usize = 2;

/// Which of `HEADER`'s columns to show, and each one's width, for `rows` in `available`
/// characters: every column as wide as its widest cell (addresses are never cut); when that
/// is too wide, the columns of [`DROPPED_FIRST`] give way in order, and LAST ERROR gets what
/// is left (at least its title, else as much as it needs).
pub(super) fn column_widths(
    header: &[&str],
    rows: &[Vec<String>],
    available: usize,
) -> Vec<(usize, usize)> {
    let mut widths: Vec<usize> = header.iter().map(|title| title.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let error_column = header.iter().position(|title| *title == LAST_ERROR);
    let mut shown: Vec<usize> = (0..header.len()).collect();
    let needed = |shown: &[usize]| -> usize {
        let cells: usize = shown
            .iter()
            .map(|&index| match error_column {
                // LAST ERROR needs at least its title's width.
                Some(error) if index == error => widths[index].min(LAST_ERROR.len()),
                _ => widths[index],
            })
            .sum();
        cells + COLUMN_SPACING * shown.len().saturating_sub(1)
    };
    for title in DROPPED_FIRST {
        if needed(&shown) <= available {
            break;
        }
        if let Some(index) = header.iter().position(|candidate| *candidate == title) {
            shown.retain(|&kept| kept != index);
        }
    }
    let others: usize = shown
        .iter()
        .filter(|&&index| Some(index) != error_column)
        .map(|&index| widths[index])
        .sum::<usize>()
        + COLUMN_SPACING * shown.len().saturating_sub(1);
    shown
        .into_iter()
        .map(|index| {
            let width = if Some(index) == error_column {
                widths[index].min(available.saturating_sub(others).max(LAST_ERROR.len()))
            } else {
                widths[index]
            };
            (index, width)
        })
        .collect()
}

fn server_table(state: &WatchState, colour: bool, width: u16) -> Table<'static> {
    let topology = &state.topology;
    let cells: Vec<(ServerType, Vec<String>)> = topology
        .servers
        .values()
        .map(|server| (server.server_type, render::row(topology, server)))
        .collect();
    let rows: Vec<Vec<String>> = cells.iter().map(|(_, row)| row.clone()).collect();
    // The table's borders take two columns.
    let available = usize::from(width).saturating_sub(2);
    let columns = column_widths(&render::HEADER, &rows, available);
    let constraints: Vec<Constraint> = columns
        .iter()
        .map(|(_, width)| Constraint::Length(u16::try_from(*width).unwrap_or(u16::MAX)))
        .collect();
    let pick = |row: &[String]| -> Vec<String> {
        columns
            .iter()
            .map(|(index, _)| row.get(*index).cloned().unwrap_or_default())
            .collect()
    };
    let header_style = if colour {
        Style::default().add_modifier(Modifier::BOLD)
    } else {
        Style::default()
    };
    let titles: Vec<String> = render::HEADER
        .iter()
        .map(|title| title.to_string())
        .collect();
    let header = Row::new(pick(&titles)).style(header_style);
    let rows = cells
        .into_iter()
        .map(|(server_type, row)| Row::new(pick(&row)).style(type_style(server_type, colour)));
    Table::new(rows, constraints)
        .header(header)
        .column_spacing(COLUMN_SPACING as u16)
        .block(Block::bordered().title(" servers "))
}

fn draw_rtt(frame: &mut Frame, area: Rect, state: &WatchState) {
    let block =
        Block::bordered().title(" RTT trend (average RTT every 0.5 s, one scale for all servers) ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rows = Layout::vertical(vec![Constraint::Length(1); state.rtt.len()]).split(inner);
    // One scale for every server, so that their bars compare.
    let highest = state
        .rtt
        .values()
        .flat_map(|samples| samples.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    // The label is as wide as the longest address needs (never cut), up to most of the pane.
    let longest = state
        .rtt
        .keys()
        .map(|address| {
            display_untrusted(&address.to_string(), CELL_CHARS)
                .chars()
                .count()
        })
        .max()
        .unwrap_or(0);
    let label_width = u16::try_from(longest + RTT_LABEL_EXTRA)
        .unwrap_or(u16::MAX)
        .min(inner.width.saturating_sub(4).max(1));
    for ((address, samples), row) in state.rtt.iter().zip(rows.iter()) {
        let [label, chart] =
            Layout::horizontal([Constraint::Length(label_width), Constraint::Min(1)]).areas(*row);
        let latest = samples.back().filter(|micros| **micros > 0).map_or_else(
            || "-".to_string(),
            |micros| format!("{:.1} ms", *micros as f64 / 1000.0),
        );
        let address = display_untrusted(&address.to_string(), CELL_CHARS).into_owned();
        frame.render_widget(Paragraph::new(format!("{address}  {latest}")), label);
        // The newest samples that fit, oldest on the left.
        let width = usize::from(chart.width);
        let skip = samples.len().saturating_sub(width);
        let data: Vec<u64> = samples.iter().skip(skip).copied().collect();
        frame.render_widget(Sparkline::default().data(&data).max(highest), chart);
    }
}

fn draw_log(frame: &mut Frame, area: Rect, state: &WatchState) {
    let block = Block::bordered().title(" events ");
    let height = usize::from(block.inner(area).height);
    let shown: Vec<_> = state
        .log
        .iter()
        .filter(|record| text::for_people(&record.what))
        .collect();
    let skip = shown.len().saturating_sub(height);
    let lines: Vec<Line> = shown
        .into_iter()
        .skip(skip)
        .map(|record| {
            Line::from(format!(
                "{}  {}",
                text::time_of_day(record.ts),
                text::describe(&record.what)
            ))
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// Draws the whole view of `state`; `colour` allows colours and bold.
pub fn draw(frame: &mut Frame, state: &WatchState, colour: bool) {
    let servers = u16::try_from(state.topology.servers.len()).unwrap_or(u16::MAX);
    let [title, table, rtt, log] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(servers.saturating_add(3)),
        Constraint::Length(servers.saturating_add(2)),
        Constraint::Min(3),
    ])
    .areas(frame.area());
    frame.render_widget(Paragraph::new(title_line(state)), title);
    frame.render_widget(server_table(state, colour, table.width), table);
    draw_rtt(frame, rtt, state);
    draw_log(frame, log, state);
}

/// The terminal in raw mode on the alternate screen; dropping it restores the terminal.
pub struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
    colour: bool,
}

impl Screen {
    /// Takes over the terminal and starts a thread that sends [`Key`]s to the returned
    /// receiver (the thread ends soon after the receiver is dropped).
    pub fn start(colour: bool) -> io::Result<(Screen, mpsc::Receiver<Key>)> {
        enable_raw_mode()?;
        let mut stdout = io::stdout();
        if let Err(error) = execute!(stdout, EnterAlternateScreen, cursor::Hide) {
            let _ = disable_raw_mode();
            return Err(error);
        }
        // From here on, dropping the screen restores the terminal.
        let mut screen = Screen {
            terminal: Terminal::new(CrosstermBackend::new(stdout))?,
            colour,
        };
        screen.terminal.clear()?;
        let (sender, keys) = mpsc::channel(8);
        std::thread::Builder::new()
            .name("watch-keys".to_string())
            .spawn(move || read_keys(&sender))?;
        Ok((screen, keys))
    }

    /// Redraws the view of `state`.
    pub fn draw(&mut self, state: &WatchState) -> io::Result<()> {
        let colour = self.colour;
        self.terminal.draw(|frame| draw(frame, state, colour))?;
        Ok(())
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = disable_raw_mode();
        let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
    }
}

/// Reads keys until one ends the view, reading fails, or nobody listens any more.
fn read_keys(sender: &mpsc::Sender<Key>) {
    while !sender.is_closed() {
        match event::poll(KEY_POLL) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(_) => return,
        }
        let Ok(Event::Key(key)) = event::read() else {
            continue;
        };
        if key.kind != KeyEventKind::Press {
            continue;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let ending = match key.code {
            KeyCode::Char('c') if ctrl => Some(Key::Interrupt),
            KeyCode::Char('q') | KeyCode::Esc => Some(Key::Quit),
            _ => None,
        };
        if let Some(ending) = ending {
            let _ = sender.blocking_send(ending);
            return;
        }
    }
}
