//! Roles, exhaustively, as real Unix users: `mld-probe` runs as a user of
//! each role and as one with none (through runuser), against the built `mld`
//! binary, and every request type × role must be allowed or "permission
//! denied: … needs ROLE" exactly as the table below says. Then roles follow
//! a reload into open connections.
//!
//! Needs root (to switch users, and to create the users when `.ci/run` has
//! not): see `mld_tests::users`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use mld_shared::ids::{DispatchId, JobName};
use mld_shared::protocol::*;
use mld_shared::time::WireTime;
use mld_tests::process::MldProcess;
use mld_tests::users::{self, ADMIN, ANALYST, NOBODY, OPERATOR};
use serde_json::Value;

fn probe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mld-probe"))
}

fn write_config(dir: &Path, access: &str) -> PathBuf {
    let path = dir.join("mld.toml");
    std::fs::write(
        &path,
        format!(
            "[daemon]\nsocket = \"mld.sock\"\nsocket_mode = \"0666\"\nstate_dir = \"state\"\n\n\
             [monitor]\nrefresh = \"60s\"\n\n\
             [datalakes.lake]\nkind = \"sqlite\"\npath = \"lake.db\"\n\n\
             [[jobs]]\nname = \"score\"\ndatalake = \"lake\"\nmodel = \"iris\"\nquery = \"SELECT id, x FROM t\"\n\
             key_column = \"id\"\nresults_table = \"scores\"\nschedule = \"0 0 30 2 *\"\n\n{access}\n"
        ),
    )
    .unwrap();
    path
}

fn start(access: &str) -> (tempfile::TempDir, MldProcess) {
    users::ensure();
    let dir = tempfile::tempdir().unwrap();
    users::open_to_all(dir.path());
    let config = write_config(dir.path(), access);
    let daemon = MldProcess::start(&config, &dir.path().join("mld.sock"));
    (dir, daemon)
}

/// One of each request, with arguments that make the allowed ones fail
/// harmlessly (unknown job, model, experiment) or do nothing lasting.
fn every_request() -> Vec<Request> {
    let job = || JobName("nope".into());
    let spec = || TrainSpec {
        dataset: "nope".into(),
        model: "decision_tree".into(),
        hyperparameters: vec![],
        test_split: 0.3,
        seed: Some(1),
    };
    let requests = vec![
        Request::Ping,
        Request::Status,
        Request::Subscribe,
        Request::Unsubscribe,
        Request::Jobs,
        Request::EnableJob {
            job: job(),
            reason: None,
        },
        Request::DisableJob {
            job: job(),
            reason: None,
            until: None,
        },
        Request::RunJob { job: job() },
        Request::DryRun {
            job: job(),
            rows: 1,
        },
        Request::Slots {
            job: job(),
            since: WireTime(0),
        },
        Request::JobHistory { job: job() },
        Request::Dispatches {
            from: WireTime(0),
            to: WireTime(1),
            job: None,
            limit: 10,
        },
        Request::Dispatch {
            id: DispatchId(999),
        },
        Request::DispatchPredictions {
            id: DispatchId(999),
            after_key: None,
            filter: None,
            limit: 10,
        },
        Request::CancelDispatch {
            id: DispatchId(999),
        },
        Request::Models,
        Request::Catalog,
        Request::Train(spec()),
        Request::TrainingRun { run: 999 },
        Request::CancelTraining { run: 999 },
        Request::Experiments,
        Request::Experiment { id: "nope".into() },
        Request::DeleteExperiment { id: "nope".into() },
        Request::CommitExperiment {
            id: "nope".into(),
            name: "nope".into(),
        },
        Request::ActivateModel {
            name: "nope".into(),
            version: 1,
        },
        Request::ImportOnnx {
            name: "nope".into(),
            features: vec!["a".into()],
            labels: None,
            onnx: vec![],
        },
        Request::Predict {
            model: "nope".into(),
            version: None,
            input: PredictInput::Positional(vec![1.0]),
        },
        Request::Showrooms,
        Request::OpenShowroom {
            model: "nope".into(),
        },
        Request::ShowroomPredict {
            model: "nope".into(),
            row: 1,
            set: vec![],
        },
        Request::DispatchPredictionsBefore {
            id: DispatchId(999),
            before_key: None,
            filter: None,
            limit: 10,
        },
        Request::TrainingRuns { limit: 10 },
        Request::CheckTraining(spec()),
        Request::Reload,
        Request::RetryDispatch {
            id: DispatchId(999),
        },
        Request::DispatchShards {
            id: DispatchId(999),
        },
    ];
    for r in &requests {
        // Exhaustive: a new request type does not compile until it is in the table.
        match r {
            Request::Ping
            | Request::Status
            | Request::Subscribe
            | Request::Unsubscribe
            | Request::Jobs
            | Request::EnableJob { .. }
            | Request::DisableJob { .. }
            | Request::RunJob { .. }
            | Request::DryRun { .. }
            | Request::Slots { .. }
            | Request::JobHistory { .. }
            | Request::Dispatches { .. }
            | Request::Dispatch { .. }
            | Request::DispatchPredictions { .. }
            | Request::CancelDispatch { .. }
            | Request::Models
            | Request::Catalog
            | Request::Train(_)
            | Request::TrainingRun { .. }
            | Request::CancelTraining { .. }
            | Request::Experiments
            | Request::Experiment { .. }
            | Request::DeleteExperiment { .. }
            | Request::CommitExperiment { .. }
            | Request::ActivateModel { .. }
            | Request::ImportOnnx { .. }
            | Request::Predict { .. }
            | Request::Showrooms
            | Request::OpenShowroom { .. }
            | Request::ShowroomPredict { .. }
            | Request::DispatchPredictionsBefore { .. }
            | Request::TrainingRuns { .. }
            | Request::CheckTraining(_)
            | Request::Reload
            | Request::RetryDispatch { .. }
            | Request::DispatchShards { .. } => {}
        }
    }
    requests
}

