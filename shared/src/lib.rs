//! What the mld daemon and its console both speak.
//!
//! Owns the wire: protocol messages ([`protocol`]), the frame codec ([`frame`]),
//! the identifiers and roles that cross the socket ([`ids`], [`roles`], [`time`]),
//! and the configuration file's schema and loader ([`config`]), which the console
//! also reads to find the daemon's socket.
//!
//! Wire types here are not the daemon's internal types: the daemon converts at
//! the edge. Enums that travel on the wire only ever grow at the end, because
//! bincode encodes a variant by its index.

pub mod config;
pub mod frame;
pub mod ids;
pub mod protocol;
pub mod roles;
pub mod time;

/// The version of this crate, which is also the daemon's and the console's.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
