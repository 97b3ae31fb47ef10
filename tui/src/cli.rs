//! The command line: arguments, where the daemon's socket is, and which
//! subcommand runs.
//!
//! Receives the raw arguments and the environment; emits a validated [`Cli`]
//! and hands it to the console, a script subcommand or the demo.

use anyhow::Context;
use clap::{Parser, Subcommand};
use mld_shared::config::DEFAULT_CONFIG_PATH;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The daemon's socket when no flag, variable or configuration names one.
pub const DEFAULT_SOCKET_PATH: &str = "/run/mld/mld.sock";

/// The end of `mldctl --help` and of the man page.
const AFTER_HELP: &str = "\
Script subcommands take --json to print one JSON document instead of text. MLD_SOCKET names \
the daemon's socket, as --socket does; NO_COLOR draws the console without colour.

Files: /etc/mld/mld.toml, the daemon's configuration, whose daemon.socket is where mldctl \
connects; /run/mld/mld.sock, the packaged daemon's socket: members of the group mld may \
connect (the dispatch role), members of mld-admin also hold the admin role.

See also: mld(8); `mldctl completions SHELL` prints a tab-completion script.";

/// The mld console: live health, jobs, dispatches, showroom and models.
///
/// Without a subcommand it opens the console on the Monitor screen.
#[derive(Debug, Parser)]
#[command(name = "mldctl", version, about, long_about = None, after_long_help = AFTER_HELP)]
pub struct Cli {
    /// The daemon's Unix socket [default: from --config, else /etc/mld/mld.toml, else /run/mld/mld.sock]
    #[arg(long, global = true, value_name = "PATH", env = "MLD_SOCKET")]
    pub socket: Option<PathBuf>,

