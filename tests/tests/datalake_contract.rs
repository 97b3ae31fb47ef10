//! The datalake contract: one suite, run on the built-in SQLite backend,
//! on SQLite through the SQLite ODBC driver, on PostgreSQL through psqlODBC
//! and on MariaDB through MariaDB Connector/ODBC against real servers. Each
//! test gets its own file or database.

use mld::datalake::{
    Batch, BulkInsert, DatalakeError, ProbeStatus, ResultRow, SQLITE_ROWS_PER_INSERT,
};
use mld_shared::config::ResultColumns;
use mld_shared::ids::DispatchId;
use mld_tests::lake::{Backend, TestLake, create_feature_table, feature_value, insert_rows};

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn read_all(t: &TestLake, query: &str, key: &str, features: &[String], batch: usize) -> Vec<Batch> {
    t.lake
        .read(query, key, features, batch)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

fn result_rows(keys: std::ops::Range<usize>, tag: &str) -> Vec<ResultRow> {
    let at: jiff::Timestamp = "2026-11-23T02:00:00.250Z".parse().unwrap();
    keys.map(|i| ResultRow {
        row_key: format!("k{i}"),
        prediction: format!("{tag}-{}", i % 3),
        score: i as f64 / 3.0,
        value: None,
        model_version: "iris@3".into(),
        scored_at: at,
    })
    .collect()
}

/// (row_key, prediction|model_version, score) of one dispatch, sorted by key.
/// The reader returns the key as text and features as numbers, so each text
/// column is read as the key of its own query, in the same order (no string
/// concatenation: its SQL differs between databases).
fn stored(t: &TestLake, dispatch: i64) -> Vec<(String, String, f64)> {
    let column = |col: &str| -> (Vec<String>, Vec<f64>) {
        let q = format!(
            "SELECT {col}, score FROM results WHERE dispatch_id = {dispatch} \
             AND scored_at IS NOT NULL ORDER BY row_key"
        );
        let mut keys = Vec::new();
        let mut scores = Vec::new();
        for b in read_all(t, &q, col, &names(&["score"]), 1000) {
            assert!(b.unscorable.is_empty(), "{:?}", b.unscorable);
            keys.extend(b.keys);
            scores.extend(b.features.column(0).iter().copied());
        }
        (keys, scores)
    };
    let (keys, scores) = column("row_key");
    let (predictions, _) = column("prediction");
    let (versions, _) = column("model_version");
    assert_eq!(keys.len(), predictions.len());
    assert_eq!(keys.len(), versions.len());
    let mut rows: Vec<(String, String, f64)> = keys
        .into_iter()
        .zip(predictions.iter().zip(&versions))
        .zip(scores)
        .map(|((k, (p, v)), s)| (k, format!("{p}|{v}"), s))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

/// The `scored_at` text of one dispatch's rows, in row-key order.
fn stamps(t: &TestLake, dispatch: i64) -> Vec<String> {
    let q = format!(
        "SELECT scored_at, score FROM results WHERE dispatch_id = {dispatch} ORDER BY row_key"
    );
    read_all(t, &q, "scored_at", &names(&["score"]), 100)
        .into_iter()
        .flat_map(|b| b.keys)
        .collect()
}

fn expected(t: &TestLake, rows: &[ResultRow]) -> Vec<(String, String, f64)> {
    let mut v: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.row_key.clone(),
                format!("{}|{}", r.prediction, r.model_version),
                as_read_back(t, r.score),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// The SQLite ODBC driver hands REAL values over as `%.15g` text, so a stored
/// f64 reads back with 15 significant digits there (it is stored exactly:
/// the built-in backend reads the same file bit for bit).
fn as_read_back(t: &TestLake, v: f64) -> f64 {
    match t.backend {
        Backend::SqliteOdbc => format!("{v:.14e}").parse().unwrap(),
        _ => v,
    }
}

fn assert_no_secret(t: &TestLake, text: &str) {
    if let Some(s) = &t.secret {
        assert!(!text.contains(s.as_str()), "password leaked in: {text}");
    }
    if let Some((_, wrong)) = &t.wrong_password {
        assert!(
            !text.contains(wrong.as_str()),
            "wrong password leaked in: {text}"
        );
    }
}

fn results_table(t: &TestLake) {
    t.lake
        .create_results_table("results", &ResultColumns::default())
        .unwrap();
}

mod cases {
    use super::*;

    pub fn reads_all_rows_in_batches_with_exact_values(backend: Backend) {
        let t = TestLake::new(backend, "read");
        let n = 2500;
        create_feature_table(&t.lake, "rows_in", n, 3);
        // Features asked in another order and case than the table has.
        let features = names(&["F2", "f0", "F1"]);
        let batches = read_all(
            &t,
            "SELECT f1, F0, id AS Row_Id, f2 FROM rows_in ORDER BY id",
            "row_id",
            &features,
            1000,
        );
        assert!(batches.len() >= 3, "{} batches", batches.len());
        let mut seen = 0;
        for b in &batches {
            assert!(b.rows_read() <= 1000);
            assert!(b.unscorable.is_empty());
            assert_eq!(b.features.ncols(), 3);
            assert_eq!(b.features.nrows(), b.keys.len());
            for (r, key) in b.keys.iter().enumerate() {
                let i: usize = key.parse().unwrap();
                assert_eq!(i, seen, "rows arrive in query order");
                for (c, j) in [2, 0, 1].into_iter().enumerate() {
                    let want: f64 = feature_value(i, j).parse().unwrap();
                    // Bitwise: DOUBLE PRECISION must arrive as f64, never through f32.
                    assert_eq!(b.features[[r, c]].to_bits(), want.to_bits(), "row {i} f{j}");
                }
                seen += 1;
            }
        }
        assert_eq!(seen, n);
    }

    pub fn numeric_types_and_numeric_text_become_f64(backend: Backend) {
        let t = TestLake::new(backend, "types");
        t.lake
            .execute(
                "CREATE TABLE typed (id VARCHAR(20), i INTEGER, b BIGINT, d DECIMAL(12,4), r REAL, \
                 x DOUBLE PRECISION, s VARCHAR(30))",
            )
            .unwrap();
        insert_rows(&t.lake, "typed", 3, |i| {
            format!(
                "'row-{i}', {i}, {}, {i}.1250, {i}.5, -{i}.75, ' {i}.0625 '",
                1i64 << 40
            )
        });
        let features = names(&["i", "b", "d", "r", "x", "s"]);
        let batches = read_all(&t, "SELECT * FROM typed ORDER BY id", "id", &features, 10);
        let b = &batches[0];
        assert_eq!(b.keys, names(&["row-0", "row-1", "row-2"]));
        for i in 0..3 {
            let f = i as f64;
            let want = [
                f,
                (1i64 << 40) as f64,
                f + 0.125,
                f + 0.5,
                -(f + 0.75),
                f + 0.0625,
            ];
            assert_eq!(b.features.row(i).to_vec(), want.to_vec());
        }
    }

    pub fn missing_columns_fail_before_any_row_naming_them(backend: Backend) {
        let t = TestLake::new(backend, "missing");
        create_feature_table(&t.lake, "rows_in", 10, 2);
        let err = t
            .lake
            .read(
                "SELECT id, f0 FROM rows_in",
                "id",
                &names(&["f0", "petal_width", "f1"]),
                100,
            )
            .unwrap_err();
        match &err {
            DatalakeError::MissingColumns { missing, .. } => {
                assert_eq!(missing, &names(&["petal_width", "f1"]))
            }
            other => panic!("wrong error {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("petal_width") && msg.contains("f1"), "{msg}");
        let err = t
            .lake
            .read("SELECT f0 FROM rows_in", "id", &names(&["f0"]), 100)
            .unwrap_err();
        assert!(
            matches!(&err, DatalakeError::MissingColumns { missing, .. } if missing == &names(&["id"])),
            "{err:?}"
        );
    }

    pub fn null_and_non_numeric_features_are_unscorable_with_key_and_column(backend: Backend) {
        let t = TestLake::new(backend, "unscorable");
        t.lake
            .execute("CREATE TABLE mixed (id INTEGER, x DOUBLE PRECISION, label_txt VARCHAR(20))")
            .unwrap();
        insert_rows(&t.lake, "mixed", 1, |_| {
            "1, 1.5, '2.5'), (2, NULL, '3'), (3, 4.0, 'abc'), (4, 5.0, NULL), (5, 6.0, ' 7 '), (NULL, 1.0, '1'"
                .into()
        });
        let batches = read_all(
            &t,
            "SELECT id, x, label_txt FROM mixed ORDER BY id",
            "id",
            &names(&["x", "label_txt"]),
            2,
        );
        let keys: Vec<String> = batches.iter().flat_map(|b| b.keys.clone()).collect();
        assert_eq!(keys, names(&["1", "5"]));
        let rows: Vec<Vec<f64>> = batches
            .iter()
            .flat_map(|b| {
                b.features
                    .rows()
                    .into_iter()
                    .map(|r| r.to_vec())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(rows, vec![vec![1.5, 2.5], vec![6.0, 7.0]]);
        let mut bad: Vec<_> = batches.iter().flat_map(|b| b.unscorable.clone()).collect();
        bad.sort_by(|a, b| a.key.cmp(&b.key));
        let summary: Vec<(String, &str)> = bad
            .iter()
            .map(|u| {
                let col = if u.reason.contains("key column") {
                    "key"
                } else if u.reason.contains("label_txt") {
                    "label_txt"
                } else if u.reason.contains('x') {
                    "x"
                } else {
                    "?"
                };
                (u.key.clone(), col)
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("".into(), "key"),
                ("2".into(), "x"),
                ("3".into(), "label_txt"),
                ("4".into(), "label_txt")
            ],
            "{bad:?}"
        );
        assert!(bad[2].reason.contains("abc"), "{}", bad[2].reason);
        assert!(bad[1].reason.contains("NULL"), "{}", bad[1].reason);
    }

    pub fn written_results_read_back_one_row_per_key(backend: Backend) {
        let t = TestLake::new(backend, "write");
        results_table(&t);
        let rows = result_rows(0..2500, "setosa");
        let mut w = t
            .lake
            .begin_results("results", &ResultColumns::default(), DispatchId(7))
            .unwrap();
        for chunk in rows.chunks(1000) {
            w.write_batch(chunk).unwrap();
        }
        assert_eq!(w.commit().unwrap(), 2500);
        assert_eq!(stored(&t, 7), expected(&t, &rows));
    }

    pub fn scored_at_reads_back_as_the_utc_time_written(backend: Backend) {
        let t = TestLake::new(backend, "stamps");
        results_table(&t);
        let rows = result_rows(0..10, "x");
        t.lake
            .write_results("results", &ResultColumns::default(), DispatchId(3), &rows)
            .unwrap();
        let stamps = stamps(&t, 3);
        assert_eq!(stamps.len(), 10);
        // To the second: the fraction kept depends on the column's precision.
        for s in &stamps {
            assert!(s.starts_with("2026-11-23 02:00:00"), "{s}");
        }
    }

    /// A write-back resumed from the event log mixes batches stored at
    /// different times (and, after an alias moved, versions) in one write:
    /// each row keeps its own, whatever bulk path the backend takes.
    pub fn a_batch_mixing_versions_and_times_keeps_each_rows_own(backend: Backend) {
        let t = TestLake::new(backend, "mixed");
        results_table(&t);
        let mut rows = result_rows(0..6, "x");
        for (i, r) in rows.iter_mut().enumerate() {
            r.model_version = format!("iris@{}", 3 + i % 2);
            r.scored_at = r
                .scored_at
                .checked_add(jiff::SignedDuration::from_secs(i as i64))
                .unwrap();
        }
        let mut w = t
            .lake
            .begin_results("results", &ResultColumns::default(), DispatchId(5))
            .unwrap();
        w.write_batch(&rows).unwrap();
        assert_eq!(w.commit().unwrap(), 6);
        assert_eq!(stored(&t, 5), expected(&t, &rows));
        let stamps = stamps(&t, 5);
        let want: Vec<String> = (0..6).map(|i| format!("2026-11-23 02:00:0{i}")).collect();
        assert_eq!(stamps.len(), 6);
        for (got, want) in stamps.iter().zip(&want) {
            assert!(got.starts_with(want.as_str()), "{got} should be {want}");
        }
    }

    pub fn rewriting_a_dispatch_replaces_its_rows(backend: Backend) {
        let t = TestLake::new(backend, "idem");
        results_table(&t);
        let cols = ResultColumns::default();
        let other = result_rows(0..10, "other");
        t.lake
            .write_results("results", &cols, DispatchId(8), &other)
            .unwrap();
        t.lake
            .write_results(
                "results",
                &cols,
                DispatchId(7),
                &result_rows(0..100, "first"),
            )
            .unwrap();
        let again = result_rows(0..50, "retry");
        assert_eq!(
            t.lake
                .write_results("results", &cols, DispatchId(7), &again)
                .unwrap(),
            50
        );
        assert_eq!(stored(&t, 7), expected(&t, &again));
        assert_eq!(
            stored(&t, 8),
            expected(&t, &other),
            "other dispatches untouched"
        );
    }

    pub fn missing_results_table_is_an_error_and_writes_nothing(backend: Backend) {
        let t = TestLake::new(backend, "notable");
        let err = t
            .lake
            .write_results(
                "results",
                &ResultColumns::default(),
                DispatchId(1),
                &result_rows(0..5, "x"),
            )
            .unwrap_err();
        assert!(matches!(err, DatalakeError::Write { .. }), "{err:?}");
        assert!(err.to_string().contains("results"), "{err}");
        // Not auto-created.
        assert!(
            t.lake
                .read("SELECT * FROM results", "row_key", &[], 10)
                .is_err()
        );
        assert_no_secret(&t, &format!("{err} {err:?}"));
    }

    pub fn failing_insert_rolls_back_the_delete_too(backend: Backend) {
        let t = TestLake::new(backend, "badcol");
        results_table(&t);
        let old = result_rows(0..20, "old");
        t.lake
            .write_results("results", &ResultColumns::default(), DispatchId(9), &old)
            .unwrap();
        let cols = ResultColumns {
            score: "no_such_column".into(),
            ..ResultColumns::default()
        };
        let err = t
            .lake
            .write_results("results", &cols, DispatchId(9), &result_rows(0..5, "new"))
            .unwrap_err();
        assert!(matches!(err, DatalakeError::Write { .. }), "{err:?}");
        assert_eq!(
            stored(&t, 9),
            expected(&t, &old),
            "the earlier result set survives"
        );
    }

    pub fn failure_in_last_batch_rolls_back_everything(backend: Backend) {
        let t = TestLake::new(backend, "midway");
        results_table(&t);
        let mut w = t
            .lake
            .begin_results("results", &ResultColumns::default(), DispatchId(10))
            .unwrap();
        let rows = result_rows(0..3000, "p");
        w.write_batch(&rows[..1000]).unwrap();
        w.write_batch(&rows[1000..2000]).unwrap();
        // A duplicate key breaks the primary key in the last batch.
        let mut last = rows[2000..].to_vec();
        last[500].row_key = last[10].row_key.clone();
        let err = w.write_batch(&last).unwrap_err();
        assert!(matches!(err, DatalakeError::Write { .. }), "{err:?}");
        assert!(w.commit().is_err(), "no commit after a failed batch");
        assert!(stored(&t, 10).is_empty());
    }

    pub fn dropping_an_uncommitted_writer_rolls_back(backend: Backend) {
        let t = TestLake::new(backend, "dropped");
        results_table(&t);
        let cols = ResultColumns::default();
        let old = result_rows(0..5, "old");
        t.lake
            .write_results("results", &cols, DispatchId(11), &old)
            .unwrap();
        let mut w = t
            .lake
            .begin_results("results", &cols, DispatchId(11))
            .unwrap();
        w.write_batch(&result_rows(0..100, "new")).unwrap();
        drop(w);
        assert_eq!(stored(&t, 11), expected(&t, &old));
    }

    /// What the driver reports through SQLGetInfo, and the SQL built from it
    /// working for names that are reserved words everywhere: they are
    /// accepted only when quoted the way this server reads quotes.
    pub fn names_are_quoted_the_way_the_driver_reports(backend: Backend) {
        let t = TestLake::new(backend, "dialect");
        let d = t.lake.dialect().unwrap();
        let (quote, dbms, bulk) = match backend {
            Backend::BuiltinSqlite | Backend::SqliteOdbc => (
                '"',
                "SQLite",
                BulkInsert::MultiRowArrays(SQLITE_ROWS_PER_INSERT),
            ),
            Backend::PostgresOdbc => ('"', "PostgreSQL", BulkInsert::PostgresUnnest),
            Backend::MariaDbOdbc => ('`', "MariaDB", BulkInsert::ParameterArrays),
        };
        assert_eq!(
            (d.quote_char(), d.dbms(), d.bulk_insert()),
            (Some(quote), dbms, bulk)
        );

        let cols = ResultColumns {
            dispatch_id: "select".into(),
            row_key: "from".into(),
            prediction: "where".into(),
            score: "group".into(),
            model_version: "order".into(),
            scored_at: "table".into(),
        };
        t.lake.create_results_table("order", &cols).unwrap();
        let probe = t.lake.clone().with_probe_table("order").unwrap().probe();
        assert_eq!(probe.status, ProbeStatus::Online, "{:?}", probe.message);
        let rows = result_rows(0..250, "r");
        t.lake
            .write_results("order", &cols, DispatchId(5), &rows)
            .unwrap();
        // Again: the delete of the earlier attempt is quoted too.
        t.lake
            .write_results("order", &cols, DispatchId(5), &rows[..100])
            .unwrap();
        let q = format!(
            "SELECT {} AS k, {} AS s FROM {} WHERE {} = 5 AND {} IS NOT NULL ORDER BY {}",
            d.identifier("from"),
            d.identifier("group"),
            d.identifier("order"),
            d.identifier("select"),
            d.identifier("table"),
            d.identifier("from")
        );
        let mut read: Vec<(String, f64)> = read_all(&t, &q, "k", &names(&["s"]), 1000)
            .into_iter()
            .flat_map(|b| b.keys.into_iter().zip(b.features.column(0).to_vec()))
            .collect();
        let mut want: Vec<(String, f64)> = rows[..100]
            .iter()
            .map(|r| (r.row_key.clone(), as_read_back(&t, r.score)))
            .collect();
        read.sort_by(|a, b| a.0.cmp(&b.0));
        want.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(read, want);
    }

    pub fn probe_online_and_error(backend: Backend) {
        let t = TestLake::new(backend, "probe");
        create_feature_table(&t.lake, "probe_here", 1, 1);
        let ok = t
            .lake
            .clone()
            .with_probe_table("probe_here")
            .unwrap()
            .probe();
        assert_eq!(ok.status, ProbeStatus::Online, "{:?}", ok.message);
        let bad = t
            .lake
            .clone()
            .with_probe_table("nope_table")
            .unwrap()
            .probe();
        assert_eq!(bad.status, ProbeStatus::Error);
        assert!(
            bad.message.as_deref().unwrap().contains("nope_table"),
            "{:?}",
            bad.message
        );
        assert!(
            t.lake.clone().with_probe_table("x; DROP TABLE y").is_err(),
            "identifiers are validated"
        );
    }

    pub fn unreachable_datalake_fails_fast_with_the_drivers_message(backend: Backend) {
        let t = TestLake::new(backend, "unreach");
        let start = std::time::Instant::now();
        let report = t.unreachable.probe();
        assert_eq!(report.status, ProbeStatus::Error);
        let msg = report.message.unwrap();
        assert!(!msg.is_empty());
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert_no_secret(&t, &msg);
        let err = t
            .unreachable
            .read("SELECT 1 AS id", "id", &[], 10)
            .unwrap_err();
        assert!(matches!(err, DatalakeError::Connect { .. }), "{err:?}");
        assert_no_secret(&t, &format!("{err} {err:?}"));
    }

    pub fn secrets_never_show(backend: Backend) {
        let t = TestLake::new(backend, "secrets");
        assert_no_secret(&t, &format!("{:?}", t.lake));
        let err = t
            .lake
            .read("SELECT nonsense FROM nowhere", "id", &[], 10)
            .unwrap_err();
        assert_no_secret(&t, &format!("{err} {err:?}"));
        if let Some((wrong, _)) = &t.wrong_password {
            let report = wrong.probe();
            assert_eq!(report.status, ProbeStatus::Error);
            let msg = report.message.unwrap();
            let refused = backend.wrong_password_text();
            assert!(msg.contains(refused), "{msg}");
            assert_no_secret(&t, &msg);
            let err = wrong.read("SELECT 1 AS id", "id", &[], 10).unwrap_err();
            assert!(err.to_string().contains(refused), "{err}");
            assert_no_secret(&t, &format!("{err} {err:?} {wrong:?}"));
        }
    }
}

macro_rules! contract {
    ($module:ident, $backend:expr) => {
        mod $module {
            use super::cases;
            #[test]
            fn reads_all_rows_in_batches_with_exact_values() {
                cases::reads_all_rows_in_batches_with_exact_values($backend)
            }
            #[test]
            fn numeric_types_and_numeric_text_become_f64() {
                cases::numeric_types_and_numeric_text_become_f64($backend)
            }
            #[test]
            fn missing_columns_fail_before_any_row_naming_them() {
                cases::missing_columns_fail_before_any_row_naming_them($backend)
            }
            #[test]
            fn null_and_non_numeric_features_are_unscorable_with_key_and_column() {
                cases::null_and_non_numeric_features_are_unscorable_with_key_and_column($backend)
            }
            #[test]
            fn written_results_read_back_one_row_per_key() {
                cases::written_results_read_back_one_row_per_key($backend)
            }
            #[test]
            fn names_are_quoted_the_way_the_driver_reports() {
                cases::names_are_quoted_the_way_the_driver_reports($backend)
            }
            #[test]
            fn scored_at_reads_back_as_the_utc_time_written() {
                cases::scored_at_reads_back_as_the_utc_time_written($backend)
            }
            #[test]
            fn a_batch_mixing_versions_and_times_keeps_each_rows_own() {
                cases::a_batch_mixing_versions_and_times_keeps_each_rows_own($backend)
            }
            #[test]
            fn rewriting_a_dispatch_replaces_its_rows() {
                cases::rewriting_a_dispatch_replaces_its_rows($backend)
            }
            #[test]
            fn missing_results_table_is_an_error_and_writes_nothing() {
                cases::missing_results_table_is_an_error_and_writes_nothing($backend)
            }
            #[test]
            fn failing_insert_rolls_back_the_delete_too() {
                cases::failing_insert_rolls_back_the_delete_too($backend)
            }
            #[test]
            fn failure_in_last_batch_rolls_back_everything() {
                cases::failure_in_last_batch_rolls_back_everything($backend)
            }
            #[test]
            fn dropping_an_uncommitted_writer_rolls_back() {
                cases::dropping_an_uncommitted_writer_rolls_back($backend)
            }
            #[test]
            fn probe_online_and_error() {
                cases::probe_online_and_error($backend)
            }
            #[test]
            fn unreachable_datalake_fails_fast_with_the_drivers_message() {
                cases::unreachable_datalake_fails_fast_with_the_drivers_message($backend)
            }
            #[test]
            fn secrets_never_show() {
                cases::secrets_never_show($backend)
            }
        }
    };
}

contract!(builtin_sqlite, mld_tests::lake::Backend::BuiltinSqlite);
contract!(sqlite_odbc, mld_tests::lake::Backend::SqliteOdbc);
contract!(postgres_odbc, mld_tests::lake::Backend::PostgresOdbc);
contract!(mariadb_odbc, mld_tests::lake::Backend::MariaDbOdbc);

/// The README's MariaDB results table (the SQL block that starts with
/// `-- MariaDB / MySQL`) takes a dispatch's rows and keeps their milliseconds.
#[test]
fn the_readme_mariadb_results_table_takes_a_dispatch() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme
        .find("-- MariaDB / MySQL\n")
        .expect("the README shows a MariaDB results table");
    let block = &readme[start..];
    let ddl = &block[..block.find("```").unwrap()];
    let t = TestLake::new(Backend::MariaDbOdbc, "readme");
    t.lake
        .execute(ddl.replace("-- MariaDB / MySQL", "").trim())
        .unwrap();
    let rows = result_rows(0..1500, "readme");
    let mut w = t
        .lake
        .begin_results("scores", &ResultColumns::default(), DispatchId(4))
        .unwrap();
    for chunk in rows.chunks(1000) {
        w.write_batch(chunk).unwrap();
    }
    assert_eq!(w.commit().unwrap(), 1500);
    let stamps: Vec<String> = read_all(
        &t,
        "SELECT scored_at, score FROM scores WHERE dispatch_id = 4",
        "scored_at",
        &names(&["score"]),
        1000,
    )
    .into_iter()
    .flat_map(|b| b.keys)
    .collect();
    assert_eq!(stamps.len(), 1500);
    assert!(
        stamps.iter().all(|s| s == "2026-11-23 02:00:00.250"),
        "{:?}",
        &stamps[..3]
    );
}
