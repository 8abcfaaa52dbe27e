//! The status bar under every list: the selected row's error or note in full,
//! as much as the line holds (the row's detail has the rest), since the list's
//! own column cuts it to a few words at 80 columns.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::flow::fit;
use crate::console::credentials::Ranked;
use crate::console::list::Numbered;
use crate::console::palette::Palette;
use crate::console::sanitise::visible_string;
use crate::console::state::State;
use crate::model::files::{ExportFile, FileState};
use crate::model::{AuditEntry, Event};
use crate::store::{DriftItem, DuplicateGroup};

/// How a note reads: an error, a warning, or plain words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Error,
    Warning,
    Plain,
}

/// What the status bar says of a row: which row, and its note (if any).
pub struct RowNote {
    pub row: String,
    pub note: Option<(Tone, String)>,
}

/// A list row the status bar can speak of.
pub trait Noted {
    fn row_note(&self) -> RowNote;
}

impl<T: Noted> Noted for Numbered<T> {
    fn row_note(&self) -> RowNote {
        self.row.row_note()
    }
}

impl Noted for Event {
    fn row_note(&self) -> RowNote {
        let reasons: Vec<String> = (self.reasons.iter())
            .map(|r| format!("{}: {}", r.field, r.reason))
            .collect();
        let note = match (&self.last_error, &self.note) {
            (Some(error), _) => Some((Tone::Error, error.clone())),
            _ if !reasons.is_empty() => Some((Tone::Error, reasons.join("; "))),
            (None, Some(note)) => Some((Tone::Plain, note.clone())),
            (None, None) => None,
        };
        RowNote {
            row: format!("event {} {}", self.id, self.employee_id),
            note,
        }
    }
}

impl Noted for AuditEntry {
    fn row_note(&self) -> RowNote {
        let note = match &self.reason {
            Some(reason) => reason.clone(),
            None => self.after.to_string(),
        };
        RowNote {
            row: format!("#{} {}", self.seq, self.action),
            note: Some((Tone::Plain, note)),
        }
    }
}

impl Noted for DriftItem {
    fn row_note(&self) -> RowNote {
        let value = |v: &Option<String>| v.as_deref().map_or("—".to_string(), |v| format!("\"{v}\""));
        let mut note = format!(
            "HRIS {} · LMS {}",
            value(&self.hris_value),
            value(&self.lms_value)
        );
        if let Some(extra) = &self.note {
            note.push_str(&format!(" · {extra}"));
        }
        let what = match self.field.as_str() {
            "" => self.category.describe().to_string(),
            field => format!("{}: {field}", self.category.describe()),
        };
        RowNote {
            row: format!("{} {what}", self.employee_id),
            note: Some((Tone::Warning, note)),
        }
    }
}

impl Noted for DuplicateGroup {
    fn row_note(&self) -> RowNote {
        let mut note = format!("{} share {}", self.members.len(), self.match_key);
        if let Some(extra) = &self.note {
            note.push_str(&format!(" · {extra}"));
        }
        RowNote {
            row: format!("group {}", self.id),
            note: Some((Tone::Plain, note)),
        }
    }
}

impl Noted for Ranked {
    fn row_note(&self) -> RowNote {
        let c = &self.credential;
        let number = c.number.as_deref().map_or(String::new(), |n| format!(" ({n})"));
        let department = c
            .department
            .as_deref()
            .map_or(String::new(), |d| format!(", {d}"));
        RowNote {
            row: c.employee_id.clone(),
            note: Some((
                Tone::Plain,
                format!("{}{number}{department}, expires {}", c.name, c.expires),
            )),
        }
    }
}

impl Noted for ExportFile {
    fn row_note(&self) -> RowNote {
        let note = match (self.state, &self.reason) {
            (FileState::Held, _) => Some((
                Tone::Warning,
                format!(
                    "held whole; c confirms it ({} would be deactivated)",
                    self.counts.missing
                ),
            )),
            (FileState::Refused, Some(why)) => Some((Tone::Error, why.clone())),
            (_, Some(why)) => Some((Tone::Plain, why.clone())),
            (_, None) => None,
        };
        RowNote {
            row: format!("file {}", self.id),
            note,
        }
    }
}

fn tone_style(palette: Palette, tone: Tone) -> Style {
    match tone {
        Tone::Error => palette.bad(),
        Tone::Warning => palette.warn(),
        Tone::Plain => Style::default(),
    }
}

/// The selected row's note on one line of `area`.
pub fn draw(state: &State, row: Option<&impl Noted>, frame: &mut Frame, area: Rect) {
    let Some(row) = row else {
        return;
    };
    let RowNote { row, note } = row.row_note();
    let width = area.width as usize;
    // Both come from outside: ids, errors, values.
    let label = fit(&visible_string(format!("{row}: ")), width);
    let rest = width.saturating_sub(label.width());
    let body = match note {
        Some((tone, text)) => Span::styled(fit(&visible_string(text), rest), tone_style(state.palette, tone)),
        None => Span::styled(fit("no error (Enter: detail)", rest), state.palette.dim()),
    };
    let line = Line::from(vec![Span::styled(label, state.palette.accent()), body]);
    frame.render_widget(Paragraph::new(line), area);
}
