#!/usr/bin/env python3
"""Models as users bring them: scikit-learn regressors, and pipelines over
mixed numeric and text columns, exported with skl2onnx; the rows they are
judged on and scikit-learn's own predictions.

Used by daemon/tests/models_mixed_onnx.rs (parity: mld's ONNX predictions ==
sklearn's), the dispatch tests in tests/tests/models_mixed.rs and
daemon/benches/predict.rs (throughput: sklearn's predict() on the same rows).

usage: sklearn_mixed.py OUT_DIR N_ROWS [--time] [--only KIND,KIND]

The columns: tenure, spend, visits (numbers), plan, country (text). The rows
to score hold categories the encoders never saw (plan "legacy", country
"atlantis") and NULLs (an empty cell) in plan and country; numbers are
float32-representable (ONNX graphs take float32).

Writes to OUT_DIR:
  train.csv        the training rows (id, the columns, revenue, churn)
  rows.csv         N_ROWS rows to score (id, the columns); an empty cell is NULL
  <kind>.onnx      one per model kind (zipmap off)
  <kind>.pred      sklearn's prediction per row: a label, a value (repr), or
                   "!refused" where the encoder refuses the row
                   (handle_unknown="error": sklearn raises for it)
  <kind>.ort       ONNX Runtime's prediction of the exported graph per row (the
                   same form; NULL fed as "", as mld feeds it): where it
                   differs from sklearn, the graph itself does (skl2onnx
                   computes in float32, so a StandardScaler's output can land
                   on the other side of a tree's threshold)
  manifest.json    [{kind, onnx, task, features, feature_types, labels,
                     predict_seconds}]; features null: the graph's inputs name them
"""
import json
import os
import sys
import time

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType

NUMBERS = ["tenure", "spend", "visits"]
TEXTS = ["plan", "country"]
COLUMNS = NUMBERS + TEXTS
PLANS = ["basic", "plus", "pro", "team"]
COUNTRIES = ["de", "fr", "it", "es", "nl", "pl", "se", "pt"]
N_TRAIN = 3000
OPSET = {"": 17, "ai.onnx.ml": 3}


def make_rows(rng, n, unseen):
    """n rows as an object array (numbers as float32-representable floats,
    text as str or None), with the revenue and churn targets."""
    x = np.empty((n, len(COLUMNS)), dtype=object)
    tenure = rng.uniform(0, 60, n).astype(np.float32).astype(np.float64)
    spend = rng.gamma(2.0, 40.0, n).astype(np.float32).astype(np.float64)
    visits = rng.poisson(8, n).astype(np.float64)
    plan = rng.choice(PLANS, n, p=[0.4, 0.3, 0.2, 0.1]).astype(object)
    country = rng.choice(COUNTRIES, n).astype(object)
    if unseen:
        # Categories the encoders never saw, and NULLs, in about 3% of rows each.
        plan[rng.random(n) < 0.03] = "legacy"
        country[rng.random(n) < 0.03] = "atlantis"
        plan[rng.random(n) < 0.03] = None
        country[rng.random(n) < 0.03] = None
    x[:, 0], x[:, 1], x[:, 2], x[:, 3], x[:, 4] = tenure, spend, visits, plan, country
    plan_effect = {"basic": 0.0, "plus": 15.0, "pro": 40.0, "team": 90.0}
    country_effect = {c: 5.0 * i for i, c in enumerate(COUNTRIES)}
    revenue = (
        2.5 * tenure + 0.8 * spend - 1.5 * visits
        + np.array([plan_effect.get(p, 0.0) for p in plan])
        + np.array([country_effect.get(c, 0.0) for c in country])
        + rng.normal(0, 10, n)
    )
    logit = 1.5 - 0.06 * tenure + 0.01 * spend - 0.1 * visits
    logit += np.array([{"basic": 0.8, "plus": 0.2, "pro": -0.5, "team": -1.2}.get(p, 0.0) for p in plan])
    churn = np.where(logit + rng.logistic(0, 1, n) > 0, "yes", "no")
    return x, revenue, churn


def write_csv(path, ids, x, extra=()):
    header = ["id"] + COLUMNS + [name for name, _ in extra]
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for i in range(len(ids)):
            cells = [str(ids[i])]
            cells += ["%.9g" % x[i, j] for j in range(len(NUMBERS))]
            cells += ["" if x[i, j] is None else x[i, j] for j in range(len(NUMBERS), len(COLUMNS))]
            cells += [str(col[i]) for _, col in extra]
            f.write(",".join(cells) + "\n")


def per_column_inputs():
    """One input per column, as skl2onnx exports a ColumnTransformer's."""
    return [(c, FloatTensorType([None, 1])) for c in NUMBERS] + [
        (c, StringTensorType([None, 1])) for c in TEXTS
    ]


def transformer(handle_unknown="ignore"):
    return ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown=handle_unknown), [3, 4]),
        ("num", StandardScaler(), [0, 1, 2]),
    ])


def known(encoder, x_text):
    """Rows every value of which the fitted encoder knows."""
    ok = np.ones(len(x_text), dtype=bool)
    for j, cats in enumerate(encoder.categories_):
        ok &= np.array([v in set(cats) for v in x_text[:, j]])
    return ok


