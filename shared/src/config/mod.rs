//! The configuration file: its schema, its loader, and errors that point at
//! the file, line and key.
//!
//! One TOML file describes the daemon, who may do what, what the monitor
//! watches, the datalakes, the model registry, the jobs, the dispatch view and
//! the showroom. [`load`] parses it, resolves relative paths against the file's
//! folder, and checks everything that can be checked without touching the
//! outside world. Cron expressions and timezones are the scheduler's to judge:
//! a bad one makes that job `invalid` and leaves the rest running.

mod error;
mod locate;
mod types;
mod validate;

pub use error::{ConfigError, ConfigErrors};
pub use types::*;
pub use validate::{is_plain_name, is_sql_identifier};

use std::path::{Path, PathBuf};

/// Where the daemon looks when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/mld/mld.toml";

/// Reads, parses and validates a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors::one(ConfigError::whole_file(
            path,
            format!("cannot read the file: {e}"),
        ))
    })?;
    parse(path, &text)
}

/// Parses and validates configuration text as if it had been read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    let base = std::path::absolute(&base).unwrap_or(base);
    let doc = locate::Document::parse(path, text).map_err(ConfigErrors::one)?;
    let raw: types::RawConfig = doc.deserialize().map_err(ConfigErrors::one)?;
    validate::validate(raw, &doc, path, &base)
}
