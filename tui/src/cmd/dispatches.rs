//! `mldctl dispatches | dispatch | cancel`: the history of runs, one run's
//! steps and predictions, and cancelling one.
//!
//! Receives a connected [`Client`] and the parsed arguments; sends
//! `Dispatches`, `Dispatch`, `DispatchPredictions` (paging through
//! `after_key`), `CancelDispatch`; prints a table or JSON. The JSON key names
//! are the documented interface.

use super::showroom::value_text;
use super::{ask, print_json, table};
use crate::client::Client;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use mld_shared::ids::{DispatchId, JobName};
use mld_shared::protocol::{
    DispatchDetail, DispatchEventInfo, DispatchSummary, PredictionInfo, PredictionPage, Request,
    Response, UnscorableInfo, ValueHistogram,
};
use serde::Serialize;
use std::process::ExitCode;

/// Predictions asked for per request: a bound on one answer's size.
const PAGE: u32 = 100;

/// A dispatch in `--json` output; field order is the documented key order.
#[derive(Debug, Serialize)]
pub struct DispatchJson {
    id: i64,
    job: String,
    status: &'static str,
    trigger: &'static str,
    requested_by: String,
    /// The cron slot it serves (RFC 3339, UTC); none for a manual run.
    slot: Option<String>,
    model: String,
    model_version: String,
    model_hash: String,
    created_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
    rows_collected: u64,
    rows_predicted: u64,
    rows_unscorable: u64,
    rows_stored: u64,
    rows_inserted: u64,
    failed_step: Option<String>,
    error: Option<String>,
}

impl From<&DispatchSummary> for DispatchJson {
    fn from(d: &DispatchSummary) -> Self {
        DispatchJson {
            id: d.id.0,
            job: d.job.0.clone(),
            status: d.status.as_str(),
            trigger: d.trigger.as_str(),
            requested_by: d.requested_by.clone(),
            slot: table::rfc3339(d.slot),
            model: d.model.clone(),
            model_version: d.model_version.clone(),
            model_hash: d.model_hash.clone(),
            created_at: d.created_at.to_rfc3339(),
            started_at: table::rfc3339(d.started_at),
            finished_at: table::rfc3339(d.finished_at),
            rows_collected: d.rows_collected,
            rows_predicted: d.rows_predicted,
            rows_unscorable: d.rows_unscorable,
            rows_stored: d.rows_stored,
            rows_inserted: d.rows_inserted,
            failed_step: d.failed_step.clone(),
            error: d.error.clone(),
        }
    }
}

/// A classifier's prediction (`label`, `score`) or a regressor's (`value`).
#[derive(Debug, Serialize)]
pub struct PredictionJson {
    row_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<f64>,
}

impl From<&PredictionInfo> for PredictionJson {
    fn from(p: &PredictionInfo) -> Self {
        match p.value {
            Some(v) => PredictionJson {
                row_key: p.row_key.clone(),
                label: None,
                score: None,
                value: Some(v),
            },
            None => PredictionJson {
                row_key: p.row_key.clone(),
                label: Some(p.label.clone()),
                score: Some(p.score),
                value: None,
            },
        }
    }
}

/// A regressor's dispatch: its predicted values in bins.
#[derive(Debug, Serialize)]
struct ValuesJson {
    count: u64,
    mean: f64,
    min: f64,
    max: f64,
    bins: Vec<BinJson>,
}

#[derive(Debug, Serialize)]
struct BinJson {
    lo: f64,
    hi: f64,
    count: u64,
}

#[derive(Debug, Serialize)]
pub struct UnscorableJson {
    row_key: String,
    reason: String,
}