/// The table: who may make each request. `A` admin, `D` dispatch, `S`
/// showroom; the role that a refusal names is the first letter's.
/// A user with no role is refused at the handshake, whatever it asks.
const TABLE: &[(&str, &str, &str)] = &[
    // request            may            needs
    ("ping", "A D S", "-"),
    ("status", "A D S", "-"),
    ("subscribe", "A D", "dispatch"),
    ("unsubscribe", "A D", "dispatch"),
    ("jobs", "A D", "dispatch"),
    ("enable", "A", "admin"),
    ("disable", "A", "admin"),
    ("run", "A", "admin"),
    ("dry-run", "A", "admin"),
    ("slots", "A D", "dispatch"),
    ("history", "A D", "dispatch"),
    ("dispatches", "A D", "dispatch"),
    ("dispatch", "A D", "dispatch"),
    ("predictions", "A D", "dispatch"),
    ("cancel", "A", "admin"),
    ("models", "A D", "dispatch"),
    ("catalog", "A D", "dispatch"),
    ("train", "A", "admin"),
    ("training", "A D", "dispatch"),
    ("cancel-training", "A", "admin"),
    ("experiments", "A D", "dispatch"),
    ("experiment", "A D", "dispatch"),
    ("delete-experiment", "A", "admin"),
    ("commit", "A", "admin"),
    ("activate", "A", "admin"),
    ("import-onnx", "A", "admin"),
    ("predict", "A S", "showroom"),
    ("showrooms", "A S", "showroom"),
    ("showroom", "A S", "showroom"),
    ("showroom-predict", "A S", "showroom"),
    ("predictions", "A D", "dispatch"), // paging back
    ("training-runs", "A D", "dispatch"),
    ("check-training", "A D", "dispatch"),
    ("reload", "A", "admin"),
    ("retry", "A", "admin"),
    ("shards", "A D", "dispatch"),
];

fn lines(out: &std::process::Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "mld-probe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn every_request_type_by_every_role_as_real_users() {
    let (_dir, daemon) = start(&users::access_toml());
    let requests = every_request();
    let names: Vec<&str> = requests.iter().map(Request::name).collect();
    let table: Vec<&str> = TABLE.iter().map(|r| r.0).collect();
    assert_eq!(
        names, table,
        "the table lists every request type once, in order"
    );
    let list = serde_json::to_string(&requests).unwrap();
    for (user, letter) in [(ADMIN, "A"), (OPERATOR, "D"), (ANALYST, "S")] {
        let answers = lines(&users::run_as(
            user,
            &probe(),
            &[daemon.socket.to_str().unwrap(), "ask", &list],
        ));
        assert_eq!(answers[0]["welcome"]["user"], user, "{:?}", answers[0]);
        assert_eq!(answers.len(), requests.len() + 1, "{answers:?}");
        for ((name, may, needs), answer) in TABLE.iter().zip(&answers[1..]) {
            assert_eq!(answer["request"], *name);
            let allowed = may.split(' ').any(|l| l == letter);
            let denied = answer["err"]["kind"] == "PermissionDenied";
            assert_eq!(
                !denied,
                allowed,
                "{user} ({letter}) {name}: expected {}, got {answer}",
                if allowed { "allowed" } else { "denied" }
            );
            if denied {
                assert_eq!(
                    answer["err"]["message"],
                    format!("permission denied: {name} needs {needs}"),
                    "{user} {name}"
                );
            } else {
                // Allowed: answered (often NotFound for these arguments), never closed.
                assert!(
                    answer.get("ok").is_some() || answer.get("err").is_some(),
                    "{user} {name}: {answer}"
                );
            }
        }
    }
    // No role: refused at the handshake, with the reason.
    let answers = lines(&users::run_as(
        NOBODY,
        &probe(),
        &[daemon.socket.to_str().unwrap(), "ask", &list],
    ));
    assert_eq!(
        answers,
        vec![serde_json::json!({
            "refused": format!("permission denied: no role for uid {}", users::uid(NOBODY).unwrap())
        })]
    );
}

