//! A real one-node Slurm cluster for tests: `munged`, `slurmctld` and
//! `slurmd` from Debian's packages, in a temp dir, on free ports, with their
//! own munge socket (`AuthInfo=socket=…`), so several test binaries (and
//! other engineers' tests) each run their own at once.
//!
//! The daemons run in the foreground (`munged -F`, `slurmctld -D`, `slurmd
//! -D`) as children of a supervising shell the harness starts: it waits for
//! the test process to exit, then stops them by PID (TERM, then KILL) and
//! reaps them, and removes the temp dir — the machine's PID 1 may not reap
//! orphans, and a `static` is never dropped. Needs root (slurmd runs jobs as
//! their user; munged runs as `munge`). Missing binaries are a test failure
//! with a clear message, never a silent pass.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The partition jobs go to.
pub const PARTITION: &str = "batch";

#[derive(Debug)]
pub struct SlurmCluster {
    dir: PathBuf,
    conf: PathBuf,
}

static SHARED: OnceLock<SlurmCluster> = OnceLock::new();

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn which(name: &str) -> Option<PathBuf> {
    [
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
        "/usr/local/sbin",
        "/usr/local/bin",
    ]
    .iter()
    .map(|d| Path::new(d).join(name))
    .find(|p| p.exists())
}

