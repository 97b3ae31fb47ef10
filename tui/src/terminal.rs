//! The terminal the console draws on: raw mode and the alternate screen
//! while it runs, and the user's terminal back on every way out — normal
//! return, error (the guard's `Drop`) and panic (the hook).

use ratatui::DefaultTerminal;
use std::io;

/// Holds the terminal in console mode; dropping it restores the terminal.
pub struct TerminalGuard {
    pub terminal: DefaultTerminal,
}

/// Enters raw mode and the alternate screen, and installs a panic hook that
/// logs the panic and restores the terminal before the message is printed.
pub fn enter() -> io::Result<TerminalGuard> {
    // ratatui's own hook (installed by try_init) restores the terminal and
    // then prints the panic; ours, around it, logs it and shows the cursor.
    let terminal = ratatui::try_init()?;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!(%info, "panic");
        let _ = crossterm::execute!(io::stdout(), crossterm::cursor::Show);
        previous(info);
    }));
    Ok(TerminalGuard { terminal })
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = self.terminal.show_cursor();
        ratatui::restore();
    }
}
