//! Styles, with colour only when allowed.
//!
//! Under `NO_COLOR` every style here is colourless; meaning never rests on
//! colour alone because every state is also written as a word.

use mld_shared::protocol::{HealthState, JobState};
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    color: bool,
}

impl Theme {
    pub fn new(color: bool) -> Self {
        Theme { color }
    }

    fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }

    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn selected_tab(&self) -> Style {
        self.fg(Color::Yellow)
            .add_modifier(Modifier::BOLD | Modifier::REVERSED)
    }

    pub fn selected_row(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// A change worth a look (a watched server that went offline):
    /// reversed, so it stands out without colour too.
    pub fn changed(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// A key this user may not use.
    pub fn unavailable(&self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::DarkGray)
                .add_modifier(Modifier::CROSSED_OUT)
        } else {
            Style::new()
        }
    }

    pub fn good(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn bad(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn health(&self, state: HealthState) -> Style {
        match state {
            HealthState::Online => self.good(),
            HealthState::Offline => self.warn(),
            HealthState::Error => self.bad(),
            HealthState::Unknown => self.dim(),
        }
    }

    pub fn job(&self, state: &JobState) -> Style {
        match state {
            JobState::Active => self.good(),
            JobState::Disabled { .. } => self.warn(),
            JobState::Invalid { .. } => self.bad(),
        }
    }
}
