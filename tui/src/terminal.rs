//! The terminal the console draws on: raw mode and the alternate screen
//! while it runs, and the user's terminal back on every way out — normal
//! return, error (the guard's `Drop`) and panic (the hook).

use ratatui::DefaultTerminal;
use std::io;

/// Holds the terminal in console mode; dropping it restores the terminal.
pub struct TerminalGuard {
    /// Always `Some` until dropped.
    terminal: Option<DefaultTerminal>,
}

impl TerminalGuard {
    pub fn terminal(&mut self) -> &mut DefaultTerminal {
        self.terminal
            .as_mut()
            .expect("the terminal is held until the guard drops")
    }
}

/// Enters raw mode and the alternate screen, and installs a panic hook that
/// logs the panic and restores the terminal before the message is printed.
///
/// Restoring never prints: when the terminal is gone (an SSH session that
/// hung up), writing to it fails, and ratatui reports that on stderr (its
/// `restore`, and a `Terminal` dropped with its cursor hidden), which is
/// gone too: the print panicked, and inside the panic hook aborted the
/// process, leaving a demo daemon running. So the hook is ours alone
/// (ratatui's is dropped) and uses `try_restore`, and a terminal whose
/// cursor cannot be shown again is forgotten rather than dropped.
pub fn enter() -> io::Result<TerminalGuard> {
    let default = std::panic::take_hook();
    let terminal = ratatui::try_init()?;
    // Replaces the hook ratatui installed around `default`.
    let _ratatuis = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!(%info, "panic");
        let _ = ratatui::try_restore();
        let _ = crossterm::execute!(io::stdout(), crossterm::cursor::Show);
        default(info);
    }));
    Ok(TerminalGuard {
        terminal: Some(terminal),
    })
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        if let Some(mut terminal) = self.terminal.take()
            && terminal.show_cursor().is_err()
        {
            // Its own drop would try again and print the failure.
            std::mem::forget(terminal);
        }
        if let Err(e) = ratatui::try_restore() {
            tracing::info!(error = %e, "the terminal could not be restored (gone?)");
        }
    }
}
