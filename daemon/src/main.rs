//! `mld`: the daemon's command line. Thin: arguments, logging, signals, then
//! `mld::run`.

use anyhow::Context as _;
use clap::Parser;
use mld_shared::config::{self, DEFAULT_CONFIG_PATH};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// The end of `mld --help` and of the man page.
const AFTER_HELP: &str = "\
SIGHUP re-reads the configuration and applies it; an invalid file is refused and the running \
one stays. SIGTERM shuts down gracefully: no new dispatches, and running ones get time to finish.

RUST_LOG overrides daemon.log_level. Logs go to stderr, which journald keeps under systemd \
(journalctl -u mld).

Files: /etc/mld/mld.toml, the configuration (the packaged example describes every key); \
/var/lib/mld, the state (the event log events.db and the model registry); /run/mld/mld.sock, \
the socket mldctl connects to.

See also: mldctl(1).";

/// Runs machine-learning models on a schedule; see `mldctl` for the console.
#[derive(Debug, Parser)]
#[command(name = "mld", version, about, after_long_help = AFTER_HELP)]
struct Args {
    /// The configuration file.
    #[arg(long, short, value_name = "PATH", default_value = DEFAULT_CONFIG_PATH)]
    config: PathBuf,
    /// Validate a configuration file (PATH, else --config) and exit: 0 if valid, 1 if not.
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "")]
    check_config: Option<PathBuf>,
    /// Before starting, make the demo directory score for real: train the demo
    /// model and fill the demo datalake (what `mldctl demo` uses).
    #[arg(long, hide = true)]
    init_demo: bool,
    /// Print a completion script for SHELL and exit (the package installs them).
    #[arg(long, hide = true, value_name = "SHELL")]
    completions: Option<clap_complete::Shell>,
    /// Write the man page (mld.8) into DIR and exit.
    #[arg(long, hide = true, value_name = "DIR")]
    manpage: Option<PathBuf>,
}

// `mld worker`, parsed on its own before `Args` so that it stays out of the
// daemon's help, man page and completions.
/// Scores one shard of a dispatch (run by an executor, not by hand).
#[derive(Debug, Parser)]
#[command(name = "mld worker", bin_name = "mld worker")]
struct WorkerArgs {
    /// The dispatch's spec in the spool.
    #[arg(long, value_name = "PATH")]
    spec: PathBuf,
    /// The shard; default `$SLURM_ARRAY_TASK_ID`.
    #[arg(long)]
    shard: Option<u32>,
    #[arg(long, default_value_t = 0)]
    attempt: u32,
}

/// `mld worker`: 0 when the shard is scored and written, 1 when its report
/// says why not, 2 when not even a report could be written.
fn worker(spec: &std::path::Path, shard: Option<u32>, attempt: u32) -> ExitCode {
    init_logging("info");
    let shard = match shard.or_else(|| {
        std::env::var("SLURM_ARRAY_TASK_ID")
            .ok()
            .and_then(|v| v.parse().ok())
    }) {
        Some(s) => s,
        None => {
            eprintln!("mld worker: no --shard and no SLURM_ARRAY_TASK_ID");
            return ExitCode::from(2);
        }
    };
    match mld::scaleout::worker::run(spec, shard, attempt) {
        Ok(report) => match &report.error {
            None => {
                eprintln!(
                    "mld worker: shard {shard} attempt {attempt}: {} rows read, {} predicted, {} unscorable, {} written",
                    report.collected, report.predicted, report.unscorable, report.inserted
                );
                ExitCode::SUCCESS
            }
            Some(e) => {
                eprintln!(
                    "mld worker: shard {shard} attempt {attempt} failed at {}: {e}",
                    report.failed_step.as_deref().unwrap_or("?")
                );
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("mld worker: shard {shard} attempt {attempt}: {e}");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == "worker") {
        let w = WorkerArgs::parse_from(std::env::args_os().skip(1));
        return worker(&w.spec, w.shard, w.attempt);
    }
    let args = Args::parse();
    if let Some(shell) = args.completions {
        use clap::CommandFactory;
        use std::io::Write;
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Args::command(), "mld", &mut script);
        return match std::io::stdout().lock().write_all(&script) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                eprintln!("mld: writing the completion script: {e}");
                ExitCode::FAILURE
            }
            _ => ExitCode::SUCCESS,
        };
    }
    if let Some(dir) = &args.manpage {
        return match write_man_page(dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mld: writing the man page into {}: {e}", dir.display());
                ExitCode::FAILURE
            }
        };
    }
    if let Some(path) = &args.check_config {
        let path = if path.as_os_str().is_empty() {
            &args.config
        } else {
            path
        };
        return match config::load(path) {
            Ok(c) => {
                println!(
                    "{}: valid ({} jobs, {} datalakes, {} watched servers)",
                    path.display(),
                    c.jobs.len(),
                    c.datalakes.len(),
                    c.monitor.servers.len()
                );
                ExitCode::SUCCESS
            }
            Err(errors) => {
                eprintln!("{errors}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match config::load(&args.config) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("mld: invalid configuration, not starting:\n{errors}");
            return ExitCode::FAILURE;
        }
    };
    init_logging(&config.daemon.log_level);
    if args.init_demo
        && let Err(e) = mld::demo::setup(&config)
    {
        tracing::error!("demo setup failed: {e}");
        return ExitCode::FAILURE;
    }
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `mld.8`: a daemon's page is in section 8.
fn write_man_page(dir: &std::path::Path) -> std::io::Result<()> {
    use clap::CommandFactory;
    std::fs::create_dir_all(dir)?;
    clap_mangen::Man::new(Args::command())
        .section("8")
        .generate_to(dir)
        .map(|_| ())
}

/// Logs go to stderr (journald under systemd); `RUST_LOG` overrides the config.
fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level.to_ascii_lowercase()));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
}

