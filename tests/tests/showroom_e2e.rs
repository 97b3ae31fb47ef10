//! The showroom end to end with the real binaries: `mldctl showroom` against
//! `mld` — an edited row equals `mldctl predict` with the same values, a
//! changed sample file and a SIGHUP reach the next request, an acknowledged
//! prediction survives `kill -9`, and roles with real Unix users (a showroom
//! user may, a dispatch user may not and is recorded).

use mld_shared::protocol::{Request, Response};
use mld_tests::process::{MldProcess, bin, mldctl};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        stdout(out),
        stderr(out)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

fn assets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets")
}

/// The demo model in `dir/registry`, and a configuration whose showroom reads `samples`.
fn setup(dir: &Path, samples: &Path, access: &str) -> PathBuf {
    let reg = mld::model::Registry::open(dir.join("registry"), None).unwrap();
    mld::training::demo::ensure_iris_model(&reg, &assets().join("iris.csv")).unwrap();
    let path = dir.join("mld.toml");
    std::fs::write(
        &path,
        format!(
            "[daemon]\nsocket = \"mld.sock\"\nsocket_mode = \"0666\"\nstate_dir = \"state\"\n\n\
             {access}\n\
             [models]\nregistry = \"registry\"\n\n\
             [showroom.iris]\nsamples = {:?}\ncolumns = 2\n",
            samples.display().to_string()
        ),
    )
    .unwrap();
    path
}

fn copy_samples(dir: &Path) -> PathBuf {
    let samples = dir.join("samples.csv");
    std::fs::copy(assets().join("iris-samples.csv"), &samples).unwrap();
    samples
}

