//! The real `mld` and `mldctl` binaries, run as child processes.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// A binary of this workspace, next to the test executable
/// (`target/<profile>/deps/..`). `cargo test --workspace` builds both: `mld`
/// and `mldctl` each have integration tests of their own (`daemon/tests`,
/// `tui/tests`), and cargo builds a package's binaries for those.
/// `MLD_BIN_DIR` points elsewhere (e.g. `target/release`) to test other builds.
pub fn bin(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("MLD_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built; run the tests with `cargo test --workspace` so the binaries are built too",
        path.display()
    );
    path
}

/// Writes a configuration in `dir` with the socket and state inside it; `extra`
/// is appended verbatim.
pub fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("mld.toml");
    let text = format!(
        "[daemon]\nsocket = \"mld.sock\"\nstate_dir = \"state\"\nlog_level = \"debug\"\n\n\
         [datalakes.lake]\nkind = \"sqlite\"\npath = \"lake.db\"\n\n\
         [[jobs]]\nname = \"score\"\ndatalake = \"lake\"\nmodel = \"iris\"\nquery = \"SELECT id, x FROM t\"\n\
         key_column = \"id\"\nresults_table = \"scores\"\nschedule = \"0 2 * * *\"\n\n{extra}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A running `mld`; killed on drop if still running.
pub struct MldProcess {
    pub child: Child,
    pub socket: PathBuf,
    pub stderr_path: PathBuf,
}

impl MldProcess {
    /// Starts `mld --config CONFIG` and waits until its socket accepts connections.
    pub fn start(config: &Path, socket: &Path) -> MldProcess {
        MldProcess::start_binary(&bin("mld"), config, socket)
    }

    /// Starts the `mld` at `binary` (another build, e.g. an older commit's).
    pub fn start_binary(binary: &Path, config: &Path, socket: &Path) -> MldProcess {
        MldProcess::start_binary_with_env(binary, config, socket, &[])
    }

    /// [`Self::start`] with extra environment variables (`MLD_FAULT`, …).
    pub fn start_with_env(config: &Path, socket: &Path, env: &[(&str, &str)]) -> MldProcess {
        MldProcess::start_binary_with_env(&bin("mld"), config, socket, env)
    }

    fn start_binary_with_env(
        binary: &Path,
        config: &Path,
        socket: &Path,
        env: &[(&str, &str)],
    ) -> MldProcess {
        let stderr_path = config.with_extension("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let child = Command::new(binary)
            .envs(env.iter().copied())
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn mld");
        let mut p = MldProcess {
            child,
            socket: socket.to_path_buf(),
            stderr_path,
        };
        p.wait_listening(Duration::from_secs(20));
        p
    }

    fn wait_listening(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if std::os::unix::net::UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("mld exited early ({status}):\n{}", self.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "mld did not listen in time:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.stderr_path) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }

    /// Waits for the process to exit, failing the test past `limit`.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "mld did not exit in time:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for MldProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `mldctl ARGS` to completion.
pub fn mldctl(args: &[&str]) -> Output {
    Command::new(bin("mldctl"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run mldctl")
}

/// Runs `mld ARGS` to completion.
pub fn mld(args: &[&str]) -> Output {
    Command::new(bin("mld"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run mld")
}
