//! The SQL a datalake accepts, as its driver reports it, and the statements
//! mld builds from that. Receives what ODBC's `SQLGetInfo` says on a live
//! connection (the identifier quote character, the DBMS name); emits the
//! probe, delete, insert and create statements. There is no list of drivers
//! here: every choice follows a reported fact, so a driver mld has never
//! seen gets SQL it said it accepts.
//!
//! - Identifiers are quoted with the character the driver reports (`"` for
//!   PostgreSQL and SQLite, `` ` `` for MariaDB and MySQL), and left bare
//!   when it reports none (they are validated as plain identifiers first).
//! - A batch is inserted with ODBC parameter arrays, except when the DBMS
//!   reports itself as PostgreSQL: then as arrays through `unnest`, one
//!   statement per batch (4.5x the arrays at 1M rows in `datalake_floor`).

use odbc_api::Connection;

use super::shard::{KeyRange, ShardKey};

/// What a driver told us about its SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialect {
    /// `SQL_DBMS_NAME`, e.g. "PostgreSQL", "MariaDB", "SQLite".
    dbms: String,
    /// `SQL_IDENTIFIER_QUOTE_CHAR`; `None` when the driver reports a space
    /// (quoted identifiers not supported).
    quote: Option<char>,
}

/// How a batch of results is inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkInsert {
    /// `INSERT … VALUES (?, …)` with ODBC parameter arrays: any driver.
    ParameterArrays,
    /// PostgreSQL: the batch as six array parameters, `unnest`ed server-side.
    PostgresUnnest,
    /// SQLite: `INSERT … VALUES (?, …), (?, …), …` with this many rows per
    /// statement, with parameter arrays. SQLite ODBC compiles a DML
    /// statement again for each parameter set: many rows per set pay that
    /// once per set instead of once per row.
    MultiRowArrays(usize),
}

/// Rows per statement of [`BulkInsert::MultiRowArrays`]: 600 parameters,
/// far below SQLite's 32,766.
pub const SQLITE_ROWS_PER_INSERT: usize = 100;

impl Dialect {
    pub fn new(dbms: impl Into<String>, quote: Option<char>) -> Self {
        Dialect {
            dbms: dbms.into(),
            quote,
        }
    }

    /// The built-in SQLite backend (no driver to ask).
    pub fn builtin_sqlite() -> Self {
        Dialect::new("SQLite", Some('"'))
    }

    /// Asks the driver. A fact it cannot report is taken at its most
    /// conservative (no quoting, the generic insert), never guessed.
    pub(super) fn of(conn: &Connection<'_>) -> Self {
        Dialect {
            dbms: conn.database_management_system_name().unwrap_or_default(),
            quote: conn.identifier_quote_char().ok().flatten(),
        }
    }

    /// The DBMS name the driver reports.
    pub fn dbms(&self) -> &str {
        &self.dbms
    }

    /// The identifier quote character the driver reports, if any.
    pub fn quote_char(&self) -> Option<char> {
        self.quote
    }

    /// The fastest insert this DBMS is known to take, from its reported name.
    pub fn bulk_insert(&self) -> BulkInsert {
        if self.dbms.eq_ignore_ascii_case("PostgreSQL") {
            BulkInsert::PostgresUnnest
        } else if self.dbms.eq_ignore_ascii_case("SQLite") {
            BulkInsert::MultiRowArrays(SQLITE_ROWS_PER_INSERT)
        } else {
            BulkInsert::ParameterArrays
        }
    }