#[test]
fn an_edited_row_predicts_like_mldctl_predict_and_changes_reach_the_next_request() {
    let dir = tempfile::tempdir().unwrap();
    let samples = copy_samples(dir.path());
    let config = setup(dir.path(), &samples, "");
    let socket = dir.path().join("mld.sock");
    let daemon = MldProcess::start(&config, &socket);
    let s = socket.to_str().unwrap();

    let all = json(&mldctl(&["--socket", s, "showroom", "iris", "--json"]));
    assert_eq!(all["rows"].as_array().unwrap().len(), 12);
    assert_eq!(all["rows"][3]["label"], "setosa");
    let text = stdout(&mldctl(&["--socket", s, "showroom", "iris"]));
    let header = text.lines().nth(1).unwrap();
    assert!(
        header.starts_with("#   sepal_length  sepal_width  prediction  probability"),
        "the first `columns` = 2 columns:\n{text}"
    );

    // Row 4, a setosa, with a long petal: before and after.
    let both = json(&mldctl(&[
        "--socket",
        s,
        "showroom",
        "iris",
        "--row",
        "4",
        "--set",
        "petal_length=5.0",
        "--explain",
        "--json",
    ]));
    assert_eq!(both["before"]["label"], "setosa");
    assert_eq!(both["before"]["edited"], false);
    let after = &both["after"];
    assert_eq!(after["edited"], true);
    assert_eq!(after["label"], "versicolor", "{after:#}");
    assert_eq!(after["values"]["petal_length"], 5.0);
    assert_eq!(after["explanation"]["kind"], "contributions");
    assert_eq!(after["explanation"]["label"], "versicolor");
    let fields: Vec<String> = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
        .iter()
        .map(|f| format!("{f}={}", after["values"][f]))
        .collect();
    let mut args = vec!["--socket", s, "predict", "--model", "iris", "--json"];
    for f in &fields {
        args.extend(["--field", f.as_str()]);
    }
    let direct = json(&mldctl(&args));
    assert_eq!(direct["label"], after["label"]);
    assert_eq!(direct["score"], after["score"]);
    assert_eq!(direct["version"], after["version"]);

    // The people's view says the same, side by side.
    let text = stdout(&mldctl(&[
        "--socket",
        s,
        "showroom",
        "iris",
        "--row",
        "4",
        "--set",
        "petal_length=5",
    ]));
    assert!(text.contains("edited: petal_length 1.4 → 5"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("prediction  setosa 0.")
                && l.contains("versicolor 0.")),
        "{text}"
    );

    // The file changes: the next request reads it, no reload needed.
    let rows = "sepal_length,sepal_width,petal_length,petal_width\n6.3,3.3,6.0,2.5\n";
    std::fs::write(dir.path().join("next.csv"), rows).unwrap();
    std::fs::rename(dir.path().join("next.csv"), &samples).unwrap();
    let all = json(&mldctl(&["--socket", s, "showroom", "iris", "--json"]));
    assert_eq!(all["rows"].as_array().unwrap().len(), 1);
    assert_eq!(all["rows"][0]["label"], "virginica");

    // A broken file: its line and why, on stderr, exit 1.
    std::fs::write(
        &samples,
        "sepal_length,sepal_width,petal_length,petal_width\n6.3,3.3,x,2.5\n",
    )
    .unwrap();
    let out = mldctl(&["--socket", s, "showroom", "iris"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "{}:2: petal_length is \"x\", not a number",
            samples.display()
        )),
        "{}",
        stderr(&out)
    );

    // SIGHUP: the configuration now points at the shipped samples.
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("{:?}", samples.display().to_string()),
        &format!(
            "{:?}",
            assets().join("iris-samples.csv").display().to_string()
        ),
    );
    std::fs::write(&config, text).unwrap();
    daemon.signal(nix::sys::signal::Signal::SIGHUP);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let list = json(&mldctl(&["--socket", s, "showroom", "--json"]));
        if list[0]["problem"].is_null() && list[0]["rows"] == 12 {
            assert!(
                list[0]["samples"]
                    .as_str()
                    .unwrap()
                    .ends_with("assets/iris-samples.csv")
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{list:#}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn an_acknowledged_prediction_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let samples = copy_samples(dir.path());
    let config = setup(dir.path(), &samples, "");
    let socket = dir.path().join("mld.sock");
    let mut daemon = MldProcess::start(&config, &socket);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut client = mld_tests::client::Client::connect(&socket).await.unwrap();
        for row in 1..=5 {
            let answer = client
                .request(Request::ShowroomPredict {
                    model: "iris".into(),
                    row,
                    set: vec![],
                })
                .await;
            assert!(
                matches!(answer, Ok(Response::ShowroomPrediction(_))),
                "{answer:?}"
            );
        }
        // The moment the last answer is in, no clean stop: whatever was
        // answered must already be on disk.
        daemon.signal(nix::sys::signal::Signal::SIGKILL);
    });
    daemon.wait(std::time::Duration::from_secs(10));
    let log = rusqlite::Connection::open(dir.path().join("state/events.db")).unwrap();
    let rows: Vec<(i64, String, String)> = log
        .prepare("SELECT sample_line, source, model_hash FROM showroom_predictions ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let lines: Vec<i64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6]);
    assert!(
        rows.iter().all(|r| r.1 == "predict-one" && r.2.len() == 64),
        "{rows:?}"
    );
}

/// Runs `mldctl ARGS` as the Unix user `user`.
fn as_user(user: &str, socket: &Path, args: &[&str]) -> Output {
    std::process::Command::new("/usr/sbin/runuser")
        .args(["-u", user, "--"])
        .arg(bin("mldctl"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_showroom_user_may_and_a_dispatch_user_may_not_and_is_recorded() {
    if !nix::unistd::getuid().is_root() || !Path::new("/usr/sbin/runuser").exists() {
        eprintln!("skipped: switching users needs root and runuser");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let samples = copy_samples(dir.path());
    let config = setup(
        dir.path(),
        &samples,
        "[access]\nshowroom = { users = [\"nobody\"] }\ndispatch = { users = [\"daemon\"] }\n",
    );
    let socket = dir.path().join("mld.sock");
    let _daemon = MldProcess::start(&config, &socket);

    let out = as_user(
        "nobody",
        &socket,
        &["showroom", "iris", "--row", "1", "--json"],
    );
    let p = json(&out);
    assert_eq!(p["row"], 1);
    // A showroom user is not an operator.
    let out = as_user("nobody", &socket, &["jobs"]);
    assert!(
        stderr(&out).contains("permission denied: jobs needs dispatch"),
        "{}",
        stderr(&out)
    );

    for args in [
        &["showroom"][..],
        &["showroom", "iris"],
        &["showroom", "iris", "--row", "1"],
    ] {
        let out = as_user("daemon", &socket, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stdout(&out));
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("needs showroom"), "{args:?}: {err}");
    }
    // One row per uid and minute, counting its refusals; the counts are
    // written when the minute ends or the daemon stops.
    let mut daemon = _daemon;
    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(daemon.wait(std::time::Duration::from_secs(30)).success());
    let log = rusqlite::Connection::open(dir.path().join("state/events.db")).unwrap();
    let denials: Vec<(String, String, String, i64)> = log
        .prepare("SELECT user, request, needed, count FROM access_denials ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected: Vec<(String, String, String, i64)> = [
        ("nobody", "jobs", "dispatch", 1),
        ("daemon", "showrooms", "showroom", 3),
    ]
    .iter()
    .map(|(u, r, n, c)| (u.to_string(), r.to_string(), n.to_string(), *c))
    .collect();
    assert_eq!(denials, expected);
    let by: Vec<String> = log
        .prepare("SELECT DISTINCT by_user FROM showroom_predictions")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(by, ["nobody"]);
}
