//! Executors: where a dispatch's shards run, and how the daemon follows them.
//!
//! - [`Local`]: `mld worker` processes on the daemon's machine, at most
//!   `workers` at once; followed by waiting on them; they die with the
//!   thread that follows them (`PR_SET_PDEATHSIG`), so a daemon that dies
//!   leaves none running.
//! - [`Slurm`]: one array job per submission (`sbatch --parsable
//!   --array=…`), the shard number as the array index; followed with Slurm's
//!   own commands: `squeue -r` while a task is queued or running,
//!   `scontrol show job` once it left the queue, and the job-completion log
//!   (`JobCompType=jobcomp/filetxt`) once `scontrol` forgot it (`sacct`
//!   needs slurmdbd, which a cluster may not run); cancelled with `scancel`.
//!
//! Both are blocking and owned by the thread that follows one dispatch.
//! Workers get the daemon's environment without the variables that hold a
//! datalake's connection string or password (`connection_env`,
//! `password_env`): the password reaches them only through the spool's
//! connection file.

use super::spool::DispatchSpool;
use mld_shared::config::{ExecutorConfig, ExecutorKind};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One attempt of one shard.
pub type TaskKey = (u32, u32);

/// What an executor says about a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    /// Queued: waiting for a node or a worker slot.
    Pending,
    Running {
        node: Option<String>,
    },
    /// It ended: exited 0, or how it did not.
    Ended {
        ok: bool,
        how: String,
    },
    /// The executor knows nothing of it any more.
    Gone,
}

impl TaskState {
    pub fn is_active(&self) -> bool {
        matches!(self, TaskState::Pending | TaskState::Running { .. })
    }
}

pub trait Executor: Send {
    /// Submits these shard attempts. Returns each one's task name.
    fn submit(&mut self, tasks: &[TaskKey]) -> Result<Vec<(TaskKey, String)>, String>;
    /// The state of every task submitted.
    fn poll(&mut self) -> Result<HashMap<TaskKey, TaskState>, String>;
    /// Stops every task (`scancel`, or a signal), without waiting.
    fn cancel_all(&mut self) -> Result<(), String>;
}

/// Environment variables a worker must not inherit: they hold secrets.
pub fn secret_variables(config: &mld_shared::config::Config) -> Vec<String> {
    config
        .datalakes
        .values()
        .flat_map(|d| [d.connection_env.clone(), d.password_env.clone()])
        .flatten()
        .collect()
}

/// The binary workers run.
pub fn worker_binary(cfg: &ExecutorConfig) -> PathBuf {
    cfg.mld
        .clone()
        .unwrap_or_else(|| std::env::current_exe().unwrap_or_else(|_| PathBuf::from("mld")))
}

/// Makes the executor a configuration names, for one dispatch's spool.
pub fn open(
    cfg: &ExecutorConfig,
    spool: DispatchSpool,
    dispatch: i64,
    hide: Vec<String>,
) -> Box<dyn Executor> {
    match cfg.kind {
        ExecutorKind::Local => Box::new(Local {
            mld: worker_binary(cfg),
            workers: cfg.local_workers().max(1) as usize,
            spool,
            hide,
            node: super::worker::node_name(),
            queue: VecDeque::new(),
            running: BTreeMap::new(),
            ended: HashMap::new(),
        }),
        ExecutorKind::Slurm => Box::new(Slurm {
            cfg: cfg.clone(),
            mld: worker_binary(cfg),
            spool,
            dispatch,
            hide,
            jobs: Vec::new(),
            ended: HashMap::new(),
            jobcomp: None,
        }),
    }
}

/// Worker processes on this machine.
pub struct Local {
    mld: PathBuf,
    workers: usize,
    spool: DispatchSpool,
    hide: Vec<String>,
    node: String,
    queue: VecDeque<TaskKey>,
    running: BTreeMap<TaskKey, Child>,
    ended: HashMap<TaskKey, TaskState>,
}

