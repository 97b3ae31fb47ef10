//! Datalakes built from `[datalakes.NAME]` config: secrets from files and
//! the environment, registered driver names, the probe table.

use std::time::Duration;

use mld::datalake::{Datalake, DatalakeError, ProbeStatus};
use mld_shared::config::{ConfigDuration, DatalakeConfig, DatalakeKind, Secret};
use mld_tests::pg::{PG_PASSWORD, PgServer};

fn config(kind: DatalakeKind) -> DatalakeConfig {
    DatalakeConfig {
        kind,
        path: None,
        connection: None,
        connection_env: None,
        connection_file: None,
        password_env: None,
        password_file: None,
        probe_table: None,
        connect_timeout: ConfigDuration(Duration::from_secs(5)),
        query_timeout: ConfigDuration(Duration::from_secs(60)),
        batch_size: 500,
    }
}

#[test]
fn postgres_connection_and_password_from_files() {
    let pg = PgServer::shared();
    let db = pg.create_database("config_files");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("conn"),
        format!("{}\n", pg.odbc_connection(&db)),
    )
    .unwrap();
    // Editors add a newline; it is not part of the password.
    std::fs::write(dir.path().join("pw"), format!("{PG_PASSWORD}\n")).unwrap();
    let mut cfg = config(DatalakeKind::Odbc);
    cfg.connection_file = Some(dir.path().join("conn"));
    cfg.password_file = Some(dir.path().join("pw"));
    cfg.probe_table = Some("pg_catalog.pg_class".into());
    let lake = Datalake::from_config("warehouse", &cfg).unwrap();
    let report = lake.probe();
    assert_eq!(report.status, ProbeStatus::Online, "{:?}", report.message);
    assert_eq!(lake.batch_size(), 500);
    let debug = format!("{lake:?}");
    assert!(!debug.contains(PG_PASSWORD), "{debug}");
    assert!(debug.contains("***"), "{debug}");
}

#[test]
fn inline_connection_with_password_is_redacted_in_debug() {
    let pg = PgServer::shared();
    let db = pg.create_database("config_inline");
    let mut cfg = config(DatalakeKind::Odbc);
    let conn = format!("{}PWD={{{PG_PASSWORD}}};", pg.odbc_connection(&db));
    cfg.connection = Some(Secret::new(conn));
    let lake = Datalake::from_config("warehouse", &cfg).unwrap();
    assert_eq!(lake.probe().status, ProbeStatus::Online);
    assert!(!format!("{lake:?} {cfg:?}").contains(PG_PASSWORD));
}

#[test]
fn missing_secret_sources_are_config_errors_naming_them() {
    let mut cfg = config(DatalakeKind::Odbc);
    cfg.connection_env = Some("MLD_TEST_SURELY_UNSET_CONN".into());
    let err = Datalake::from_config("warehouse", &cfg).unwrap_err();
    assert!(matches!(err, DatalakeError::Config { .. }), "{err:?}");
    assert!(
        err.to_string().contains("MLD_TEST_SURELY_UNSET_CONN"),
        "{err}"
    );

    let mut cfg = config(DatalakeKind::Odbc);
    cfg.connection = Some(Secret::new("Driver={SQLite3};Database=/tmp/x.db"));
    cfg.password_file = Some("/nonexistent/mld/pw".into());
    let err = Datalake::from_config("warehouse", &cfg).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/mld/pw"), "{err}");

    let cfg = config(DatalakeKind::Sqlite);
    assert!(
        Datalake::from_config("demo", &cfg).is_err(),
        "sqlite needs a path"
    );
}

#[test]
fn invalid_probe_table_is_refused() {
    let mut cfg = config(DatalakeKind::Sqlite);
    cfg.path = Some("/tmp/whatever.db".into());
    cfg.probe_table = Some("t; DROP TABLE x".into());
    let err = Datalake::from_config("demo", &cfg).unwrap_err();
    assert!(
        matches!(err, DatalakeError::InvalidIdentifier { .. }),
        "{err:?}"
    );
}

#[test]
fn builtin_sqlite_from_config_probes_its_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lake.db");
    Datalake::sqlite("seed", &path)
        .execute("CREATE TABLE iris_incoming (id INTEGER)")
        .unwrap();
    let mut cfg = config(DatalakeKind::Sqlite);
    cfg.path = Some(path);
    cfg.probe_table = Some("iris_incoming".into());
    let lake = Datalake::from_config("demo", &cfg).unwrap();
    assert_eq!(lake.probe().status, ProbeStatus::Online);
}