fn chown_munge(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let user = nix::unistd::User::from_name("munge")
        .ok()
        .flatten()
        .expect("the `munge` user (apt-get install munge)");
    nix::unistd::chown(path, Some(user.uid), Some(user.gid)).expect("chown to munge");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

impl SlurmCluster {
    /// The cluster of this test binary, started on first use.
    pub fn shared() -> &'static SlurmCluster {
        SHARED.get_or_init(|| match SlurmCluster::start() {
            Ok(c) => c,
            Err(e) => panic!("Slurm test cluster: {e}"),
        })
    }

    /// The `slurm.conf` the cluster's commands need (`SLURM_CONF`).
    pub fn conf(&self) -> &Path {
        &self.conf
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A command (`sbatch`, `squeue`, …) talking to this cluster.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf).stdin(Stdio::null());
        c
    }

    pub fn start() -> Result<SlurmCluster, String> {
        if !nix::unistd::geteuid().is_root() {
            return Err("the Slurm tests run as root (slurmd runs jobs as their user)".into());
        }
        let need = |n: &str| {
            which(n).ok_or_else(|| {
                format!("{n} is not installed: apt-get install slurmctld slurmd slurm-client munge")
            })
        };
        let (munged, ctld, slurmd) = (need("munged")?, need("slurmctld")?, need("slurmd")?);
        need("sbatch")?;
        let dir = tempfile::Builder::new()
            .prefix("mld-slurm-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?
            .keep();
        use std::os::unix::fs::PermissionsExt;
        // munged checks that the socket's folder is reachable by everyone.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711)).unwrap();
        let munge = dir.join("munge");
        let run = dir.join("run");
        for d in [&munge, &run] {
            std::fs::create_dir(d).unwrap();
        }
        chown_munge(&munge, 0o700);
        chown_munge(&run, 0o755);
        let key = munge.join("munge.key");
        let made = Command::new(need("mungekey")?)
            .arg("--create")
            .arg(format!("--keyfile={}", key.display()))
            .status()
            .map_err(|e| format!("mungekey: {e}"))?;
        if !made.success() {
            return Err("mungekey --create failed".into());
        }
        chown_munge(&key, 0o600);
        for d in ["state", "spool", "log"] {
            std::fs::create_dir(dir.join(d)).unwrap();
        }
        let socket = run.join("munge.sock");
        let (ctld_port, slurmd_port) = (free_port(), free_port());
        let d = dir.display();
        let conf = dir.join("slurm.conf");
        std::fs::write(
            &conf,
            format!(
                "ClusterName=mldtest\nSlurmctldHost=localhost\nSlurmctldPort={ctld_port}\nSlurmdPort={slurmd_port}\n\
                 AuthType=auth/munge\nAuthInfo=socket={socket}\nCredType=cred/munge\n\
                 SlurmUser=root\nSlurmdUser=root\n\
                 StateSaveLocation={d}/state\nSlurmdSpoolDir={d}/spool\n\
                 SlurmctldPidFile={d}/slurmctld.pid\nSlurmdPidFile={d}/slurmd.pid\n\
                 SlurmctldLogFile={d}/log/slurmctld.log\nSlurmdLogFile={d}/log/slurmd.log\n\
                 ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\nMpiDefault=none\n\
                 SelectType=select/cons_tres\nSelectTypeParameters=CR_CPU\n\
                 AccountingStorageType=accounting_storage/none\n\
                 JobCompType=jobcomp/filetxt\nJobCompLoc={d}/log/jobcomp.log\n\
                 SchedulerParameters=batch_sched_delay=0,sched_min_interval=0\n\
                 ReturnToService=2\nSlurmdParameters=config_overrides\nMinJobAge=300\n\
                 NodeName=localhost NodeAddr=127.0.0.1 CPUs=8 State=UNKNOWN\n\
                 PartitionName={PARTITION} Nodes=localhost Default=YES MaxTime=INFINITE State=UP\n",
                socket = socket.display(),
            ),
        )
        .map_err(|e| e.to_string())?;
        // The supervisor: the daemons are its children; it stops and reaps
        // them (by PID) once the test process is gone, then removes the dir.
        let q = |p: &Path| format!("'{}'", p.display());
        let script = format!(
            "setpriv --reuid=munge --regid=munge --init-groups {munged} -F --socket={sock} --key-file={key} \
               --pid-file={mpid} --log-file={mlog} --seed-file={seed} >{d}/log/munged.out 2>&1 &\n\
             m=$!\n\
             i=0; while [ ! -S {sock} ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done\n\
             SLURM_CONF={conf} {ctld} -D -f {conf} >{d}/log/slurmctld.out 2>&1 &\n\
             c=$!\n\
             SLURM_CONF={conf} {slurmd} -D -f {conf} >{d}/log/slurmd.out 2>&1 &\n\
             s=$!\n\
             echo \"$m $c $s\" >{d}/pids\n\
             while kill -0 {pid} 2>/dev/null; do sleep 1; done\n\
             kill -TERM $s $c $m 2>/dev/null; sleep 2; kill -KILL $s $c $m 2>/dev/null; wait\n\
             rm -rf '{d}'\n",
            munged = q(&munged),
            sock = q(&socket),
            key = q(&key),
            mpid = q(&munge.join("munged.pid")),
            mlog = q(&munge.join("munged.log")),
            seed = q(&munge.join("seed")),
            conf = q(&conf),
            ctld = q(&ctld),
            slurmd = q(&slurmd),
            pid = std::process::id(),
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("sh: {e}"))?;
        let cluster = SlurmCluster { dir, conf };
        cluster.wait_idle(Duration::from_secs(30))?;
        Ok(cluster)
    }

    /// Waits until the node is idle (registered and taking jobs).
    fn wait_idle(&self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            let out = self
                .command("sinfo")
                .args(["-h", "-N", "-o", "%t"])
                .output()
                .map_err(|e| format!("sinfo: {e}"))?;
            let text = String::from_utf8_lossy(&out.stdout);
            if out.status.success() && text.trim() == "idle" {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the node is not idle after {limit:?} (sinfo: {:?} {:?}); logs in {}:\n{}",
                    text.trim(),
                    String::from_utf8_lossy(&out.stderr).trim(),
                    self.dir.display(),
                    self.logs()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The daemons' logs, for failure messages.
    pub fn logs(&self) -> String {
        ["log/munged.out", "log/slurmctld.log", "log/slurmd.log"]
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                format!(
                    "== {f}\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `[executors.NAME]` for this cluster, the spool in `spool`.
    pub fn executor_toml(&self, name: &str, spool: &Path) -> String {
        format!(
            "[executors.{name}]\nkind = \"slurm\"\npartition = \"{PARTITION}\"\nspool = {:?}\n\
             slurm_conf = {:?}\nsbatch_args = [\"--time=00:30:00\"]\npoll = \"200ms\"\n",
            spool.display().to_string(),
            self.conf.display().to_string()
        )
    }
}
