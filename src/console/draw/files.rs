//! The Files pane: the totals, a row per export file (when, name, what became
//! of it, rows, rejects, the diff), and the selected file in full below: the
//! refusal or hold reason, who confirmed it, where its rejected rows are.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph};

use super::flow::wrap;
use super::lists::{Column, Columns, col, shown, table};
use crate::console::files::hris_is_api;
use crate::console::layout::files_areas;
use crate::console::sanitise::visible_string;
use crate::console::state::State;
use crate::engine::operator::handle::rejects_path;
use crate::model::files::{ExportFile, FileCounts, FileState};

const COLUMNS: [Column; 6] = [
    col("when", Constraint::Length(11)),
    col("name", Constraint::Fill(1)),
    col("state", Constraint::Length(12)),
    col("rows", Constraint::Length(6)),
    col("rej", Constraint::Length(4)),
    col("+new ~upd -gone", Constraint::Length(15)),
];

/// A day and a time: exports come a night apart, so the time alone is not enough.
fn day_and_time(at: Timestamp) -> String {
    at.to_zoned(TimeZone::system())
        .strftime("%m-%d %H:%M")
        .to_string()
}

/// What became of a file, as a word and a symbol (not by colour alone).
fn state_cell(state: &State, file: &ExportFile) -> Cell<'static> {
    let p = state.palette;
    match file.state {
        FileState::Taken => Cell::from(Span::styled("✓ taken", p.good())),
        FileState::Held => Cell::from(Span::styled("! held", p.warn())),
        FileState::Confirmed => Cell::from(Span::styled("→ confirmed", p.accent())),
        FileState::Refused if file.is_stale() => Cell::from(Span::styled("✗ stale", p.bad())),
        // "unreadable: …": the first word of why, the rest below and in the status bar.
        FileState::Refused => {
            let why = file.reason.as_deref().unwrap_or("refused");
            let short = why.split(':').next().unwrap_or(why);
            Cell::from(Span::styled(format!("✗ {}", shown(short)), p.bad()))
        }
    }
}

pub fn pane(state: &State, frame: &mut Frame, area: Rect) {
    let pane = &state.panes.files;
    let [title_area, list, detail_area] = files_areas(area);
    if hris_is_api(state) && pane.list.rows.is_empty() && pane.list.loaded {
        frame.render_widget(
            Paragraph::new(Line::styled(
                "no export files (the HRIS is not a file kind)",
                state.palette.dim(),
            )),
            area,
        );
        return;
    }
    let t = &pane.totals;
    let mut title = format!(
        "{} export files: {} taken · {} refused ({} stale) · {} held",
        t.all(),
        t.taken,
        t.refused,
        t.stale,
        t.held,
    );
    if t.confirmed > 0 {
        title.push_str(&format!(" · {} confirmed", t.confirmed));
    }
    frame.render_widget(
        Paragraph::new(Line::styled(title, state.palette.dim())),
        title_area,
    );
    table(
        state,
        frame,
        list,
        &pane.list,
        Columns {
            columns: &COLUMNS,
            wide: false,
            empty: "No export file seen yet: the engine looks at the inbox and lists each one here.",
        },
        |f| {
            let c = &f.counts;
            // A file refused before it was read has no counts to show.
            let unread = f.state == FileState::Refused && *c == FileCounts::default();
            let count = |n: u64| if unread { "-".to_string() } else { n.to_string() };
            let diff = match unread {
                true => "-".to_string(),
                false => format!("+{} ~{} -{}", c.inserted, c.updated, c.missing),
            };
            vec![
                Cell::from(day_and_time(f.decided_at)),
                Cell::from(shown(&f.name)),
                state_cell(state, f),
                Cell::from(count(c.rows)),
                Cell::from(count(c.rejected)),
                Cell::from(diff),
            ]
        },
    );
    if let Some(file) = pane.list.selected_row() {
        detail(state, file, frame, detail_area);
    }
}

/// The selected file in full: its reason wrapped, not cut.
fn detail(state: &State, file: &ExportFile, frame: &mut Frame, area: Rect) {
    let width = area.width as usize;
    let c = &file.counts;
    let mut lines = Vec::new();
    let mut add = |text: String, style: Style| {
        lines.extend(wrap(&text, width).into_iter().map(|l| Line::styled(l, style)));
    };
    // The name and the reason come from outside: escaped, then wrapped.
    add(
        visible_string(format!(
            "sha256 {} · {} · {} bytes · exported {}",
            file.sha256.get(..12).unwrap_or(&file.sha256),
            file.name,
            file.size,
            file.modified
                .to_zoned(TimeZone::system())
                .strftime("%Y-%m-%d %H:%M:%S"),
        )),
        Style::default(),
    );
    add(
        format!(
            "{} rows · {} rejected · +{} new · ~{} updated · -{} missing (deactivated) · ={} unchanged",
            c.rows, c.rejected, c.inserted, c.updated, c.missing, c.unchanged
        ),
        Style::default(),
    );
    let (word, style) = match file.state {
        FileState::Taken => ("taken", Style::default()),
        FileState::Refused => ("refused", state.palette.bad()),
        FileState::Held => ("held", state.palette.warn()),
        FileState::Confirmed => ("confirmed, taken at the engine's next look", Style::default()),
    };
    let reason = match &file.reason {
        Some(why) => format!("{word}: {why}"),
        None => word.to_string(),
    };
    add(visible_string(reason), style);
    if c.rejected > 0 {
        let at = match state.status.as_ref().and_then(|s| s.export_outbox.as_ref()) {
            Some(outbox) => rejects_path(outbox, &file.name).display().to_string(),
            None => format!("{}.rejects.csv in the engine's outbox", file.name),
        };
        add(visible_string(format!("rejected rows: {at}")), Style::default());
    }
    let block = Block::default().borders(Borders::TOP).title(Span::styled(
        format!("export file {}", file.id),
        state.palette.accent(),
    ));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