fn run(config: config::Config) -> anyhow::Result<()> {
    let open_files = mld::server::raise_open_files_limit();
    tracing::debug!(open_files, "open file limit");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let listener = mld::server::bind(&config.daemon)?;
        let shutdown = CancellationToken::new();
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;

        let (handle_tx, mut handle_rx) = tokio::sync::mpsc::unbounded_channel();
        let daemon = tokio::spawn(mld::run(
            config,
            listener,
            shutdown.clone(),
            move |handle: &mld::Handle| {
                let _ = handle_tx.send(mld::Handle {
                    context: handle.context.clone(),
                });
                notify_systemd(&[sd_notify::NotifyState::Ready]);
                tracing::info!(version = mld_shared::VERSION, "ready");
            },
        ));
        let watchdog = watchdog(shutdown.clone());
        let mut handle: Option<mld::Handle> = None;
        let mut daemon = std::pin::pin!(daemon);
        loop {
            tokio::select! {
                h = handle_rx.recv(), if handle.is_none() => handle = h,
                _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
                _ = int.recv() => { tracing::info!("SIGINT: shutting down"); break; }
                _ = hup.recv() => {
                    // systemd (Type=notify-reload and newer) wants the monotonic time with RELOADING=1.
                    let mut reloading = vec![sd_notify::NotifyState::Reloading];
                    if let Ok(t) = sd_notify::NotifyState::monotonic_usec_now() {
                        reloading.push(t);
                    }
                    notify_systemd(&reloading);
                    match &handle {
                        // The reload logs what changed, or why the file was refused.
                        Some(h) => if let Err(e) = h.reload("SIGHUP").await
                            && !matches!(e, mld::reload::ReloadError::Invalid(_))
                        {
                            tracing::error!("reload: {e}");
                        },
                        None => tracing::warn!("SIGHUP before the daemon was ready; ignored"),
                    }
                    notify_systemd(&[sd_notify::NotifyState::Ready]);
                }
                result = &mut daemon => {
                    // The daemon stopped on its own: an error at start-up, most likely.
                    return result.context("the daemon task failed")?.map_err(anyhow::Error::from);
                }
            }
        }
        notify_systemd(&[sd_notify::NotifyState::Stopping]);
        shutdown.cancel();
        watchdog.abort();
        daemon.await.context("the daemon task failed")??;
        Ok(())
    })
}

fn notify_systemd(state: &[sd_notify::NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_some()
        && let Err(e) = sd_notify::notify(state)
    {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Pings systemd's watchdog at half its interval, when one is configured.
fn watchdog(shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(interval) = sd_notify::watchdog_enabled() else {
            return;
        };
        let period = interval / 2;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(period) => notify_systemd(&[sd_notify::NotifyState::Watchdog]),
            }
        }
    })
}
