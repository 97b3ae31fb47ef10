//! The header: which daemon, how long it has been up, who we are, and the
//! state of the connection.
//!
//! Line 1: daemon version, uptime (from `status.started_at` and now), jobs,
//! running dispatches, clients; the user and roles on the right.
//! Line 2: connected / connecting / reconnecting in Ns, with the reason.

use super::format;
use super::theme::Theme;
use crate::app::{App, Connection};
use jiff::Zoned;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

/// Two lines; three while not connected, so the reason fits at 80 columns.
pub fn height(app: &App) -> u16 {
    match app.shared.connection {
        Connection::Connected | Connection::Connecting { before: None } => 2,
        _ => 3,
    }
}

/// Whether the header shows something that moves every second: only the
/// reconnect countdown (the uptime is shown to the minute).
pub fn ticks(app: &App) -> bool {
    matches!(app.shared.connection, Connection::Disconnected { .. })
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, now: &Zoned, theme: &Theme) {
    let [first, second] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let who = who(app);
    let [left, right] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(who.width() as u16)])
            .areas(first);
    frame.render_widget(Paragraph::new(daemon_line(app, now, theme)), left);
    frame.render_widget(Paragraph::new(who), right);
    frame.render_widget(
        Paragraph::new(connection_line(app, now, theme)).wrap(Wrap { trim: false }),
        second,
    );
}

fn daemon_line<'a>(app: &'a App, now: &Zoned, theme: &Theme) -> Line<'a> {
    let mut spans = vec![Span::styled(" mld", theme.title())];
    let Some(data) = &app.shared.data else {
        spans.push(Span::raw(" · no data yet"));
        return Line::from(spans);
    };
    let status = &data.status;
    spans.push(Span::styled(
        format!(" {}", status.daemon_version),
        theme.title(),
    ));
    // Uptime only means something while we can see the daemon.
    let uptime = match app.shared.connection {
        Connection::Connected => format!(
            "up {}",
            format::uptime(format::seconds_since(status.started_at, now))
        ),
        _ => "up ?".to_string(),
    };
    spans.push(Span::raw(format!(
        " · {uptime} · {} · {} running · {} {}",
        plural(status.jobs_configured, "job"),
        status.running_dispatches,
        status.connected_clients,
        if status.connected_clients == 1 {
            "client"
        } else {
            "clients"
        },
    )));
    Line::from(spans)
}

fn who(app: &App) -> Line<'static> {
    match &app.shared.welcome {
        // Admin implies the other roles; saying so once keeps the line short.
        Some(w) if w.roles.admin => Line::from(format!(" {} [admin] ", w.user)),
        Some(w) => Line::from(format!(" {} [{}] ", w.user, w.roles)),
        None => Line::from(""),
    }
}

fn connection_line<'a>(app: &'a App, now: &Zoned, theme: &Theme) -> Line<'a> {
    let socket = app.shared.socket.display().to_string();
    match &app.shared.connection {
        Connection::Connected => Line::from(vec![
            Span::styled(" ● connected", theme.good()),
            Span::styled(format!(" to {socket}"), theme.dim()),
        ]),
        Connection::Connecting { before: None } => Line::from(vec![
            Span::styled(" ◌ connecting", theme.warn()),
            Span::styled(format!(" to {socket}…"), theme.dim()),
        ]),
        Connection::Connecting {
            before: Some(reason),
        } => Line::from(vec![
            Span::styled(" ◌ reconnecting…", theme.warn()),
            Span::raw(format!(" {reason}")),
        ]),
        Connection::Disconnected { reason, retry_at } => Line::from(vec![
            Span::styled(" ✗ disconnected", theme.bad()),
            Span::styled(
                format!(
                    ", reconnecting in {}s",
                    format::seconds_until(*retry_at, now)
                ),
                theme.warn(),
            ),
            Span::raw(format!(" · {reason}")),
        ]),
    }
}

fn plural(n: u32, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}