impl From<&UnscorableInfo> for UnscorableJson {
    fn from(u: &UnscorableInfo) -> Self {
        UnscorableJson {
            row_key: u.row_key.clone(),
            reason: u.reason.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct EventJson {
    seq: u32,
    at: String,
    step: String,
    rows: Option<u64>,
    message: Option<String>,
}

impl From<&DispatchEventInfo> for EventJson {
    fn from(e: &DispatchEventInfo) -> Self {
        EventJson {
            seq: e.seq,
            at: e.at.to_rfc3339(),
            step: e.step.clone(),
            rows: e.rows,
            message: e.message.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct ClassJson {
    label: String,
    count: u64,
}

#[derive(Debug, Serialize)]
struct PredictionsJson {
    /// How many predictions match the search (all of them without one).
    total: u64,
    rows: Vec<PredictionJson>,
}

/// `dispatch ID --json`: the summary's keys, then the details asked for.
#[derive(Debug, Serialize)]
struct DetailJson {
    #[serde(flatten)]
    summary: DispatchJson,
    /// The first unscorable rows (up to 100); `rows_unscorable` has the total.
    unscorable: Vec<UnscorableJson>,
    /// Predictions per label, most frequent first.
    classes: Vec<ClassJson>,
    /// A regressor's dispatch: its predicted values in bins.
    #[serde(skip_serializing_if = "Option::is_none")]
    values: Option<ValuesJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<Vec<EventJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    predictions: Option<PredictionsJson>,
}

/// One line for a finished (or running) dispatch: status, counts, error.
pub fn summary_line(d: &DispatchSummary) -> String {
    let mut line = format!(
        "dispatch {} of {} {}: {} collected, {} predicted, {} unscorable, {} stored, {} inserted",
        d.id,
        d.job,
        d.status.as_str(),
        d.rows_collected,
        d.rows_predicted,
        d.rows_unscorable,
        d.rows_stored,
        d.rows_inserted
    );
    if d.finished_at.is_some() {
        line.push_str(&format!(" in {}", table::took(d.started_at, d.finished_at)));
    }
    if let Some(step) = &d.failed_step {
        line.push_str(&format!("; failed at {step}"));
    }
    if let Some(error) = &d.error {
        line.push_str(&format!(": {error}"));
    }
    line
}

fn note(d: &DispatchSummary) -> String {
    match (&d.failed_step, &d.error) {
        (Some(step), Some(error)) => format!("at {step}: {error}"),
        (None, Some(error)) => error.clone(),
        (Some(step), None) => format!("at {step}"),
        (None, None) => String::new(),
    }
}

fn list_text(dispatches: &[DispatchSummary], tz: &TimeZone) -> String {
    let rows: Vec<Vec<String>> = dispatches
        .iter()
        .map(|d| {
            vec![
                d.id.to_string(),
                d.job.0.clone(),
                d.status.as_str().to_string(),
                d.trigger.as_str().to_string(),
                table::local(d.created_at, tz),
                table::took(d.started_at, d.finished_at),
                d.rows_collected.to_string(),
                d.rows_predicted.to_string(),
                d.rows_unscorable.to_string(),
                d.rows_inserted.to_string(),
                note(d),
            ]
        })
        .collect();
    table::render(
        &[
            "ID",
            "JOB",
            "STATUS",
            "TRIGGER",
            "CREATED",
            "TOOK",
            "COLLECTED",
            "PREDICTED",
            "UNSCORABLE",
            "INSERTED",
            "ERROR",
        ],
        &rows,
    )
}

pub async fn list(
    client: &mut Client,
    from: Timestamp,
    to: Timestamp,
    job: Option<String>,
    limit: u32,
    json: bool,
    tz: &TimeZone,
) -> anyhow::Result<ExitCode> {
    let request = Request::Dispatches {
        from: from.into(),
        to: to.into(),
        job: job.map(JobName),
        limit,
    };
    let dispatches = ask(client, request, |r| match r {
        Response::Dispatches(d) => Ok(d),
        other => Err(other),
    })
    .await?;
    if json {
        print_json(
            &dispatches
                .iter()
                .map(DispatchJson::from)
                .collect::<Vec<_>>(),
        )?;
    } else if dispatches.is_empty() {
        outln!(
            "no dispatches between {} and {}",
            table::local(from.into(), tz),
            table::local(to.into(), tz)
        )?;
    } else {
        out!("{}", list_text(&dispatches, tz))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What `dispatch ID` shows beyond the summary.
#[derive(Debug, Clone, Default)]
pub struct Show {
    pub events: bool,
    /// Show up to this many predictions.
    pub predictions: Option<u32>,
    pub search: Option<String>,
}

pub fn predictions_table(rows: &[PredictionInfo]) -> String {
    if rows.first().is_some_and(|p| p.value.is_some()) {
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|p| {
                vec![
                    p.row_key.clone(),
                    p.value.map(value_text).unwrap_or_else(|| p.label.clone()),
                ]
            })
            .collect();
        return table::render(&["KEY", "VALUE"], &rows);
    }
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|p| {
            vec![
                p.row_key.clone(),
                p.label.clone(),
                format!("{:.4}", p.score),
            ]
        })
        .collect();
    table::render(&["KEY", "LABEL", "SCORE"], &rows)
}

/// Bin edges `lo – hi`, all with the same decimals: two significant digits
/// of the bins' width, enough to tell them apart (`27 – 45`, `45 – 62` for
/// bins 17.7 wide, not `27.007 – 44.6841`).
pub fn bin_ranges(bins: &[(f64, f64)], sep: &str) -> Vec<String> {
    let width = bins
        .iter()
        .map(|(lo, hi)| hi - lo)
        .find(|w| *w > 0.0 && w.is_finite());
    let decimals = width.map_or(3, |w| (1 - w.log10().floor() as i32).clamp(0, 12) as usize);
    bins.iter()
        .map(|(lo, hi)| format!("{lo:.decimals$}{sep}{hi:.decimals$}"))
        .collect()
}

/// A regressor's predicted values: count, mean and range, then a bar per bin.
pub fn values_text(h: &ValueHistogram) -> String {
    let mut out = format!(
        "{} values, mean {}, from {} to {}\n",
        h.count,
        value_text(h.mean),
        value_text(h.min),
        value_text(h.max)
    );
    let most = h.bins.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    let ranges = bin_ranges(
        &h.bins.iter().map(|b| (b.lo, b.hi)).collect::<Vec<_>>(),
        " – ",
    );
    let rows: Vec<Vec<String>> = h
        .bins
        .iter()
        .zip(ranges)
        .map(|(b, range)| {
            let share = if h.count == 0 {
                0.0
            } else {
                b.count as f64 * 100.0 / h.count as f64
            };
            vec![
                range,
                b.count.to_string(),
                format!("{share:.1}%"),
                "█".repeat((b.count * 30).div_ceil(most) as usize),
            ]
        })
        .collect();
    out.push_str(&table::render(&["VALUES", "COUNT", "SHARE", ""], &rows));
    out
}

pub fn unscorable_table(rows: &[UnscorableInfo]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|u| vec![u.row_key.clone(), u.reason.clone()])
        .collect();
    table::render(&["KEY", "REASON"], &rows)
}

fn detail_text(
    detail: &DispatchDetail,
    predictions: Option<&PredictionPage>,
    show: &Show,
    tz: &TimeZone,
) -> String {
    let d = &detail.summary;
    let mut out = String::new();
    let mut fact = |name: &str, value: String| out.push_str(&format!("{name:<12} {value}\n"));
    fact(
        "dispatch",
        format!("{} of {}: {}", d.id, d.job, d.status.as_str()),
    );
    fact(
        "trigger",
        format!("{} by {}", d.trigger.as_str(), d.requested_by),
    );
    if let Some(slot) = d.slot {
        fact("slot", table::local(slot, tz));
    }
    fact(
        "model",
        format!(
            "{} version {} (hash {})",
            d.model,
            d.model_version,
            d.model_hash.get(..12).unwrap_or(&d.model_hash)
        ),
    );
    fact("created", table::local(d.created_at, tz));
    fact("started", table::local_or_dash(d.started_at, tz));
    fact(
        "finished",
        match d.finished_at {
            Some(at) => format!(
                "{} (took {})",
                table::local(at, tz),
                table::took(d.started_at, d.finished_at)
            ),
            None => "-".to_string(),
        },
    );
    fact(
        "rows",
        format!(
            "{} collected, {} predicted, {} unscorable, {} stored, {} inserted",
            d.rows_collected, d.rows_predicted, d.rows_unscorable, d.rows_stored, d.rows_inserted
        ),
    );
    if d.failed_step.is_some() || d.error.is_some() {
        fact("error", note(d));
    }
    if !detail.unscorable.is_empty() {
        let shown = detail.unscorable.len() as u64;
        let more = d.rows_unscorable.saturating_sub(shown);
        out.push_str(&format!(
            "\nunscorable rows{}\n",
            if more > 0 {
                format!(" (first {shown} of {})", d.rows_unscorable)
            } else {
                String::new()
            }
        ));
        out.push_str(&unscorable_table(&detail.unscorable));
    }
    if show.events {
        out.push_str("\nevents\n");
        let rows: Vec<Vec<String>> = detail
            .events
            .iter()
            .map(|e| {
                vec![
                    e.seq.to_string(),
                    table::local_ms(e.at, tz),
                    e.step.clone(),
                    e.rows.map_or_else(|| "-".to_string(), |r| r.to_string()),
                    e.message.clone().unwrap_or_default(),
                ]
            })
            .collect();
        out.push_str(&table::render(
            &["SEQ", "AT", "STEP", "ROWS", "MESSAGE"],
            &rows,
        ));
    }
    if let (Some(_), Some(h)) = (predictions, &detail.values) {
        out.push_str("\npredicted values\n");
        out.push_str(&values_text(h));
    }
    if predictions.is_some() && detail.values.is_none() {
        out.push_str("\nclasses\n");
        let total: u64 = detail.class_counts.iter().map(|(_, n)| n).sum();
        let rows: Vec<Vec<String>> = detail
            .class_counts
            .iter()
            .map(|(label, n)| {
                let share = if total == 0 {
                    0.0
                } else {
                    *n as f64 * 100.0 / total as f64
                };
                vec![label.clone(), n.to_string(), format!("{share:.1}%")]
            })
            .collect();
        out.push_str(&table::render(&["LABEL", "COUNT", "SHARE"], &rows));
    }
    if let Some(page) = predictions {
        let matching = match &show.search {
            Some(key) => format!(" with a key containing {key:?}"),
            None => String::new(),
        };
        out.push_str(&format!(
            "\npredictions{matching}: {} of {}\n",
            page.rows.len(),
            page.total
        ));
        out.push_str(&predictions_table(&page.rows));
    }
    out
}

/// Up to `limit` predictions, paging through `after_key`.
async fn predictions(
    client: &mut Client,
    id: DispatchId,
    search: Option<String>,
    limit: u32,
) -> anyhow::Result<PredictionPage> {
    let mut all = PredictionPage {
        total: 0,
        rows: Vec::new(),
        next_after: None,
    };
    loop {
        let want = limit.saturating_sub(all.rows.len() as u32).min(PAGE);
        if want == 0 {
            break;
        }
        let request = Request::DispatchPredictions {
            id,
            after_key: all.next_after.take(),
            filter: search.clone(),
            limit: want,
        };
        let page = ask(client, request, |r| match r {
            Response::Predictions(p) => Ok(p),
            other => Err(other),
        })
        .await?;
        all.total = page.total;
        all.rows.extend(page.rows);
        all.next_after = page.next_after;
        if all.next_after.is_none() {
            break;
        }
    }
    Ok(all)
}

pub async fn show(
    client: &mut Client,
    id: i64,
    show: &Show,
    json: bool,
    tz: &TimeZone,
) -> anyhow::Result<ExitCode> {
    let id = DispatchId(id);
    let detail = ask(client, Request::Dispatch { id }, |r| match r {
        Response::Dispatch(d) => Ok(d),
        other => Err(other),
    })
    .await?;
    let page = match show.predictions {
        Some(limit) => Some(predictions(client, id, show.search.clone(), limit).await?),
        None => None,
    };
    if json {
        print_json(&DetailJson {
            summary: DispatchJson::from(&detail.summary),
            unscorable: detail.unscorable.iter().map(UnscorableJson::from).collect(),
            classes: detail
                .class_counts
                .iter()
                .map(|(label, count)| ClassJson {
                    label: label.clone(),
                    count: *count,
                })
                .collect(),
            values: detail.values.as_ref().map(|h| ValuesJson {
                count: h.count,
                mean: h.mean,
                min: h.min,
                max: h.max,
                bins: h
                    .bins
                    .iter()
                    .map(|b| BinJson {
                        lo: b.lo,
                        hi: b.hi,
                        count: b.count,
                    })
                    .collect(),
            }),
            events: show
                .events
                .then(|| detail.events.iter().map(EventJson::from).collect()),
            predictions: page.as_ref().map(|p| PredictionsJson {
                total: p.total,
                rows: p.rows.iter().map(PredictionJson::from).collect(),
            }),
        })?;
    } else {
        out!("{}", detail_text(&detail, page.as_ref(), show, tz))?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Serialize)]
struct CancelJson {
    cancelled: i64,
}

pub async fn cancel(client: &mut Client, id: i64, json: bool) -> anyhow::Result<ExitCode> {
    let id = ask(
        client,
        Request::CancelDispatch { id: DispatchId(id) },
        |r| match r {
            Response::Cancelled { id } => Ok(id),
            other => Err(other),
        },
    )
    .await?;
    if json {
        print_json(&CancelJson { cancelled: id.0 })?;
    } else {
        outln!("cancel requested for dispatch {id}")?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mld_shared::protocol::{DispatchStatus, Trigger};
    use mld_shared::time::WireTime;

    fn t(s: &str) -> WireTime {
        WireTime::from(s.parse::<Timestamp>().unwrap())
    }

    fn failed() -> DispatchSummary {
        DispatchSummary {
            id: DispatchId(12),
            job: JobName("score-iris".into()),
            status: DispatchStatus::Failed,
            trigger: Trigger::Schedule,
            requested_by: "scheduler".into(),
            slot: Some(t("2026-11-23T13:00:00Z")),
            model: "iris".into(),
            model_version: "3".into(),
            model_hash: "0123456789abcdef0123".into(),
            created_at: t("2026-11-23T13:00:00.010Z"),
            started_at: Some(t("2026-11-23T13:00:00.020Z")),
            finished_at: Some(t("2026-11-23T13:00:04.220Z")),
            rows_collected: 152,
            rows_predicted: 150,
            rows_unscorable: 2,
            rows_stored: 150,
            rows_inserted: 0,
            failed_step: Some("inserted".into()),
            error: Some("no such table: iris_scores".into()),
        }
    }

    #[test]
    fn dispatch_json_has_the_documented_keys_in_order() {
        let text = serde_json::to_string(&DispatchJson::from(&failed())).unwrap();
        let keys = [
            "id",
            "job",
            "status",
            "trigger",
            "requested_by",
            "slot",
            "model",
            "model_version",
            "model_hash",
            "created_at",
            "started_at",
            "finished_at",
            "rows_collected",
            "rows_predicted",
            "rows_unscorable",
            "rows_stored",
            "rows_inserted",
            "failed_step",
            "error",
        ];
        let positions: Vec<usize> = keys
            .iter()
            .map(|k| text.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(positions.is_sorted(), "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value.as_object().unwrap().len(), keys.len());
        assert_eq!(value["status"], "failed");
        assert_eq!(value["started_at"], "2026-11-23T13:00:00.02Z");
        assert_eq!(value["failed_step"], "inserted");
    }

    #[test]
    fn a_failure_reads_as_where_and_why() {
        assert_eq!(
            summary_line(&failed()),
            "dispatch 12 of score-iris failed: 152 collected, 150 predicted, 2 unscorable, \
             150 stored, 0 inserted in 4.2s; failed at inserted: no such table: iris_scores"
        );
        let tz = TimeZone::UTC;
        let text = list_text(&[failed()], &tz);
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .ends_with("at inserted: no such table: iris_scores"),
            "{text}"
        );
    }

    #[test]
    fn detail_text_shows_what_was_asked() {
        let detail = DispatchDetail {
            summary: failed(),
            events: vec![DispatchEventInfo {
                seq: 1,
                at: t("2026-11-23T13:00:00.010Z"),
                step: "created".into(),
                rows: None,
                message: Some("trigger schedule".into()),
            }],
            class_counts: vec![("setosa".into(), 3), ("virginica".into(), 1)],
            unscorable: vec![UnscorableInfo {
                row_key: "151".into(),
                reason: "column petal_length is NULL".into(),
            }],
            values: None,
        };
        let page = PredictionPage {
            total: 4,
            rows: vec![PredictionInfo {
                row_key: "1".into(),
                label: "setosa".into(),
                score: 0.99771,
                value: None,
            }],
            next_after: None,
        };
        let tz = TimeZone::UTC;
        let plain = detail_text(&detail, None, &Show::default(), &tz);
        assert!(
            plain.contains("model        iris version 3 (hash 0123456789ab)\n"),
            "{plain}"
        );
        assert!(
            plain.contains(
                "unscorable rows (first 1 of 2)\nKEY  REASON\n151  column petal_length is NULL\n"
            ),
            "{plain}"
        );
        assert!(!plain.contains("events"), "{plain}");
        let show = Show {
            events: true,
            predictions: Some(10),
            search: Some("1".into()),
        };
        let full = detail_text(&detail, Some(&page), &show, &tz);
        assert!(
            full.contains("1    2026-11-23 13:00:00.010  created  -     trigger schedule"),
            "{full}"
        );
        assert!(full.contains("setosa     3      75.0%"), "{full}");
        assert!(full.contains("predictions with a key containing \"1\": 1 of 4\nKEY  LABEL   SCORE\n1    setosa  0.9977\n"), "{full}");
    }
}
