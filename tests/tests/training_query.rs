//! Training from a datalake query: the same rows as the CSV give the same
//! data fingerprint and the same model, on the built-in SQLite datalake, on
//! PostgreSQL through psqlODBC and on MariaDB through MariaDB Connector/ODBC.

use mld::model::ParamValue;
use mld::training::{Catalog, TrainRequest, train};
use mld_tests::lake::Backend;
use mld_tests::scoring::{DaemonLake, iris_csv, iris_rows};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

const FEATURES: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

fn config(dir: &std::path::Path, lake_toml: &str, query: &str) -> mld_shared::config::Config {
    let features = FEATURES
        .iter()
        .map(|f| format!("{f:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        "{lake_toml}\n[models.datasets.iris_csv]\ncsv = {csv:?}\nlabel = \"species\"\n\n\
         [models.datasets.iris_query]\ndatalake = \"lake\"\nquery = {query:?}\nlabel = \"species\"\n\
         features = [{features}]\n",
        csv = iris_csv().display().to_string(),
    );
    let path = dir.join("mld.toml");
    std::fs::write(&path, text).unwrap();
    mld_shared::config::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn request(dataset: &str) -> TrainRequest {
    TrainRequest {
        dataset: dataset.into(),
        model: "logistic_regression".into(),
        hyperparameters: BTreeMap::from([("alpha".to_string(), ParamValue::Float(0.1))]),
        test_split: 0.3,
        seed: 42,
    }
}

fn same_model_from_query_as_from_csv(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let dl = DaemonLake::new(backend, dir.path(), "training");
    dl.lake
        .execute(
            "CREATE TABLE iris_train (id BIGINT PRIMARY KEY, sepal_length DOUBLE PRECISION, \
             sepal_width DOUBLE PRECISION, petal_length DOUBLE PRECISION, petal_width DOUBLE PRECISION, \
             species VARCHAR(32))",
        )
        .unwrap();
    let rows = iris_rows();
    mld_tests::lake::insert_rows(&dl.lake, "iris_train", rows.len(), |i| {
        let (f, label) = &rows[i];
        format!(
            "{}, {}, {}, {}, {}, '{label}'",
            i + 1,
            f[0],
            f[1],
            f[2],
            f[3]
        )
    });
    let query = "SELECT id, species, sepal_length, sepal_width, petal_length, petal_width FROM iris_train ORDER BY id";
    let config = config(dir.path(), &dl.toml, query);
    let catalog = Catalog::for_config(&config);

    let info = catalog.dataset("iris_query").unwrap();
    assert_eq!(info.problem, None);
    assert_eq!(info.records, 150);
    assert_eq!(info.classes, vec!["setosa", "versicolor", "virginica"]);

    let cancel = AtomicBool::new(false);
    let from_csv = train(&catalog, &request("iris_csv"), &mut |_| {}, &cancel).unwrap();
    let from_query = train(&catalog, &request("iris_query"), &mut |_| {}, &cancel).unwrap();
    let fp =
        |m: &mld::training::TrainedModel| m.meta.training.as_ref().unwrap().fingerprint.clone();
    assert_eq!(
        fp(&from_query),
        fp(&from_csv),
        "same rows, same fingerprint"
    );
    assert_eq!(from_query.meta.metrics, from_csv.meta.metrics);
    assert_eq!(from_query.meta.labels, from_csv.meta.labels);
    // And the same predictions, row by row.
    let (a, b) = (from_csv.model(), from_query.model());
    let names: Vec<String> = FEATURES.iter().map(|s| s.to_string()).collect();
    let x = ndarray::Array2::from_shape_vec(
        (rows.len(), 4),
        rows.iter().flat_map(|(f, _)| *f).collect(),
    )
    .unwrap();
    let pa = a.predict(&a.bind(&names).unwrap(), x.view()).unwrap();
    let pb = b.predict(&b.bind(&names).unwrap(), x.view()).unwrap();
    assert_eq!(pa, pb);
}

#[test]
fn a_query_dataset_on_builtin_sqlite_trains_the_same_model_as_the_csv() {
    same_model_from_query_as_from_csv(Backend::BuiltinSqlite);
}

#[test]
fn a_query_dataset_on_postgresql_trains_the_same_model_as_the_csv() {
    same_model_from_query_as_from_csv(Backend::PostgresOdbc);
}

#[test]
fn a_query_dataset_on_mariadb_trains_the_same_model_as_the_csv() {
    same_model_from_query_as_from_csv(Backend::MariaDbOdbc);
}

#[test]
fn a_query_dataset_missing_a_feature_is_listed_with_its_problem_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dl = DaemonLake::new(Backend::BuiltinSqlite, dir.path(), "training-bad");
    dl.lake
        .execute("CREATE TABLE t (species TEXT, sepal_length REAL)")
        .unwrap();
    dl.lake.execute("INSERT INTO t VALUES ('a', 1.0)").unwrap();
    let config = config(dir.path(), &dl.toml, "SELECT species, sepal_length FROM t");
    let catalog = Catalog::for_config(&config);
    let problem = catalog
        .dataset("iris_query")
        .unwrap()
        .problem
        .clone()
        .expect("a problem");
    assert!(problem.contains("sepal_width"), "{problem}");
    let err = train(
        &catalog,
        &request("iris_query"),
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap_err();
    assert!(err.to_string().contains("sepal_width"), "{err}");
}
