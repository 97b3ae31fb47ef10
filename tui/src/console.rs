//! The console's event loop: one `select!` over terminal input, the
//! connection task's events and a one-second tick.
//!
//! Receives the socket path; owns the terminal (through [`TerminalGuard`])
//! and the [`App`]; turns everything that happens into a [`Msg`], lets
//! [`update`] change the model, carries out the [`Cmd`]s, and draws only when
//! the model says something changed. Nothing spins: each turn waits for one
//! of the three sources. SIGTERM, SIGHUP (the SSH session went away) and
//! SIGINT end the loop like `q`, so the terminal is restored and a demo
//! daemon is stopped on those paths too.

use crate::app::{App, Cmd, Msg, update};
use crate::conn::{self, ConnCommand};
use crate::terminal;
use crate::ui;
use crossterm::event::{Event, EventStream};
use futures::StreamExt;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::MissedTickBehavior;

pub async fn run(socket: PathBuf, dispatch_window: SignedDuration) -> anyhow::Result<()> {
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let tz = TimeZone::system();
    let mut app = App::new(socket.clone(), color, Timestamp::now(), tz.clone())
        .with_dispatch_window(dispatch_window);
    let (commands, mut events) = conn::spawn(socket);
    let mut signals = quit_signals()?;
    let mut guard = terminal::enter()?;
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut drawn = FramesDrawn {
        since: std::time::Instant::now(),
        frames: 0,
    };
    loop {
        if app.dirty {
            let now = Zoned::now().with_time_zone(tz.clone());
            guard
                .terminal()
                .draw(|frame| ui::render(frame, &app, &now))?;
            app.dirty = false;
            drawn.frames += 1;
        }
        let msg = tokio::select! {
            signal = signals.recv() => {
                tracing::info!(signal, "quit on signal");
                return Ok(());
            }
            event = input.next() => match event {
                Some(Ok(Event::Key(key))) => Msg::Key(key),
                Some(Ok(Event::Resize(..))) => Msg::Resize,
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(anyhow::Error::new(e).context("reading the terminal")),
                None => return Ok(()),
            },
            event = events.recv() => match event {
                Some(event) => Msg::Conn(event),
                None => anyhow::bail!("the connection task stopped unexpectedly (see the log)"),
            },
            _ = tick.tick() => Msg::Tick(Timestamp::now()),
        };
        let mut cmds = update(&mut app, msg);
        while !cmds.is_empty() {
            let mut unsent = Vec::new();
            for cmd in cmds {
                match cmd {
                    Cmd::Quit => {
                        tracing::info!("quit");
                        return Ok(());
                    }
                    Cmd::Send(id, request) => {
                        // A full channel means the daemon is not keeping up;
                        // refusing a user action (and saying so) is better
                        // than freezing the UI.
                        if commands
                            .try_send(ConnCommand::Request(id, request))
                            .is_err()
                        {
                            tracing::warn!("request refused: connection busy");
                            unsent.push(conn::unsent(id, "the connection is busy; try again"));
                        }
                    }
                }
            }
            cmds = unsent
                .into_iter()
                .flat_map(|event| update(&mut app, Msg::Conn(event)))
                .collect();
        }
    }
}

/// Frames drawn, logged when the console closes (however it closes): it
/// draws only on a change, so an idle console's count stays low.
struct FramesDrawn {
    since: std::time::Instant,
    frames: u64,
}

impl Drop for FramesDrawn {
    fn drop(&mut self) {
        tracing::info!(
            frames = self.frames,
            seconds = self.since.elapsed().as_secs(),
            "console closed"
        );
    }
}

/// A channel that yields the name of each quit signal received.
fn quit_signals() -> std::io::Result<tokio::sync::mpsc::Receiver<&'static str>> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    for (kind, name) in [
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::interrupt(), "SIGINT"),
    ] {
        let mut stream = signal(kind)?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if tx.send(name).await.is_err() {
                    return;
                }
            }
        });
    }
    Ok(rx)
}