def ort_predictions(onx, inputs, x, task):
    """ONNX Runtime's predictions of rows `x` (object array in the graph's
    column order), fed as mld feeds them: float32 numbers, NULL as ""."""
    import onnxruntime as rt
    sess = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    text = lambda col: np.array([["" if v is None else str(v)] for v in col])
    if inputs == "one":
        feed = {"X": x.astype(np.float32)}
    elif inputs == "one-string":
        feed = {"X": np.array([["" if v is None else str(v) for v in row] for row in x])}
    else:
        feed = {c: x[:, j:j + 1].astype(np.float32) for j, c in enumerate(NUMBERS)}
        feed.update({c: text(x[:, len(NUMBERS) + j]) for j, c in enumerate(TEXTS)})
    out = sess.run(None, feed)[0]
    if task == "classification":
        return [str(v) for v in out.ravel()]
    return [repr(float(v)) for v in out.ravel()]


def main():
    out, n_rows = sys.argv[1], int(sys.argv[2])
    timing = "--time" in sys.argv
    only = None
    if "--only" in sys.argv:
        only = set(sys.argv[sys.argv.index("--only") + 1].split(","))
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(16)
    x_train, revenue, churn = make_rows(rng, N_TRAIN, unseen=False)
    rows, _, _ = make_rows(rng, n_rows, unseen=True)
    write_csv(os.path.join(out, "train.csv"), np.arange(1, N_TRAIN + 1), x_train,
              [("revenue", ["%.9g" % v for v in revenue]), ("churn", churn)])
    write_csv(os.path.join(out, "rows.csv"), np.arange(1, n_rows + 1), rows)
    numbers_train = x_train[:, :3].astype(np.float64)
    numbers_rows = rows[:, :3].astype(np.float64)

    kinds = [
        # kind, model, trained on, task, how the graph takes its inputs
        ("linear_regression", LinearRegression(), "numbers", "regression", "one"),
        ("random_forest_regressor",
         RandomForestRegressor(n_estimators=50, max_depth=10, random_state=0),
         "numbers", "regression", "one"),
        ("gradient_boosting_regressor",
         GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=0),
         "numbers", "regression", "one"),
        ("mixed_logistic",
         Pipeline([("ct", transformer()), ("clf", LogisticRegression(max_iter=2000))]),
         "mixed", "classification", "per-column"),
        ("mixed_forest_regressor",
         Pipeline([("ct", transformer()),
                   ("reg", RandomForestRegressor(n_estimators=50, max_depth=10, random_state=0))]),
         "mixed", "regression", "per-column"),
        # handle_unknown="error": unseen categories and NULLs are refused.
        ("mixed_logistic_strict",
         Pipeline([("ct", transformer("error")), ("clf", LogisticRegression(max_iter=2000))]),
         "mixed", "classification", "per-column"),
        # One string input holding both text columns.
        ("text_linear_regression",
         Pipeline([("enc", OneHotEncoder(handle_unknown="ignore")), ("reg", LinearRegression())]),
         "texts", "regression", "one-string"),
    ]
    manifest = []
    for kind, est, data, task, inputs in kinds:
        if only is not None and kind not in only:
            continue
        target = churn if task == "classification" else revenue
        if data == "numbers":
            est.fit(numbers_train, target)
            initial = [("X", FloatTensorType([None, 3]))]
            features, types, score_x = NUMBERS, ["number"] * 3, numbers_rows
        elif data == "texts":
            texts_train = x_train[:, 3:].astype(str)
            est.fit(texts_train, target)
            initial = [("X", StringTensorType([None, 2]))]
            features, types, score_x = TEXTS, ["text"] * 2, rows[:, 3:]
        else:
            est.fit(x_train, target)
            initial = per_column_inputs()
            features, types, score_x = None, ["number"] * 3 + ["text"] * 2, rows
        last = est.steps[-1][1] if isinstance(est, Pipeline) else est
        options = {id(last): {"zipmap": False}} if hasattr(last, "predict_proba") else None
        onx = convert_sklearn(est, initial_types=initial, options=options, target_opset=OPSET)
        with open(os.path.join(out, f"{kind}.onnx"), "wb") as f:
            f.write(onx.SerializeToString())
        if kind == "mixed_logistic_strict":
            ok = known(est.named_steps["ct"].named_transformers_["cat"], rows[:, 3:])
        else:
            ok = np.ones(n_rows, dtype=bool)
        start = time.perf_counter()
        pred = est.predict(score_x[ok])
        seconds = time.perf_counter() - start
        if timing:
            # Best of three, as the Rust side measures.
            for _ in range(2):
                start = time.perf_counter()
                est.predict(score_x[ok])
                seconds = min(seconds, time.perf_counter() - start)
        lines = iter(str(p) if task == "classification" else repr(float(p)) for p in pred)
        with open(os.path.join(out, f"{kind}.pred"), "w") as f:
            for good in ok:
                f.write((next(lines) if good else "!refused") + "\n")
        if not timing:
            ort = iter(ort_predictions(onx, inputs, score_x[ok], task))
            with open(os.path.join(out, f"{kind}.ort"), "w") as f:
                for good in ok:
                    f.write((next(ort) if good else "!refused") + "\n")
        manifest.append({
            "kind": kind,
            "onnx": f"{kind}.onnx",
            "task": task,
            "features": features,
            "feature_types": types,
            "labels": [str(c) for c in getattr(last, "classes_", [])] if task == "classification" else [],
            "predict_seconds": seconds,
        })
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
