//! The console's screens. Each owns its state and its keys: a model, a
//! `Msg` enum, a `Pending` enum (what each of its requests was for),
//! `update` and `render` — [`monitor`], [`dispatches`], [`showroom`],
//! [`models`].
//!
//! A screen reads what all screens share ([`Shared`]: the connection, who
//! we are, the daemon's latest snapshot, the clock) and writes only its own
//! state; what it wants done goes into its [`Effects`]: requests (each with
//! the `Pending` value its answer will come back with, matched by request
//! id), a status-line message, a redraw. The [`crate::app`] routes keys,
//! pushed updates and answers to the screen they belong to.

pub mod dispatches;
pub mod models;
pub mod monitor;
pub mod showroom;

use crate::app::Connection;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use mld_shared::protocol::{Request, Response, Snapshot, Welcome, WireError};
use mld_shared::roles::Role;
use std::path::PathBuf;

/// The daemon's answer to one request.
pub type Answer = Result<Response, WireError>;

/// What every screen may read; only the [`crate::app`] writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Shared {
    /// The socket the console talks to, shown while not connected.
    pub socket: PathBuf,
    pub connection: Connection,
    /// Who the daemon says we are; kept across reconnects until replaced.
    pub welcome: Option<Welcome>,
    /// The daemon's state as last received. Kept while disconnected (the
    /// header says it is stale) and replaced by the snapshot of the next
    /// subscription; `Update`s keep it current.
    pub data: Option<Snapshot>,
    /// The time of the last tick: what "2h" and "now" mean when a form is
    /// submitted. Passed in by the loop, so `update` never reads the clock.
    pub now: Timestamp,
    /// The zone times are shown and typed in (the system's).
    pub tz: TimeZone,
    /// Colours on or off (`NO_COLOR`); state words are always written out.
    pub color: bool,
}

impl Shared {
    /// Whether the daemon gave us `role` (admin implies every role).
    pub fn can(&self, role: Role) -> bool {
        self.welcome.as_ref().is_some_and(|w| w.roles.has(role))
    }

    pub fn is_admin(&self) -> bool {
        self.can(Role::Admin)
    }

    pub fn connected(&self) -> bool {
        self.connection == Connection::Connected
    }
}

/// How the status line shows a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    /// Asked; waiting for the answer.
    Working,
    Done,
    Failed,
}

/// One line at the bottom saying what the last action did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub kind: StatusKind,
    pub text: String,
}

/// What a screen's `update` asks for, besides changing its own state.
#[derive(Debug, Clone, PartialEq)]
pub struct Effects<P> {
    pub(crate) requests: Vec<(Request, P)>,
    pub(crate) status: Option<Status>,
    pub(crate) redraw: bool,
}

impl<P> Default for Effects<P> {
    fn default() -> Self {
        Effects {
            requests: Vec::new(),
            status: None,
            redraw: false,
        }
    }
}

impl<P> Effects<P> {
    /// Send `request`; its answer comes back as `Msg::Answer(purpose, …)`.
    pub fn send(&mut self, request: Request, purpose: P) {
        self.requests.push((request, purpose));
        self.redraw = true;
    }

    /// Something the screen shows changed.
    pub fn redraw(&mut self) {
        self.redraw = true;
    }

    pub fn working(&mut self, text: impl Into<String>) {
        self.set_status(StatusKind::Working, text.into());
    }

    pub fn done(&mut self, text: impl Into<String>) {
        self.set_status(StatusKind::Done, text.into());
    }

    pub fn failed(&mut self, text: impl Into<String>) {
        self.set_status(StatusKind::Failed, text.into());
    }

    fn set_status(&mut self, kind: StatusKind, text: String) {
        self.status = Some(Status { kind, text });
        self.redraw = true;
    }
}

/// A key a screen knows, for the footer and the `?` overlay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyHelp {
    pub keys: &'static str,
    pub does: &'static str,
    /// Only admins may; others see it marked unavailable.
    pub admin: bool,
    /// Shown in the footer, as this word (see [`KeyHelp::footer`]).
    pub footer: Option<&'static str>,
}

impl KeyHelp {
    pub const fn new(keys: &'static str, does: &'static str) -> KeyHelp {
        KeyHelp {
            keys,
            does,
            admin: false,
            footer: None,
        }
    }

    pub const fn admin(mut self) -> KeyHelp {
        self.admin = true;
        self
    }

    /// In the footer too, as the first word of `does`.
    pub const fn footer(self) -> KeyHelp {
        self.footer_as("")
    }

    /// In the footer too, as `word` (the first word of `does` when empty).
    pub const fn footer_as(mut self, word: &'static str) -> KeyHelp {
        self.footer = Some(word);
        self
    }
}

/// The daemon's refusal, as the status line says it: "permission denied:
/// disable needs admin" needs no more words.
pub fn error_text(what: &str, e: &WireError) -> String {
    if e.kind == mld_shared::protocol::ErrorKind::PermissionDenied {
        e.message.clone()
    } else {
        format!("{what}: {}", e.message)
    }
}

/// `selected` moved by `delta` rows within `len`, clamped.
pub fn step(selected: usize, delta: isize, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    (selected as isize + delta).clamp(0, len as isize - 1) as usize
}
