//! Every file in tests/config/valid loads; every file in tests/config/invalid
//! is refused with an error naming the file, the line and the key its first
//! line announces (`# expect: LINE KEY | message fragment`, KEY `-` for none).

use mld_shared::config;
use std::path::{Path, PathBuf};

fn files(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/config")
        .join(dir);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no files in {}", dir.display());
    out
}

#[test]
fn valid_files_load() {
    for f in files("valid") {
        if let Err(e) = config::load(&f) {
            panic!("{} should be valid:\n{e}", f.display());
        }
    }
}

#[test]
fn the_demo_config_is_valid_and_resolves_paths_against_its_folder() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/mld.toml");
    let c = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    // `../state/mld.sock` from config/ lands in <repo>/state, with no `..` left in it.
    assert_eq!(c.daemon.socket, repo.join("state/mld.sock"));
    assert!(c.daemon.event_log_path().ends_with("state/events.db"));
    assert!(
        c.showroom["iris"]
            .samples
            .ends_with("assets/iris-samples.csv")
    );
    assert!(!c.jobs.is_empty());
    assert_eq!(
        c.metrics.listen, None,
        "the metrics endpoint is off by default"
    );
}

#[test]
fn full_file_keeps_every_setting() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config/valid/full.toml");
    let c = config::load(&path).unwrap();
    assert_eq!(c.daemon.socket_mode, 0o660);
    assert_eq!(c.daemon.max_concurrent_dispatches, 4);
    assert_eq!(c.monitor.servers[0].mechanism, config::Mechanism::Tls);
    assert_eq!(
        c.monitor.servers[1].timeout.0,
        std::time::Duration::from_secs(10),
        "default timeout is 10 s"
    );
    let job = &c.jobs[0];
    assert_eq!(job.overlap, config::OverlapPolicy::Queue);
    assert_eq!(job.missed, config::MissedPolicy::RunOnce);
    assert_eq!(job.results_columns.dispatch_id, "run_id");
    assert_eq!(c.jobs[1].results_columns, config::ResultColumns::default());
    assert_eq!(
        (c.limits.max_connections, c.limits.admin_connections),
        (512, 8)
    );
    assert_eq!(c.limits.connections_per_user, 16);
    assert_eq!(c.limits.idle_timeout.0, std::time::Duration::from_secs(300));
    assert_eq!(c.limits.frame_timeout.0, std::time::Duration::from_secs(10));
    assert_eq!(c.limits.requests_in_flight, 4);
    assert_eq!((c.limits.request_bytes, c.limits.max_rows), (65536, 5000));
    assert_eq!(
        c.metrics.listen,
        Some("[::1]:9464".parse().unwrap()),
        "the metrics endpoint's address"
    );
    let lake = &c.datalakes["from-file"];
    assert!(lake.connection_file.as_ref().unwrap().is_absolute());
    // The inline connection string never prints its secrets, even via Debug.
    let debug = format!("{:?}", c.datalakes["warehouse"]);
    assert!(debug.contains("PostgreSQL Unicode"));
}

#[test]
fn invalid_files_name_file_line_and_key() {
    for f in files("invalid") {
        let text = std::fs::read_to_string(&f).unwrap();
        let expect = text
            .lines()
            .next()
            .unwrap()
            .strip_prefix("# expect: ")
            .expect("first line is `# expect: …`");
        let (head, fragment) = expect.split_once(" | ").unwrap();
        let (line, key) = head.split_once(' ').unwrap();
        let line: usize = line.parse().unwrap();
        let errors = match config::load(&f) {
            Ok(_) => panic!("{} should be refused", f.display()),
            Err(e) => e,
        };
        let e = errors.first();
        let shown = errors.to_string();
        assert_eq!(e.line, Some(line), "{}: {shown}", f.display());
        if key == "-" {
            assert_eq!(e.key, None, "{}: {shown}", f.display());
        } else {
            assert_eq!(e.key.as_deref(), Some(key), "{}: {shown}", f.display());
            assert!(shown.contains(&format!("key `{key}`")), "{shown}");
        }
        assert!(
            e.message.contains(fragment),
            "{}: {shown} lacks {fragment:?}",
            f.display()
        );
        assert!(
            shown.starts_with(&format!("{}:{line}:", f.display())),
            "{shown}"
        );
    }
}

#[test]
fn a_password_in_a_connection_string_never_shows_in_debug() {
    let text = "[datalakes.pg]\nkind = \"odbc\"\nconnection = \"Driver={PostgreSQL Unicode};UID=u;PWD=s3cr3t;\"\n";
    let c = config::parse(Path::new("/etc/mld/mld.toml"), text).unwrap();
    let shown = format!("{:?}", c);
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(shown.contains("PWD=***"));
}

#[test]
fn executors_and_shards_keep_their_settings_and_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config/valid/executors.toml");
    let c = config::load(&path).unwrap();
    let cluster = &c.executors["cluster"];
    assert_eq!(cluster.kind, config::ExecutorKind::Slurm);
    assert_eq!(cluster.partition.as_deref(), Some("batch"));
    assert_eq!(cluster.sbatch_args, ["--time=01:00:00", "--mem=2G"]);
    let here = &c.executors["here"];
    assert_eq!(here.kind, config::ExecutorKind::Local);
    // A local executor's spool defaults to the state dir's `spool`.
    assert!(here.spool.as_ref().unwrap().ends_with("spool"), "{here:?}");
    assert_eq!(c.jobs[0].shard_count(&c.executors), Some(16));
    assert_eq!(c.jobs[0].shard_retries, 2);
    // A local job without `shards` runs one per worker.
    assert_eq!(c.jobs[1].shard_count(&c.executors), Some(3));
    assert_eq!(c.jobs[1].shard_by.as_deref(), Some("length({key})"));
}
