//! `mld worker`: scores one shard of a dispatch, on whatever node runs it.
//!
//! Everything comes from the dispatch's spec in the spool (and the password
//! from the spool's connection file, readable only by the daemon's user). It
//! reads its key range from the datalake and scores it with the same code as
//! an in-daemon dispatch ([`pipeline::score_batch`]), keeping the
//! predictions in its rows file (the in-daemon dispatch keeps them in the
//! event log); then writes them in one datalake transaction that first
//! deletes the dispatch's rows in its range, and counts the range before
//! the commit: anything but every prediction rolls back. A retried shard
//! therefore never duplicates a row, whatever an earlier attempt committed.
//! Last, its report: counts, node, and the error with its step if it failed.

use super::spool::{DispatchSpool, RowsPage, RowsReader, ShardReport, ShardSpec};
use crate::datalake::{Datalake, ResultRow, shard};
use crate::dispatch::pipeline;
use crate::dispatch::record::{Counts, Outcomes, Step};
use crate::fault;
use crate::model::Registry;
use std::io::Write;
use std::path::Path;

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// This machine's name, as the report shows it.
pub fn node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Runs shard `shard` (attempt `attempt`) of the dispatch whose spec is at
/// `spec_path`, and writes its report. The report, when it could be written.
pub fn run(spec_path: &Path, shard: u32, attempt: u32) -> Result<ShardReport, String> {
    let spool = DispatchSpool::of_spec(spec_path);
    let spec = DispatchSpool::read_spec(spec_path)?;
    if shard as usize >= spec.ranges.len() {
        return Err(format!(
            "shard {shard} does not exist: the dispatch has {} shards",
            spec.ranges.len()
        ));
    }
    let mut report = ShardReport {
        dispatch_id: spec.dispatch_id,
        shard,
        attempt,
        node: node_name(),
        error: None,
        failed_step: None,
        collected: 0,
        predicted: 0,
        unscorable: 0,
        inserted: 0,
        started_at_ms: now_ms(),
        first_read_at_ms: None,
        finished_at_ms: 0,
    };
    if let Err((step, message)) = score_shard(&spec, &spool, shard, attempt, &mut report) {
        report.error = Some(message);
        report.failed_step = Some(step.as_str().to_string());
    }
    report.finished_at_ms = now_ms();
    spool
        .write_report(&report)
        .map_err(|e| format!("cannot write the report: {e}"))?;
    Ok(report)
}

type Failure = (Step, String);

