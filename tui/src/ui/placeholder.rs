//! The screens that later issues fill: a frame that says what will be here.

use super::theme::Theme;
use crate::app::Tab;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Padding, Paragraph, Wrap};

pub fn render(frame: &mut Frame, area: Rect, tab: Tab, theme: &Theme) {
    let (arrives_with, what) = match tab {
        Tab::Showroom => (
            "the showroom",
            "Choose a model, see its sample rows with the prediction of each, select a row to \
             predict it again, edit values to see the prediction change.",
        ),
        Tab::Models => (
            "the model registry and training",
            "Registry versions with their metrics, the catalog of data sets, trainings and \
             their progress, experiments to inspect and commit.",
        ),
        Tab::Monitor | Tab::Dispatches => ("", ""),
    };
    let lines = vec![
        Line::from(""),
        Line::from(Span::styled(
            format!("This screen arrives with {arrives_with}."),
            theme.title(),
        )),
        Line::from(""),
        Line::from(what),
    ];
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .padding(Padding::horizontal(1))
                .title(Span::styled(format!(" {} ", tab.title()), theme.title())),
        ),
        area,
    );
}
