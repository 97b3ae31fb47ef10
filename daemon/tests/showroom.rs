//! The showroom through its handle, with real models trained here and real
//! sample files: the `showroom/valid` and `showroom/invalid` folders (each
//! invalid file's error names its line and why), hot reload when a file
//! changes, a new configuration, and one broken showroom leaving the others
//! working.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mld::model::input::Value;
use mld::model::{FeatureKind, Registry, Scored};
use mld::showroom::samples::SampleSet;
use mld::showroom::{Showroom, ShowroomError};
use mld_shared::config::ShowroomConfig;

const IRIS: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

fn folder(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/showroom")
        .join(kind)
}

fn iris_features() -> Vec<String> {
    IRIS.iter().map(|s| s.to_string()).collect()
}

fn files(kind: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(folder(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

#[test]
fn every_valid_sample_file_binds_to_the_iris_features() {
    let valid = files("valid");
    assert!(valid.len() >= 3, "{valid:?}");
    for path in valid {
        let set = SampleSet::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let bound = set
            .bind(&iris_features(), &[FeatureKind::Number; 4], "iris v1")
            .unwrap();
        // Every valid file holds the same two flowers, however it writes them.
        assert_eq!(
            bound.inputs.numbers.row(0).to_vec(),
            vec![5.1, 3.5, 1.4, 0.2],
            "{}",
            path.display()
        );
        assert_eq!(
            bound.inputs.numbers.row(1).to_vec(),
            vec![6.3, 3.3, 6.0, 2.5],
            "{}",
            path.display()
        );
    }
}

/// Each invalid file: the line its error names (None: the whole file) and why.
fn expected(name: &str) -> (Option<u64>, &'static str) {
    match name {
        "empty.csv" => (None, "the file is empty"),
        "header-only.csv" => (Some(1), "a header but no sample rows"),
        "missing-feature.csv" => (
            Some(1),
            "no column for feature petal_width (model iris v1 takes sepal_length, sepal_width, petal_length, petal_width)",
        ),
        "wrong-field-count.csv" => (Some(4), "3 fields, but the header has 4 columns"),
        "non-numeric.csv" => (Some(3), "petal_length is \"long\", not a number"),
        "empty-cell.csv" => (Some(5), "sepal_width is empty; expected a number"),
        "not-finite.csv" => (Some(2), "petal_length is \"NaN\", not a number"),
        "duplicate-column.csv" => (Some(1), "column \"sepal_width\" appears twice"),
        "not-utf8.csv" => (Some(3), "not valid UTF-8 text"),
        other => panic!("{other}: add the error it must give to this table"),
    }
}

#[test]
fn every_invalid_sample_file_is_refused_naming_the_file_the_line_and_why() {
    let invalid = files("invalid");
    assert!(invalid.len() >= 9, "{invalid:?}");
    for path in invalid {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let err = SampleSet::load(&path)
            .and_then(|s| s.bind(&iris_features(), &[FeatureKind::Number; 4], "iris v1"))
            .expect_err(&name);
        let (line, why) = expected(&name);
        assert_eq!(err.path, path, "{name}");
        assert_eq!(err.line, line, "{name}: {err}");
        assert!(err.reason.contains(why), "{name}: {err}");
        let text = err.to_string();
        let prefix = match line {
            Some(l) => format!("{}:{l}: ", path.display()),
            None => format!("{}: ", path.display()),
        };
        assert!(text.starts_with(&prefix), "{name}: {text}");
    }
}

#[test]
fn an_unreadable_sample_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.csv");
    let err = SampleSet::load(&missing).unwrap_err();
    assert_eq!(err.line, None);
    assert!(
        err.to_string()
            .starts_with(&format!("{}: cannot read it: ", missing.display())),
        "{err}"
    );
    let err = SampleSet::load(dir.path()).unwrap_err();
    assert!(err.reason.contains("cannot read it"), "{err}");
}

fn config(entries: &[(&str, &Path)]) -> BTreeMap<String, ShowroomConfig> {
    entries
        .iter()
        .map(|(m, p)| {
            (
                m.to_string(),
                ShowroomConfig {
                    samples: p.to_path_buf(),
                    columns: 4,
                },
            )
        })
        .collect()
}

fn iris_registry(dir: &Path) -> Registry {
    let reg = Registry::open(dir.join("registry"), None).unwrap();
    let iris = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/iris.csv");
    mld::training::demo::ensure_iris_model(&reg, &iris).unwrap();
    reg
}

/// Rewrites `path` so its stamp surely differs (a new inode, another size).
fn rewrite(path: &Path, text: &str) {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_sample_file_is_read_again_and_a_broken_one_spoils_only_its_own_showroom() {
    let dir = tempfile::tempdir().unwrap();
    let reg = iris_registry(dir.path());
    // A second model name on the same artifact: its own showroom.
    let v = reg.meta("iris", 1).unwrap();
    assert_eq!(v.version, 1);
    let samples = dir.path().join("samples.csv");
    let other = dir.path().join("other.csv");
    rewrite(
        &samples,
        "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n",
    );
    rewrite(
        &other,
        "petal_width,petal_length,sepal_width,sepal_length\n2.5,6.0,3.3,6.3\n",
    );
    let showroom = Showroom::start(
        reg.clone(),
        config(&[("iris", &samples), ("ghost", &other)]),
    )
    .unwrap();

    let opened = showroom.open("iris", "ann").await.unwrap();
    assert_eq!(opened.samples.records.len(), 1);
    assert_eq!(opened.records.len(), 1, "predict-all records every row");
    assert_eq!(opened.records[0].by_user, "ann");
    assert_eq!(label_of(&opened, 0), "setosa");

    // The file changes: the next request sees the new rows, no reload needed.
    rewrite(
        &samples,
        "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.3,3.3,6.0,2.5\n",
    );
    let opened = showroom.open("iris", "ann").await.unwrap();
    assert_eq!(opened.samples.records.len(), 2);
    assert_eq!(label_of(&opened, 1), "virginica");
    let p = showroom.predict("iris", 2, vec![], "ann").await.unwrap();
    assert_eq!((p.row, p.line, p.edited), (2, 3, false));

    // Broken: an error naming the line, for this showroom only.
    rewrite(
        &samples,
        "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n6.3,3.3,six,2.5\n",
    );
    let err = showroom.open("iris", "ann").await.unwrap_err();
    assert!(matches!(err, ShowroomError::Samples(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}:3: petal_length is \"six\", not a number",
            samples.display()
        )
    );
    let err = showroom
        .predict("iris", 1, vec![], "ann")
        .await
        .unwrap_err();
    assert!(err.to_string().contains(":3: petal_length"), "{err}");
    let listed = showroom.list().await.unwrap();
    let iris = listed.iter().find(|l| l.model == "iris").unwrap();
    assert!(
        iris.problem
            .as_deref()
            .unwrap()
            .contains(":3: petal_length"),
        "{listed:?}"
    );
    // The other showroom has no model "ghost": that is its own, different problem.
    let ghost = listed.iter().find(|l| l.model == "ghost").unwrap();
    assert_eq!(ghost.rows, Some(1));
    assert!(
        ghost.problem.as_deref().unwrap().contains("ghost"),
        "{listed:?}"
    );

    // Fixed again: back at once.
    rewrite(
        &samples,
        "sepal_length,sepal_width,petal_length,petal_width\n4.9,3.0,1.4,0.2\n",
    );
    let opened = showroom.open("iris", "ann").await.unwrap();
    assert_eq!(
        opened.values.inputs.numbers.row(0).to_vec(),
        vec![4.9, 3.0, 1.4, 0.2]
    );

    // A new configuration (SIGHUP): iris now reads `other.csv` (columns in
    // another order, matched by name); ghost is gone.
    showroom.configure(config(&[("iris", &other)]));
    let opened = showroom.open("iris", "ann").await.unwrap();
    assert_eq!(opened.samples.path, other);
    assert_eq!(
        opened.values.inputs.numbers.row(0).to_vec(),
        vec![6.3, 3.3, 6.0, 2.5]
    );
    let err = showroom.open("ghost", "ann").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "no showroom for model ghost: the configuration has no [showroom.ghost]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_are_checked_and_rows_counted() {
    let dir = tempfile::tempdir().unwrap();
    let reg = iris_registry(dir.path());
    let samples = dir.path().join("samples.csv");
    rewrite(
        &samples,
        "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n",
    );
    let showroom = Showroom::start(reg, config(&[("iris", &samples)])).unwrap();
    let err = |e: ShowroomError| e.to_string();
    assert_eq!(
        err(showroom.predict("iris", 2, vec![], "a").await.unwrap_err()),
        "the showroom of iris has 1 sample rows; there is no row 2"
    );
    assert!(showroom.predict("iris", 0, vec![], "a").await.is_err());
    assert_eq!(
        err(showroom
            .predict("iris", 1, vec![("petal".into(), Value::Number(1.0))], "a")
            .await
            .unwrap_err()),
        "unknown feature petal; iris takes sepal_length, sepal_width, petal_length, petal_width"
    );
    assert_eq!(
        err(showroom
            .predict(
                "iris",
                1,
                vec![("petal_length".into(), Value::Number(f64::INFINITY))],
                "a"
            )
            .await
            .unwrap_err()),
        "feature petal_length is inf, not a finite number"
    );
    // Setting a value to what it already is is no edit.
    let same = showroom
        .predict(
            "iris",
            1,
            vec![("petal_length".into(), Value::Number(1.4))],
            "a",
        )
        .await
        .unwrap();
    assert!(!same.edited);
    let edited = showroom
        .predict(
            "iris",
            1,
            vec![("petal_length".into(), Value::Number(5.0))],
            "a",
        )
        .await
        .unwrap();
    assert!(edited.edited);
    assert_eq!(
        edited.values,
        [5.1, 3.5, 5.0, 0.2].map(Value::Number).to_vec()
    );
    assert_eq!(edited.record.source, mld::showroom::store::Source::Edited);
}

/// The showroom's queue is bounded; reloads never wait on it: far more
/// configurations than it holds, handed over without any request between,
/// return at once, and the newest is the one in force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_beyond_the_queue_never_wait_and_the_newest_wins() {
    let dir = tempfile::tempdir().unwrap();
    let reg = iris_registry(dir.path());
    let first = dir.path().join("first.csv");
    let last = dir.path().join("last.csv");
    rewrite(
        &first,
        "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n",
    );
    rewrite(
        &last,
        "sepal_length,sepal_width,petal_length,petal_width\n6.3,3.3,6.0,2.5\n",
    );
    let showroom = Showroom::start(reg, config(&[("iris", &first)])).unwrap();
    let n = 20 * mld::showroom::QUEUE;
    let started = std::time::Instant::now();
    for i in 0..n {
        let path = if i + 1 == n { &last } else { &first };
        showroom.configure(config(&[("iris", path)]));
    }
    // A blocking send on a full queue would hang here; a growing one would
    // hold thousands of configurations.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let opened = showroom.open("iris", "ann").await.unwrap();
    assert_eq!(opened.samples.path, last);
    assert_eq!(
        opened.values.inputs.numbers.row(0).to_vec(),
        vec![6.3, 3.3, 6.0, 2.5]
    );
}

/// The label predicted for sample row `row` (0-based) of an opened showroom.
fn label_of(opened: &mld::showroom::Opened, row: usize) -> &str {
    match &opened.scored[row] {
        Scored::Class { class_index, .. } => &opened.version.labels[*class_index],
        other => panic!("a class, not {other:?}"),
    }
}