fn score_shard(
    spec: &ShardSpec,
    spool: &DispatchSpool,
    shard: u32,
    attempt: u32,
    report: &mut ShardReport,
) -> Result<(), Failure> {
    let range = spec.ranges[shard as usize];
    let at = |step: Step| move |e: String| (step, e);
    let lake = Datalake::from_config(
        &spec.datalake.name,
        &spec.datalake.config(&spool.connection_path()),
    )
    .map_err(|e| (Step::Collected, e.to_string()))?;
    let registry = Registry::open(spool.model_root(), spec.onnxruntime.clone())
        .map_err(|e| (Step::Collected, e.to_string()))?;
    let model = registry
        .load(&spec.model, spec.model_version)
        .map_err(|e| (Step::Collected, e.to_string()))?;
    if model.meta().content_sha256 != spec.model_hash {
        return Err((
            Step::Collected,
            format!(
                "model {} version {} has content hash {}, but the dispatch pinned {}: not scoring with it",
                spec.model,
                spec.model_version,
                model.meta().content_sha256,
                spec.model_hash
            ),
        ));
    }
    let features = model.features().to_vec();
    let binding = model
        .bind(&features)
        .map_err(|e| (Step::Collected, e.to_string()))?;
    let kinds = model.feature_kinds();
    let mut reader = lake
        .read_range(
            &spec.query,
            &spec.key,
            &range,
            &features,
            &kinds,
            spec.batch_size.max(1),
        )
        .map_err(|e| (Step::Collected, e.to_string()))?;

    // Steps 3-4: read, score, keep each page in the rows file.
    let rows_path = spool.rows_path(shard, attempt);
    let file = std::fs::File::create(&rows_path)
        .map_err(|e| format!("cannot create {}: {e}", rows_path.display()))
        .map_err(at(Step::Stored))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut counts = Counts::default();
    loop {
        let batch = reader
            .next_batch()
            .map_err(|e| (Step::Collected, e.to_string()))?;
        let Some(batch) = batch else { break };
        report.first_read_at_ms.get_or_insert_with(now_ms);
        if spec.key.shard_by.is_none()
            && let Some(bad) = batch
                .keys
                .iter()
                .chain(batch.unscorable.iter().map(|u| &u.key))
                .find(|k| !shard::is_integer_key(k))
        {
            return Err((
                Step::Collected,
                format!(
                    "key column {} holds {bad:?}, not an integer: shard by an integer key, \
                     or set the job's shard_by to an integer expression of {{key}}",
                    spec.key.key_column
                ),
            ));
        }
        // Step 4 as an in-daemon dispatch takes it, batch by batch.
        counts.collected += batch.rows_read() as u64;
        let refuse = |u: &crate::datalake::Unscorable| {
            (
                Step::Predicted,
                format!(
                    "row {} cannot be scored ({}) and the job has fail_on_unscorable",
                    u.key, u.reason
                ),
            )
        };
        if spec.fail_on_unscorable
            && let Some(first) = batch.unscorable.first()
        {
            return Err(refuse(first));
        }
        let scored = pipeline::score_batch(&model, &binding, batch)
            .map_err(|e| (Step::Predicted, e.to_string()))?;
        if spec.fail_on_unscorable
            && let Some(first) = scored.unscorable.first()
        {
            return Err(refuse(first));
        }
        counts.unscorable += scored.unscorable.len() as u64;
        counts.predicted += scored.outcomes.len() as u64;
        let (labels, scores, values) = match scored.outcomes {
            Outcomes::Classes { labels, scores } => (
                labels.iter().map(|l| l.to_string()).collect(),
                scores,
                Vec::new(),
            ),
            Outcomes::Values(values) => (Vec::new(), Vec::new(), values),
        };
        let page = RowsPage {
            at_ms: now_ms(),
            keys: scored.keys,
            labels,
            scores,
            values,
            unscorable: scored
                .unscorable
                .into_iter()
                .map(|u| (u.key, u.reason))
                .collect(),
        };
        serde_json::to_writer(&mut out, &page)
            .map_err(|e| e.to_string())
            .and_then(|()| out.write_all(b"\n").map_err(|e| e.to_string()))
            .map_err(|e| format!("cannot write {}: {e}", rows_path.display()))
            .map_err(at(Step::Stored))?;
        fault::point(&format!("worker.batch.shard-{shard}.attempt-{attempt}"));
    }
    drop(reader);
    out.into_inner()
        .map_err(|e| e.to_string())
        .and_then(|f| f.sync_all().map_err(|e| e.to_string()))
        .map_err(|e| format!("cannot write {}: {e}", rows_path.display()))
        .map_err(at(Step::Stored))?;
    report.collected = counts.collected;
    report.predicted = counts.predicted;
    report.unscorable = counts.unscorable;

    // Step 6: the range's results, in one transaction.
    let write_error = |e: crate::datalake::DatalakeError| (Step::Inserted, e.to_string());
    let mut writer = lake
        .begin_results_in(
            &spec.results_table,
            &spec.result_columns(),
            mld_shared::ids::DispatchId(spec.dispatch_id),
            Some((&spec.key, &range)),
        )
        .map_err(write_error)?;
    let version = spec.model_version.to_string();
    let mut rows: Vec<ResultRow> = Vec::new();
    for page in RowsReader::open(&rows_path).map_err(at(Step::Inserted))? {
        let page = page.map_err(at(Step::Inserted))?;
        let scored_at = jiff::Timestamp::from_millisecond(page.at_ms)
            .unwrap_or_else(|_| jiff::Timestamp::now());
        rows.clear();
        if page.values.is_empty() {
            rows.extend(page.keys.into_iter().zip(page.labels).zip(page.scores).map(
                |((row_key, prediction), score)| ResultRow {
                    row_key,
                    prediction,
                    score,
                    value: None,
                    model_version: version.clone(),
                    scored_at,
                },
            ));
        } else {
            rows.extend(
                page.keys
                    .into_iter()
                    .zip(page.values)
                    .map(|(row_key, v)| ResultRow {
                        row_key,
                        prediction: format!("{v:?}"),
                        score: f64::NAN,
                        value: Some(v),
                        model_version: version.clone(),
                        scored_at,
                    }),
            );
        }
        writer.write_batch(&rows).map_err(write_error)?;
        fault::point(&format!(
            "worker.page-written.shard-{shard}.attempt-{attempt}"
        ));
    }
    let held = writer.count_rows().map_err(write_error)?;
    if held != counts.predicted {
        return Err((
            Step::Inserted,
            format!(
                "the results table would hold {held} rows of this shard's range after {} predictions \
                 were written (duplicate keys in the query?): rolled back, nothing was committed",
                counts.predicted
            ),
        ));
    }
    writer.commit().map_err(write_error)?;
    fault::point(&format!("worker.committed.shard-{shard}.attempt-{attempt}"));
    report.inserted = held;
    Ok(())
}
