//! The console's few colours, from the 16 every terminal has. With NO_COLOR or
//! `--no-color` they all become the default style; nothing relies on colour
//! alone (statuses carry a word and a symbol, the cursor is reversed).

use ratatui::style::{Color, Modifier, Style};

use crate::engine::operator::handle::EngineState;
use crate::model::EventStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    pub color: bool,
}

impl Palette {
    /// Colour unless `no_color` or a non-empty NO_COLOR says otherwise (no-color.org).
    pub fn from_env(no_color: bool) -> Palette {
        let env_off = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Palette {
            color: !(no_color || env_off),
        }
    }

    fn fg(self, color: Color) -> Style {
        if self.color {
            Style::default().fg(color)
        } else {
            Style::default()
        }
    }

    pub fn good(self) -> Style {
        self.fg(Color::Green)
    }

    pub fn warn(self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn bad(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn dim(self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }

    pub fn accent(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    /// The row under the cursor: reversed, so it shows without colour too.
    pub fn cursor(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    pub fn status(self, status: EventStatus) -> Style {
        match status {
            EventStatus::Applied | EventStatus::Unchanged => self.good(),
            EventStatus::Pending | EventStatus::Skipped | EventStatus::Shadowed => Style::default(),
            EventStatus::Retrying | EventStatus::Held | EventStatus::Flagged => self.warn(),
            EventStatus::DeadLetter | EventStatus::Rejected => self.bad(),
        }
    }

    pub fn engine(self, state: Option<EngineState>) -> Style {
        match state {
            Some(EngineState::Running) => self.good(),
            Some(EngineState::Paused) | Some(EngineState::Draining) | Some(EngineState::Degraded) => {
                self.warn()
            }
            None => self.bad(),
        }
    }
}

/// A status as a symbol and a word, so it reads the same without colour.
pub fn status_label(status: EventStatus) -> &'static str {
    match status {
        EventStatus::Pending => "· pending",
        EventStatus::Applied => "✓ applied",
        EventStatus::Unchanged => "= unchanged",
        EventStatus::Retrying => "↻ retrying",
        EventStatus::DeadLetter => "✗ dead",
        EventStatus::Rejected => "⊘ rejected",
        EventStatus::Held => "‖ held",
        EventStatus::Skipped => "» skipped",
        EventStatus::Flagged => "⚑ flagged",
        EventStatus::Shadowed => "◌ shadowed",
    }
}