    /// A (possibly schema-qualified) identifier as this DBMS reads it: each
    /// part quoted with the reported character (doubled inside), or bare.
    /// Callers validate names first (`is_sql_identifier`), so bare is safe.
    pub fn identifier(&self, name: &str) -> String {
        name.split('.')
            .map(|part| match self.quote {
                Some(q) => {
                    let doubled = part.replace(q, &format!("{q}{q}"));
                    format!("{q}{doubled}{q}")
                }
                None => part.to_string(),
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    /// Returns no rows; fails when the table is missing or unreadable.
    pub fn probe(&self, table: &str) -> String {
        format!("SELECT * FROM {} WHERE 1=0", self.identifier(table))
    }
}

/// The statements of one results table, for one dialect.
#[derive(Debug, Clone)]
pub(super) struct ResultSql {
    /// As configured, for messages.
    pub table_name: String,
    pub bulk: BulkInsert,
    table: String,
    /// dispatch_id, row_key, prediction, score, model_version, scored_at.
    columns: [String; 6],
    /// A shard's write-back: only its key range is deleted and counted.
    scope: Option<String>,
}

impl ResultSql {
    /// `table` and `columns` are validated identifiers.
    pub fn new(dialect: &Dialect, table: &str, columns: &[String; 6]) -> Self {
        ResultSql {
            table_name: table.to_string(),
            bulk: dialect.bulk_insert(),
            table: dialect.identifier(table),
            columns: columns.clone().map(|c| dialect.identifier(&c)),
            scope: None,
        }
    }

    /// Limits the delete and the count to one shard's key range of dispatch `id`.
    pub fn in_range(mut self, key: &ShardKey, range: &KeyRange, id: i64) -> Self {
        self.scope = Some(key.results_predicate(range, &self.columns[0], &self.columns[1], id));
        self
    }

    fn scope(&self) -> String {
        self.scope
            .as_ref()
            .map(|s| format!(" AND {s}"))
            .unwrap_or_default()
    }

    /// Removes an earlier attempt's rows (of the shard's range, for a
    /// shard); one parameter, the dispatch id.
    pub fn delete(&self) -> String {
        format!(
            "DELETE FROM {} WHERE {} = ?{}",
            self.table,
            self.columns[0],
            self.scope()
        )
    }

    /// How many rows a dispatch has (in the shard's range, for a shard);
    /// one parameter, the dispatch id.
    pub fn count(&self) -> String {
        format!(
            "SELECT COUNT(*) FROM {} WHERE {} = ?{}",
            self.table,
            self.columns[0],
            self.scope()
        )
    }

    /// One row per parameter set, six parameters in column order.
    pub fn insert(&self) -> String {
        self.insert_rows(1)
    }

    /// `rows` rows per parameter set, six parameters each in column order.
    pub fn insert_rows(&self, rows: usize) -> String {
        let values = vec!["(?, ?, ?, ?, ?, ?)"; rows.max(1)].join(", ");
        format!(
            "INSERT INTO {} ({}) VALUES {values}",
            self.table,
            self.columns.join(", ")
        )
    }

    /// PostgreSQL: the dispatch id, then five array literals (keys,
    /// predictions, scores, versions, times). A classifier's predictions are
    /// `text`, a regressor's values `float8` (`values`).
    pub fn insert_unnest(&self, values: bool) -> String {
        let prediction_type = if values { "float8" } else { "text" };
        format!(
            "INSERT INTO {} ({}) SELECT ?, k, p, s, v, t FROM \
             unnest(?::text[], ?::{prediction_type}[], ?::float8[], ?::text[], ?::timestamp[]) AS u(k, p, s, v, t)",
            self.table,
            self.columns.join(", ")
        )
    }

    /// PostgreSQL, a batch whose rows share one model version and one time
    /// (a dispatch's batch does): the dispatch id, the version and the time
    /// as single values, then the keys and predictions as array literals,
    /// and a classifier's scores (a regressor's score is NULL) — the server
    /// parses two or three arrays instead of five.
    pub fn insert_unnest_shared(&self, values: bool) -> String {
        let [d, k, p, s, v, t] = &self.columns;
        let table = &self.table;
        if values {
            format!(
                "INSERT INTO {table} ({d}, {v}, {t}, {k}, {p}, {s}) SELECT ?, ?, ?::timestamp, k, p, NULL FROM \
                 unnest(?::text[], ?::float8[]) AS u(k, p)"
            )
        } else {
            format!(
                "INSERT INTO {table} ({d}, {v}, {t}, {k}, {p}, {s}) SELECT ?, ?, ?::timestamp, k, p, s FROM \
                 unnest(?::text[], ?::text[], ?::float8[]) AS u(k, p, s)"
            )
        }
    }

    /// A results table with a primary key on dispatch id + row key, in
    /// types every backend the tests use accepts.
    pub fn create(&self) -> String {
        let [d, k, p, s, v, t] = &self.columns;
        format!(
            "CREATE TABLE {} ({d} BIGINT NOT NULL, {k} VARCHAR(255) NOT NULL, {p} VARCHAR(255), \
             {s} DOUBLE PRECISION, {v} VARCHAR(255), {t} TIMESTAMP NULL, PRIMARY KEY ({d}, {k}))",
            self.table
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> [String; 6] {
        [
            "dispatch_id",
            "row_key",
            "prediction",
            "score",
            "model_version",
            "scored_at",
        ]
        .map(String::from)
    }

    #[test]
    fn sqlite_inserts_many_rows_per_parameter_set() {
        let d = Dialect::new("SQLite", Some('"'));
        let sql = ResultSql::new(&d, "scores", &columns());
        assert_eq!(sql.bulk, BulkInsert::MultiRowArrays(SQLITE_ROWS_PER_INSERT));
        assert_eq!(
            sql.insert_rows(2),
            "INSERT INTO \"scores\" (\"dispatch_id\", \"row_key\", \"prediction\", \"score\", \
             \"model_version\", \"scored_at\") VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)"
        );
        assert_eq!(sql.insert(), sql.insert_rows(1));
    }

    #[test]
    fn a_driver_reporting_backticks_gets_backtick_quoted_sql() {
        let d = Dialect::new("MariaDB", Some('`'));
        let sql = ResultSql::new(&d, "ml.scores", &columns());
        assert_eq!(sql.bulk, BulkInsert::ParameterArrays);
        assert_eq!(
            sql.delete(),
            "DELETE FROM `ml`.`scores` WHERE `dispatch_id` = ?"
        );
        assert_eq!(
            sql.count(),
            "SELECT COUNT(*) FROM `ml`.`scores` WHERE `dispatch_id` = ?"
        );
        assert_eq!(
            sql.insert(),
            "INSERT INTO `ml`.`scores` (`dispatch_id`, `row_key`, `prediction`, `score`, \
             `model_version`, `scored_at`) VALUES (?, ?, ?, ?, ?, ?)"
        );
        assert_eq!(d.probe("health"), "SELECT * FROM `health` WHERE 1=0");
        assert!(
            sql.create()
                .starts_with("CREATE TABLE `ml`.`scores` (`dispatch_id` BIGINT NOT NULL, ")
        );
        assert!(
            sql.create()
                .ends_with("PRIMARY KEY (`dispatch_id`, `row_key`))")
        );
    }

    #[test]
    fn a_driver_reporting_double_quotes_gets_double_quoted_sql() {
        let d = Dialect::new("SQLite", Some('"'));
        let sql = ResultSql::new(&d, "scores", &columns());
        assert_eq!(sql.bulk, BulkInsert::MultiRowArrays(SQLITE_ROWS_PER_INSERT));
        assert_eq!(
            sql.delete(),
            r#"DELETE FROM "scores" WHERE "dispatch_id" = ?"#
        );
        assert_eq!(
            sql.count(),
            r#"SELECT COUNT(*) FROM "scores" WHERE "dispatch_id" = ?"#
        );
        assert_eq!(
            sql.insert(),
            r#"INSERT INTO "scores" ("dispatch_id", "row_key", "prediction", "score", "model_version", "scored_at") VALUES (?, ?, ?, ?, ?, ?)"#
        );
        assert_eq!(
            d.probe("public.health"),
            r#"SELECT * FROM "public"."health" WHERE 1=0"#
        );
        assert_eq!(Dialect::builtin_sqlite(), d);
    }

    #[test]
    fn a_driver_reporting_no_quoting_gets_bare_identifiers() {
        let d = Dialect::new("SomeDB", None);
        let sql = ResultSql::new(&d, "ml.scores", &columns());
        assert_eq!(sql.bulk, BulkInsert::ParameterArrays);
        assert_eq!(sql.delete(), "DELETE FROM ml.scores WHERE dispatch_id = ?");
        assert_eq!(
            sql.count(),
            "SELECT COUNT(*) FROM ml.scores WHERE dispatch_id = ?"
        );
        assert_eq!(
            sql.insert(),
            "INSERT INTO ml.scores (dispatch_id, row_key, prediction, score, model_version, \
             scored_at) VALUES (?, ?, ?, ?, ?, ?)"
        );
        assert_eq!(d.probe("health"), "SELECT * FROM health WHERE 1=0");
        assert!(!sql.create().contains(['"', '`']));
    }

    #[test]
    fn only_a_dbms_reporting_postgresql_gets_the_unnest_insert() {
        let pg = Dialect::new("PostgreSQL", Some('"'));
        let sql = ResultSql::new(&pg, "scores", &columns());
        assert_eq!(sql.bulk, BulkInsert::PostgresUnnest);
        assert_eq!(
            sql.insert_unnest(false),
            r#"INSERT INTO "scores" ("dispatch_id", "row_key", "prediction", "score", "model_version", "scored_at") SELECT ?, k, p, s, v, t FROM unnest(?::text[], ?::text[], ?::float8[], ?::text[], ?::timestamp[]) AS u(k, p, s, v, t)"#
        );
        // A regressor's values go as numbers.
        assert!(
            sql.insert_unnest(true)
                .contains("unnest(?::text[], ?::float8[], ?::float8[], ?::text[]")
        );
        // A batch sharing one version and time sends those once.
        assert_eq!(
            sql.insert_unnest_shared(false),
            r#"INSERT INTO "scores" ("dispatch_id", "model_version", "scored_at", "row_key", "prediction", "score") SELECT ?, ?, ?::timestamp, k, p, s FROM unnest(?::text[], ?::text[], ?::float8[]) AS u(k, p, s)"#
        );
        assert!(sql.insert_unnest_shared(true).ends_with(
            "SELECT ?, ?, ?::timestamp, k, p, NULL FROM unnest(?::text[], ?::float8[]) AS u(k, p)"
        ));
        for other in ["MariaDB", "MySQL", "Microsoft SQL Server", ""] {
            assert_eq!(
                Dialect::new(other, Some('"')).bulk_insert(),
                BulkInsert::ParameterArrays,
                "{other}"
            );
        }
    }

    #[test]
    fn a_quote_character_inside_a_name_is_doubled() {
        // Validated names never hold one; the quoting is still sound if one did.
        assert_eq!(Dialect::new("x", Some('`')).identifier("a`b"), "`a``b`");
        assert_eq!(
            Dialect::new("x", Some('"')).identifier("a\"b"),
            "\"a\"\"b\""
        );
    }
}
