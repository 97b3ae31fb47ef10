//! The showroom's table in the event log (`showroom_predictions`, created by
//! the event log's migrations v2, v5 and v7): every statement that writes or
//! reads it. Functions take a transaction or a
//! connection and run on the event log's owner threads; a request's records
//! go in one write job, so they commit (and are acknowledged) together.

use crate::eventlog::time::{self, Millis};
use crate::model::input::Value;
use rusqlite::{Connection, Transaction, params};

/// Which showroom request made a prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A showroom opened: every sample row.
    All,
    /// One sample row on its own.
    One,
    /// A sample row with values changed.
    Edited,
    /// A record given whole (`mldctl predict`).
    Given,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::All => "predict-all",
            Source::One => "predict-one",
            Source::Edited => "predict-edited",
            Source::Given => "predict",
        }
    }

    fn parse(s: &str) -> Source {
        match s {
            "predict-all" => Source::All,
            "predict-one" => Source::One,
            "predict-edited" => Source::Edited,
            _ => Source::Given,
        }
    }
}

/// One recorded showroom prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub at: jiff::Timestamp,
    pub by_user: String,
    pub model: String,
    pub version: u32,
    pub hash: String,
    pub source: Source,
    /// The sample file's line, for sample rows.
    pub line: Option<u64>,
    /// What was scored: each feature's value, in the model's order.
    pub values: Vec<(String, Value)>,
    /// A classifier's label; a regressor's value as text; for a row the
    /// model refused, empty.
    pub label: String,
    /// A classifier's score (NaN, stored NULL, otherwise).
    pub score: f64,
    /// A regressor's value.
    pub value: Option<f64>,
    /// Every class's score, in label order (`None` where the model has none).
    pub classes: Vec<(String, Option<f64>)>,
}

/// `{"feature": value, …}` in the model's feature order (a JSON object keeps
/// the order it is written in; `json_extract` reads it by name).
fn values_json(values: &[(String, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::Value::from(k.as_str()).to_string());
        out.push(':');
        let v = match v {
            Value::Number(x) => serde_json::Value::from(*x),
            Value::Text(t) => serde_json::Value::from(t.as_str()),
            Value::Null => serde_json::Value::Null,
        };
        out.push_str(&v.to_string());
    }
    out.push('}');
    out
}

fn classes_json(classes: &[(String, Option<f64>)]) -> String {
    serde_json::Value::Array(
        classes
            .iter()
            .map(|(label, score)| serde_json::json!({ "label": label, "score": score }))
            .collect(),
    )
    .to_string()
}

/// Inserts `records` (one request's predictions) in the caller's transaction.
pub fn record(tx: &Transaction<'_>, records: &[Record]) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO showroom_predictions(at, by_user, model, model_version, model_hash, source,
             sample_line, row_json, label, score, classes_json, edited, value)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    for r in records {
        insert.execute(params![
            Millis(r.at),
            r.by_user,
            r.model,
            r.version.to_string(),
            r.hash,
            r.source.as_str(),
            r.line.map(|l| l as i64),
            values_json(&r.values),
            r.label,
            r.score,
            classes_json(&r.classes),
            r.source == Source::Edited,
            r.value,
        ])?;
    }
    Ok(())
}

/// The last `limit` recorded predictions, oldest first.
pub fn recent(conn: &Connection, limit: u32) -> rusqlite::Result<Vec<Record>> {
    let mut q = conn.prepare(
        "SELECT at, by_user, model, model_version, coalesce(model_hash, ''), coalesce(source, 'predict'),
                sample_line, row_json, label, score, coalesce(classes_json, '[]'), value
         FROM (SELECT * FROM showroom_predictions ORDER BY id DESC LIMIT ?1) ORDER BY id",
    )?;
    let rows = q.query_map([limit], |r| {
        let values: String = r.get(7)?;
        let classes: String = r.get(10)?;
        let source: String = r.get(5)?;
        Ok(Record {
            at: time::get(r, 0)?,
            by_user: r.get(1)?,
            model: r.get(2)?,
            version: r.get::<_, String>(3)?.parse().unwrap_or(0),
            hash: r.get(4)?,
            source: Source::parse(&source),
            line: r.get::<_, Option<i64>>(6)?.map(|l| l as u64),
            values: parse_values(&values),
            label: r.get(8)?,
            score: r.get::<_, Option<f64>>(9)?.unwrap_or(f64::NAN),
            value: r.get(11)?,
            classes: parse_classes(&classes),
        })
    })?;
    rows.collect()
}

/// The pairs of a `row_json` object, in the order written.
fn parse_values(json: &str) -> Vec<(String, Value)> {
    struct Pairs(Vec<(String, Value)>);
    impl<'de> serde::Deserialize<'de> for Pairs {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Pairs, D::Error> {
            struct Visit;
            impl<'de> serde::de::Visitor<'de> for Visit {
                type Value = Pairs;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object of feature values")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Pairs, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                        let v = match v {
                            serde_json::Value::Number(n) => {
                                Value::Number(n.as_f64().unwrap_or(f64::NAN))
                            }
                            serde_json::Value::String(t) => Value::Text(t),
                            _ => Value::Null,
                        };
                        out.push((k, v));
                    }
                    Ok(Pairs(out))
                }
            }
            d.deserialize_map(Visit)
        }
    }
    serde_json::from_str::<Pairs>(json)
        .map(|p| p.0)
        .unwrap_or_default()
}

fn parse_classes(json: &str) -> Vec<(String, Option<f64>)> {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(|c| {
                (
                    c["label"].as_str().unwrap_or_default().to_string(),
                    c["score"].as_f64(),
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}