/// A `mld-probe session` as `user`: one request per line in, one answer out.
struct Session {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Session {
    /// Opens the session; returns it with the handshake's line.
    fn open(user: &str, socket: &Path) -> (Session, Value) {
        let mut child = users::command_as(user, &probe(), &[socket.to_str().unwrap(), "session"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut s = Session { child, out };
        let first = s.line();
        (s, first)
    }

    fn line(&mut self) -> Value {
        let mut l = String::new();
        self.out.read_line(&mut l).unwrap();
        serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l:?}"))
    }

    fn ask(&mut self, request: &Request) -> Value {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{}", serde_json::to_string(request).unwrap()).unwrap();
        stdin.flush().unwrap();
        self.line()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Rewrites the config and sends SIGHUP; returns once the daemon says it reloaded.
fn reload(dir: &Path, daemon: &MldProcess, access: &str) {
    let before = daemon.stderr().matches("configuration reloaded").count();
    write_config(dir, access);
    daemon.signal(nix::sys::signal::Signal::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while daemon.stderr().matches("configuration reloaded").count() == before {
        assert!(Instant::now() < deadline, "no reload:\n{}", daemon.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_reload_changes_the_roles_of_open_connections() {
    let admin_by_name = |user: &str| format!("[access]\nadmin = {{ users = [\"{user}\"] }}\n");
    let (dir, daemon) = start(&admin_by_name(OPERATOR));
    let enable = Request::EnableJob {
        job: JobName("score".into()),
        reason: None,
    };
    let (mut console, hello) = Session::open(OPERATOR, &daemon.socket);
    assert_eq!(
        hello["welcome"]["roles"], "admin,dispatch,showroom",
        "{hello}"
    );
    // An admin: the request is allowed (the job is active already: a conflict, not a denial).
    let answer = console.ask(&enable);
    assert_ne!(answer["err"]["kind"], "PermissionDenied", "{answer}");

    // Demoted to dispatch by a reload: the same open console is refused admin
    // requests from its next one on, and keeps what dispatch may do.
    reload(
        dir.path(),
        &daemon,
        &format!("[access]\ndispatch = {{ users = [\"{OPERATOR}\"] }}\n"),
    );
    let answer = console.ask(&enable);
    assert_eq!(answer["err"]["kind"], "PermissionDenied", "{answer}");
    assert_eq!(
        answer["err"]["message"],
        "permission denied: enable needs admin"
    );
    assert_eq!(console.ask(&Request::Jobs)["ok"], "Jobs");

    // Removed from [access] altogether: its next request closes the connection, saying why.
    reload(dir.path(), &daemon, "");
    let answer = console.ask(&enable);
    assert_eq!(
        answer["closed"],
        format!(
            "permission denied: no role for uid {}",
            users::uid(OPERATOR).unwrap()
        ),
        "{answer}"
    );
    // And it cannot come back.
    let (_again, hello) = Session::open(OPERATOR, &daemon.socket);
    assert!(
        hello["refused"]
            .as_str()
            .unwrap()
            .starts_with("permission denied: no role"),
        "{hello}"
    );
    // Given the role back, a new connection works.
    reload(dir.path(), &daemon, &admin_by_name(OPERATOR));
    let (mut back, hello) = Session::open(OPERATOR, &daemon.socket);
    assert!(hello.get("welcome").is_some(), "{hello}");
    assert_ne!(back.ask(&enable)["err"]["kind"], "PermissionDenied");
}