impl Local {
    fn start_ready(&mut self) -> Result<(), String> {
        while self.running.len() < self.workers {
            let Some((shard, attempt)) = self.queue.pop_front() else {
                return Ok(());
            };
            let log_path = self.spool.log_path(shard, attempt);
            let log = std::fs::File::create(&log_path)
                .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
            let log2 = log.try_clone().map_err(|e| e.to_string())?;
            let mut cmd = Command::new(&self.mld);
            cmd.arg("worker")
                .arg("--spec")
                .arg(self.spool.spec_path())
                .arg("--shard")
                .arg(shard.to_string())
                .arg("--attempt")
                .arg(attempt.to_string())
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log2);
            for var in &self.hide {
                cmd.env_remove(var);
            }
            // SAFETY: between fork and exec only prctl runs, which is async-signal-safe.
            #[allow(unsafe_code)]
            unsafe {
                use std::os::unix::process::CommandExt;
                cmd.pre_exec(|| {
                    // Dies with the thread following it: a daemon that dies leaves no worker.
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let child = cmd
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", self.mld.display()))?;
            self.running.insert((shard, attempt), child);
        }
        Ok(())
    }
}

impl Executor for Local {
    fn submit(&mut self, tasks: &[TaskKey]) -> Result<Vec<(TaskKey, String)>, String> {
        self.queue.extend(tasks.iter().copied());
        self.start_ready()?;
        Ok(tasks
            .iter()
            .map(|t| {
                let name = match self.running.get(t) {
                    Some(c) => format!("pid {}", c.id()),
                    None => "queued".to_string(),
                };
                (*t, name)
            })
            .collect())
    }

    fn poll(&mut self) -> Result<HashMap<TaskKey, TaskState>, String> {
        let mut done = Vec::new();
        for (key, child) in self.running.iter_mut() {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                done.push((*key, status));
            }
        }
        for (key, status) in done {
            self.running.remove(&key);
            let state = TaskState::Ended {
                ok: status.success(),
                how: exit_text(status),
            };
            self.ended.insert(key, state);
        }
        self.start_ready()?;
        let mut out: HashMap<TaskKey, TaskState> = self.ended.clone();
        for key in &self.queue {
            out.insert(*key, TaskState::Pending);
        }
        for key in self.running.keys() {
            out.insert(
                *key,
                TaskState::Running {
                    node: Some(self.node.clone()),
                },
            );
        }
        Ok(out)
    }

    fn cancel_all(&mut self) -> Result<(), String> {
        for key in self.queue.drain(..) {
            self.ended.insert(
                key,
                TaskState::Ended {
                    ok: false,
                    how: "cancelled before it started".into(),
                },
            );
        }
        for child in self.running.values() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        Ok(())
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        // Never leave a worker behind (or a zombie): kill and reap.
        for child in self.running.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn exit_text(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => "exited 0".into(),
        (Some(c), _) => format!("exited {c}"),
        (None, Some(s)) => format!(
            "killed by signal {}",
            nix::sys::signal::Signal::try_from(s)
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|_| s.to_string())
        ),
        _ => "ended".into(),
    }
}

/// One `sbatch` submission: an array job whose indices are shard numbers.
struct SlurmJob {
    id: String,
    attempt: u32,
    shards: Vec<u32>,
}

/// A Slurm cluster, through its commands.
pub struct Slurm {
    cfg: ExecutorConfig,
    mld: PathBuf,
    spool: DispatchSpool,
    dispatch: i64,
    hide: Vec<String>,
    jobs: Vec<SlurmJob>,
    /// Tasks seen ended (kept: Slurm forgets them).
    ended: HashMap<TaskKey, TaskState>,
    /// Where the job-completion log is, once asked.
    jobcomp: Option<Option<PathBuf>>,
}

/// A Slurm command with the configured `slurm.conf` and without secrets in its environment.
fn slurm_command(cfg: &ExecutorConfig, program: &str, hide: &[String]) -> Command {
    let mut cmd = Command::new(program);
    if let Some(conf) = &cfg.slurm_conf {
        cmd.env("SLURM_CONF", conf);
    }
    for var in hide {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs a command, waits at most `limit`; its stdout, or an error with its stderr.
fn run(mut cmd: Command, limit: Duration) -> Result<String, String> {
    let shown = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{shown} did not answer within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{shown} failed ({}): {}",
            exit_text(out.status),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

const SLURM_TIMEOUT: Duration = Duration::from_secs(30);

/// `KEY=value` fields of one line of `scontrol -o` output.
fn fields(line: &str) -> HashMap<&str, &str> {
    line.split_whitespace()
        .filter_map(|f| f.split_once('='))
        .collect()
}

/// A Slurm job state as a task state; `how` for the ones that ended.
fn slurm_state(state: &str, node: Option<&str>, exit: Option<&str>) -> TaskState {
    let node = node
        .filter(|n| !n.is_empty() && *n != "(null)" && *n != "None")
        .map(str::to_string);
    // `scontrol` may add a reason: `CANCELLED+` or `CANCELLED by 0`.
    let state = state
        .split(['+', ' '])
        .next()
        .unwrap_or(state)
        .to_ascii_uppercase();
    match state.as_str() {
        "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" | "RESV_DEL_HOLD" | "SUSPENDED" => {
            TaskState::Pending
        }
        "RUNNING" | "COMPLETING" | "STAGE_OUT" | "SIGNALING" => TaskState::Running { node },
        "COMPLETED" => TaskState::Ended {
            ok: true,
            how: "completed".into(),
        },
        other => TaskState::Ended {
            ok: false,
            how: match exit {
                Some(e) if e != "0:0" => format!("{} (exit code {e})", other.to_ascii_lowercase()),
                _ => other.to_ascii_lowercase(),
            },
        },
    }
}

impl Slurm {
    fn script(&self, attempt: u32) -> Result<PathBuf, String> {
        let path = self.spool.dir.join(format!("submit-attempt-{attempt}.sh"));
        let text = format!(
            "#!/bin/sh\n# mld dispatch {}: one array index per shard.\nexec {} worker --spec {} --shard \"$SLURM_ARRAY_TASK_ID\" --attempt {attempt}\n",
            self.dispatch,
            shell_quote(&self.mld),
            shell_quote(&self.spool.spec_path()),
        );
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| e.to_string())?;
        Ok(path)
    }

    fn active_ids(&self) -> Vec<&str> {
        self.jobs
            .iter()
            .filter(|j| {
                j.shards
                    .iter()
                    .any(|s| !self.ended.contains_key(&(*s, j.attempt)))
            })
            .map(|j| j.id.as_str())
            .collect()
    }

    /// `squeue -r`: the tasks queued or running, by `JOB_TASK`.
    fn squeue(&self, ids: &[&str]) -> Result<HashMap<String, TaskState>, String> {
        let mut cmd = slurm_command(&self.cfg, "squeue", &self.hide);
        cmd.args(["-h", "-r", "-o", "%i|%T|%N", "-j", &ids.join(",")]);
        let out = match run(cmd, SLURM_TIMEOUT) {
            Ok(out) => out,
            // Every id already purged from the controller.
            Err(e) if e.contains("Invalid job id") => String::new(),
            Err(e) => return Err(e),
        };
        Ok(out
            .lines()
            .filter_map(|l| {
                let mut parts = l.trim().split('|');
                let id = parts.next()?.to_string();
                let state = parts.next()?;
                let node = parts.next();
                Some((id, slurm_state(state, node, None)))
            })
            .collect())
    }

    /// `scontrol show job`: every task of one array job the controller still knows.
    fn scontrol(&self, id: &str) -> Result<HashMap<u32, TaskState>, String> {
        let mut cmd = slurm_command(&self.cfg, "scontrol", &self.hide);
        cmd.args(["-o", "show", "job", id]);
        let out = match run(cmd, SLURM_TIMEOUT) {
            Ok(out) => out,
            Err(e) if e.contains("Invalid job id") => return Ok(HashMap::new()),
            Err(e) => return Err(e),
        };
        let mut tasks = HashMap::new();
        for line in out.lines() {
            let f = fields(line);
            let Some(task) = f.get("ArrayTaskId").and_then(|t| t.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(state) = f.get("JobState") {
                tasks.insert(
                    task,
                    slurm_state(
                        state,
                        f.get("NodeList").copied(),
                        f.get("ExitCode").copied(),
                    ),
                );
            }
        }
        Ok(tasks)
    }

    /// The job-completion log, when the cluster keeps one as a text file.
    fn jobcomp_log(&mut self) -> Option<PathBuf> {
        if self.jobcomp.is_none() {
            let mut cmd = slurm_command(&self.cfg, "scontrol", &self.hide);
            cmd.args(["show", "config"]);
            let found = run(cmd, SLURM_TIMEOUT).ok().and_then(|out| {
                let value = |key: &str| {
                    out.lines().find_map(|l| {
                        let (k, v) = l.split_once('=')?;
                        (k.trim() == key).then(|| v.trim().to_string())
                    })
                };
                (value("JobCompType").as_deref() == Some("jobcomp/filetxt"))
                    .then(|| value("JobCompLoc").map(PathBuf::from))
                    .flatten()
            });
            self.jobcomp = Some(found);
        }
        self.jobcomp.clone().flatten()
    }

    /// Tasks of array job `id` in the job-completion log.
    fn completed(&mut self, id: &str) -> HashMap<u32, TaskState> {
        let Some(path) = self.jobcomp_log() else {
            return HashMap::new();
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            return HashMap::new();
        };
        let mut tasks = HashMap::new();
        for line in text.lines().filter(|l| l.contains(id)) {
            let f = fields(line);
            if f.get("ArrayJobId") != Some(&id) {
                continue;
            }
            let (Some(task), Some(state)) = (
                f.get("ArrayTaskId").and_then(|t| t.parse::<u32>().ok()),
                f.get("JobState"),
            ) else {
                continue;
            };
            tasks.insert(
                task,
                slurm_state(
                    state,
                    f.get("NodeList").copied(),
                    f.get("ExitCode").copied(),
                ),
            );
        }
        tasks
    }
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

impl Executor for Slurm {
    fn submit(&mut self, tasks: &[TaskKey]) -> Result<Vec<(TaskKey, String)>, String> {
        let mut by_attempt: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for (shard, attempt) in tasks {
            by_attempt.entry(*attempt).or_default().push(*shard);
        }
        let mut named = Vec::new();
        for (attempt, shards) in by_attempt {
            let script = self.script(attempt)?;
            let array: Vec<String> = shards.iter().map(u32::to_string).collect();
            let mut cmd = slurm_command(&self.cfg, "sbatch", &self.hide);
            cmd.arg("--parsable")
                .arg(format!("--array={}", array.join(",")))
                .arg(format!("--job-name=mld-{}", self.dispatch))
                .arg(format!(
                    "--output={}",
                    self.spool
                        .dir
                        .join(format!("worker-%a.attempt-{attempt}.job-%A.log"))
                        .display()
                ))
                .arg(format!("--chdir={}", self.spool.dir.display()));
            if let Some(p) = &self.cfg.partition {
                cmd.arg(format!("--partition={p}"));
            }
            cmd.args(&self.cfg.sbatch_args).arg(&script);
            let out = run(cmd, SLURM_TIMEOUT)?;
            // `--parsable`: `JOBID` or `JOBID;CLUSTER`.
            let id = out.trim().split(';').next().unwrap_or("").to_string();
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
                return Err(format!("sbatch answered {:?}, not a job id", out.trim()));
            }
            for s in &shards {
                named.push(((*s, attempt), format!("{id}_{s}")));
            }
            self.jobs.push(SlurmJob {
                id,
                attempt,
                shards,
            });
        }
        Ok(named)
    }

    fn poll(&mut self) -> Result<HashMap<TaskKey, TaskState>, String> {
        let ids: Vec<String> = self.active_ids().iter().map(|s| s.to_string()).collect();
        let mut out: HashMap<TaskKey, TaskState> = self.ended.clone();
        if ids.is_empty() {
            return Ok(out);
        }
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let queued = self.squeue(&id_refs)?;
        let jobs: Vec<(String, u32, Vec<u32>)> = self
            .jobs
            .iter()
            .map(|j| (j.id.clone(), j.attempt, j.shards.clone()))
            .collect();
        for (id, attempt, shards) in jobs {
            let open: Vec<u32> = shards
                .into_iter()
                .filter(|s| !self.ended.contains_key(&(*s, attempt)))
                .collect();
            if open.is_empty() {
                continue;
            }
            let mut known: Option<HashMap<u32, TaskState>> = None;
            let mut logged: Option<HashMap<u32, TaskState>> = None;
            for shard in open {
                let key = (shard, attempt);
                let mut state = queued
                    .get(&format!("{id}_{shard}"))
                    .cloned()
                    // A pending array not yet split shows as `ID_[0-7]`.
                    .or_else(|| {
                        queued
                            .iter()
                            .any(|(k, s)| {
                                k.starts_with(&format!("{id}_[")) && *s == TaskState::Pending
                            })
                            .then_some(TaskState::Pending)
                    });
                if state.is_none() {
                    let k = match &known {
                        Some(k) => k,
                        None => known.insert(self.scontrol(&id)?),
                    };
                    state = k.get(&shard).cloned().filter(|s| !s.is_active());
                }
                if state.is_none() {
                    let l = match &logged {
                        Some(l) => l,
                        None => logged.insert(self.completed(&id)),
                    };
                    state = l.get(&shard).cloned();
                }
                let state = state.unwrap_or(TaskState::Gone);
                if !state.is_active() {
                    self.ended.insert(key, state.clone());
                }
                out.insert(key, state);
            }
        }
        Ok(out)
    }

    fn cancel_all(&mut self) -> Result<(), String> {
        let ids: Vec<String> = self.active_ids().iter().map(|s| s.to_string()).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let mut cmd = slurm_command(&self.cfg, "scancel", &self.hide);
        cmd.args(&ids);
        run(cmd, SLURM_TIMEOUT).map(|_| ())
    }
}

/// `scancel` of tasks a daemon that died left (by `JOB_TASK` name).
pub fn scancel(cfg: &ExecutorConfig, tasks: &[String], hide: &[String]) -> Result<(), String> {
    if tasks.is_empty() {
        return Ok(());
    }
    let mut cmd = slurm_command(cfg, "scancel", hide);
    cmd.args(tasks);
    run(cmd, SLURM_TIMEOUT).map(|_| ())
}

/// Whether any of these `JOB_TASK`s is still queued or running.
pub fn any_active(cfg: &ExecutorConfig, tasks: &[String], hide: &[String]) -> Result<bool, String> {
    if tasks.is_empty() {
        return Ok(false);
    }
    let jobs: std::collections::BTreeSet<&str> = tasks
        .iter()
        .map(|t| t.split('_').next().unwrap_or(t))
        .collect();
    let mut cmd = slurm_command(cfg, "squeue", hide);
    cmd.args(["-h", "-r", "-o", "%i|%T", "-j"])
        .arg(jobs.into_iter().collect::<Vec<_>>().join(","));
    let out = match run(cmd, SLURM_TIMEOUT) {
        Ok(out) => out,
        Err(e) if e.contains("Invalid job id") => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(out.lines().any(|l| {
        let mut p = l.trim().split('|');
        let id = p.next().unwrap_or("");
        let state = p.next().unwrap_or("");
        tasks.iter().any(|t| t == id) && slurm_state(state, None, None).is_active()
    }))
}

/// The nodes of a Slurm cluster by state, for the Monitor: `sinfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterNodes {
    pub idle: u32,
    pub allocated: u32,
    pub down: u32,
    pub other: u32,
}

pub fn cluster_nodes(cfg: &ExecutorConfig) -> Result<ClusterNodes, String> {
    let mut cmd = slurm_command(cfg, "sinfo", &[]);
    cmd.args(["-h", "-N", "-o", "%N %t"]);
    if let Some(p) = &cfg.partition {
        cmd.arg(format!("--partition={p}"));
    }
    let out = run(cmd, Duration::from_secs(10))?;
    let mut nodes: BTreeMap<String, String> = BTreeMap::new();
    for line in out.lines() {
        let mut parts = line.split_whitespace();
        if let (Some(n), Some(s)) = (parts.next(), parts.next()) {
            nodes.insert(
                n.to_string(),
                s.trim_end_matches(['*', '~', '#', '!', '%', '$', '@', '^', '-'])
                    .to_string(),
            );
        }
    }
    let mut c = ClusterNodes::default();
    for state in nodes.values() {
        match state.as_str() {
            "idle" => c.idle += 1,
            "alloc" | "mix" | "comp" | "allocated" | "mixed" | "completing" => c.allocated += 1,
            "down" | "drain" | "drng" | "fail" | "failg" | "maint" | "unk" | "boot" | "npc"
            | "plnd" | "inval" => c.down += 1,
            _ => c.other += 1,
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_states_map_to_task_states() {
        assert_eq!(slurm_state("PENDING", None, None), TaskState::Pending);
        assert_eq!(
            slurm_state("RUNNING", Some("n1"), None),
            TaskState::Running {
                node: Some("n1".into())
            }
        );
        assert_eq!(
            slurm_state("COMPLETED", Some("n1"), Some("0:0")),
            TaskState::Ended {
                ok: true,
                how: "completed".into()
            }
        );
        assert_eq!(
            slurm_state("FAILED", None, Some("1:0")),
            TaskState::Ended {
                ok: false,
                how: "failed (exit code 1:0)".into()
            }
        );
        assert_eq!(
            slurm_state("CANCELLED+", None, Some("0:15")),
            TaskState::Ended {
                ok: false,
                how: "cancelled (exit code 0:15)".into()
            }
        );
        let f = fields(
            "JobId=7 ArrayJobId=5 ArrayTaskId=2 JobState=COMPLETED NodeList=localhost ExitCode=0:0",
        );
        assert_eq!(f["ArrayTaskId"], "2");
        assert_eq!(f["JobState"], "COMPLETED");
    }
}