    /// Read the socket path from this configuration file's `daemon.socket`.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Where the console writes its log [default: $XDG_STATE_HOME/mld/mldctl.log]
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the console (the default).
    Console,
    /// Print the daemon's version, uptime, jobs, running dispatches and clients.
    Status {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Start a demo daemon with the bundled configuration and open the console on it.
    Demo {
        /// Folder for the demo's configuration, assets and state
        /// [default: $XDG_STATE_HOME/mld/demo]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Scheduling and dispatches: jobs, enable, disable, run, slots, history,
    /// dispatches, dispatch, cancel, retry; and reload.
    #[command(flatten)]
    Scheduling(crate::cmd::Command),
    /// Models and training: models, catalog, train, experiments, experiment,
    /// commit, activate, import-onnx, predict.
    #[command(flatten)]
    Models(crate::cmd::models::ModelCommand),
    /// A model's showroom: every sample row with its prediction; one row on
    /// its own (--row), edited (--set) and why (--explain). Without MODEL, the showrooms.
    Showroom(crate::cmd::showroom::ShowroomArgs),
    /// Print a completion script for SHELL: bash, zsh, fish, elvish or powershell
    /// (e.g. `source <(mldctl completions bash)`).
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (mldctl.1 and one per subcommand) into DIR.
    #[command(hide = true)]
    Manpages {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

impl Cli {
    pub fn parse_args() -> Self {
        Cli::parse()
    }

    /// Where the daemon listens: `--socket` (or `MLD_SOCKET`, which clap folds
    /// into it), else `--config`'s `daemon.socket`, else the default config's,
    /// else [`DEFAULT_SOCKET_PATH`].
    pub fn socket_path(&self) -> anyhow::Result<PathBuf> {
        resolve_socket(
            self.socket.as_deref(),
            self.config.as_deref(),
            Path::new(DEFAULT_CONFIG_PATH),
        )
    }
}

fn resolve_socket(
    socket: Option<&Path>,
    config: Option<&Path>,
    default_config: &Path,
) -> anyhow::Result<PathBuf> {
    if let Some(socket) = socket {
        return Ok(socket.to_path_buf());
    }
    if let Some(config) = config {
        return socket_from_config(config);
    }
    if default_config.exists() {
        return socket_from_config(default_config);
    }
    Ok(PathBuf::from(DEFAULT_SOCKET_PATH))
}

fn socket_from_config(path: &Path) -> anyhow::Result<PathBuf> {
    let config = mld_shared::config::load(path)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot find the daemon's socket in {}", path.display()))?;
    Ok(config.daemon.socket)
}

/// Runs the chosen subcommand.
pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        None | Some(Command::Console) => {
            let socket = cli.socket_path()?;
            let _log = crate::logging::init(cli.log_file.as_deref())?;
            let window = crate::cmd::default_window(cli.config.as_deref())?;
            crate::console::run(socket, window).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Status { json }) => {
            let socket = cli.socket_path()?;
            crate::status::run(&socket, *json).await
        }
        Some(Command::Scheduling(command)) => {
            let socket = cli.socket_path()?;
            crate::cmd::run(command, &socket, cli.config.as_deref()).await
        }
        Some(Command::Models(command)) => {
            let socket = cli.socket_path()?;
            crate::cmd::models::run(command, &socket).await
        }
        Some(Command::Showroom(args)) => {
            let socket = cli.socket_path()?;
            crate::cmd::showroom::run(args, &socket).await
        }
        Some(Command::Completions { shell }) => {
            use std::io::Write;
            let script = completions(*shell);
            match std::io::stdout().lock().write_all(&script) {
                // `mldctl completions bash | head` is not an error.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(e).context("writing the completion script")
                }
                _ => Ok(ExitCode::SUCCESS),
            }
        }
        Some(Command::Manpages { dir }) => {
            write_man_pages(dir)?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Demo { dir }) => {
            let _log = crate::logging::init(cli.log_file.as_deref())?;
            crate::demo::run(dir.clone()).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The completion script for `shell`, from the same definitions the parser uses.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    use clap::CommandFactory;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "mldctl", &mut script);
    script
}

/// `mldctl.1` and `mldctl-SUBCOMMAND.1` for each visible subcommand, into `dir`.
pub fn write_man_pages(dir: &Path) -> anyhow::Result<()> {
    use clap::CommandFactory;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    clap_mangen::generate_to(Cli::command(), dir)
        .with_context(|| format!("writing the man pages into {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO_CONFIG: &str = include_str!("../../config/mld.toml");

    #[test]
    fn socket_flag_wins_over_everything() {
        let got = resolve_socket(
            Some(Path::new("/tmp/x.sock")),
            Some(Path::new("/nonexistent.toml")),
            Path::new("/nonexistent.toml"),
        )
        .unwrap();
        assert_eq!(got, PathBuf::from("/tmp/x.sock"));
    }

    #[test]
    fn config_file_socket_is_resolved_against_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        let file = dir.path().join("config/mld.toml");
        std::fs::write(&file, DEMO_CONFIG).unwrap();
        let got = resolve_socket(None, Some(&file), Path::new("/nonexistent.toml")).unwrap();
        assert!(got.is_absolute(), "{}", got.display());
        assert!(got.ends_with("state/mld.sock"), "{}", got.display());
        // The default config is used when present and nothing else is given.
        let got_default = resolve_socket(None, None, &file).unwrap();
        assert_eq!(got, got_default);
    }

    #[test]
    fn without_anything_the_default_socket_is_used() {
        let got = resolve_socket(None, None, Path::new("/nonexistent/mld.toml")).unwrap();
        assert_eq!(got, PathBuf::from(DEFAULT_SOCKET_PATH));
    }

    #[test]
    fn a_broken_config_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "[daemon]\nsockett = 1\n").unwrap();
        let err = resolve_socket(None, Some(&file), Path::new("/x")).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("bad.toml"), "{text}");
    }

    #[test]
    fn cli_parses_subcommands() {
        let cli = Cli::try_parse_from(["mldctl", "status", "--json", "--socket", "/s"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Status { json: true })));
        assert_eq!(cli.socket.as_deref(), Some(Path::new("/s")));
        let cli = Cli::try_parse_from(["mldctl"]).unwrap();
        assert!(cli.command.is_none());
    }
}
