#!/usr/bin/env python3
"""Trains scikit-learn classifiers, exports them with skl2onnx, writes the rows
they are judged on and scikit-learn's own predictions.

Used by daemon/tests/models_onnx.rs (parity: mld's ONNX labels == sklearn's) and
daemon/benches/predict.rs (throughput: sklearn's predict() timed on the same rows).

usage: sklearn_models.py OUT_DIR N_ROWS [--time]

Writes to OUT_DIR:
  train.csv           the training rows (f0..f7 + label), so mld can train its native twins
  rows.csv            N_ROWS rows to score (f0..f7), float32-representable values
  <kind>.onnx         one per model kind (zipmap off)
  <kind>.pred         sklearn's predicted label per row, one per line
  zipmap.onnx         a LogisticRegression exported with zipmap ON (must be refused)
  manifest.json       [{kind, onnx, labels, graph_has_labels, predict_seconds,
                        predict_proba_seconds (null without --time or predict_proba)}]
"""
import json
import os
import sys
import time

import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier
from skl2onnx import to_onnx

N_FEATURES = 8
N_TRAIN = 3000


def main():
    out, n_rows = sys.argv[1], int(sys.argv[2])
    timing = "--time" in sys.argv
    os.makedirs(out, exist_ok=True)
    x, y = make_classification(
        n_samples=N_TRAIN + n_rows, n_features=N_FEATURES, n_informative=5,
        n_redundant=1, n_classes=3, random_state=7,
    )
    # float32-representable inputs: ONNX graphs take float32, sklearn trees cast to float32 too.
    x = x.astype(np.float32).astype(np.float64)
    names = np.array(["alpha", "beta", "gamma"])
    x_train, y_train = x[:N_TRAIN], y[:N_TRAIN]
    rows = x[N_TRAIN:]
    y_text = names[y_train]
    y_binary = (y_train == 0).astype(np.int64)

    np.savetxt(os.path.join(out, "train.csv"), np.column_stack([x_train, y_train]),
               delimiter=",", header=",".join([f"f{i}" for i in range(N_FEATURES)] + ["label"]),
               comments="", fmt=["%.9g"] * N_FEATURES + ["%d"])
    np.savetxt(os.path.join(out, "rows.csv"), rows, delimiter=",",
               header=",".join(f"f{i}" for i in range(N_FEATURES)), comments="", fmt="%.9g")

    kinds = [
        # kind, estimator, targets, does the graph carry classlabels_* we can read
        ("logistic_regression", LogisticRegression(max_iter=1000), y_text, True),
        ("logistic_binary", LogisticRegression(max_iter=1000), y_binary, True),
        ("decision_tree", DecisionTreeClassifier(random_state=0), y_text, True),
        ("random_forest", RandomForestClassifier(n_estimators=100, random_state=0), y_train, True),
        ("gaussian_nb", GaussianNB(), y_train, False),
        ("svm", LinearSVC(), y_train, True),
        ("pipeline_minmax_logistic", Pipeline([("scale", MinMaxScaler()), ("clf", LogisticRegression(max_iter=1000))]), y_text, True),
        ("pipeline_standard_tree", Pipeline([("scale", StandardScaler()), ("clf", DecisionTreeClassifier(max_depth=8, random_state=0))]), y_train, True),
    ]
    manifest = []
    sample = x_train[:1].astype(np.float32)
    for kind, est, targets, has_labels in kinds:
        est.fit(x_train, targets)
        clf = est.steps[-1][1] if isinstance(est, Pipeline) else est
        options = {id(clf): {"zipmap": False}} if hasattr(clf, "predict_proba") else None
        onx = to_onnx(est, sample, options=options, target_opset={"": 17, "ai.onnx.ml": 3})
        with open(os.path.join(out, f"{kind}.onnx"), "wb") as f:
            f.write(onx.SerializeToString())
        start = time.perf_counter()
        pred = est.predict(rows)
        seconds = time.perf_counter() - start
        if timing:
            # best of three, like the Rust side
            for _ in range(2):
                start = time.perf_counter()
                est.predict(rows)
                seconds = min(seconds, time.perf_counter() - start)
        # predict_proba (where the model has it): mld scores each row with
        # its class's probability, which is what predict_proba computes.
        proba_seconds = None
        if timing and hasattr(est, "predict_proba"):
            for _ in range(3):
                start = time.perf_counter()
                est.predict_proba(rows)
                elapsed = time.perf_counter() - start
                proba_seconds = elapsed if proba_seconds is None else min(proba_seconds, elapsed)
        with open(os.path.join(out, f"{kind}.pred"), "w") as f:
            f.write("\n".join(str(p) for p in pred))
            f.write("\n")
        labels = [str(c) for c in est.classes_]
        manifest.append({"kind": kind, "onnx": f"{kind}.onnx", "labels": labels,
                         "graph_has_labels": has_labels, "predict_seconds": seconds,
                         "predict_proba_seconds": proba_seconds})

    lr = LogisticRegression(max_iter=1000).fit(x_train, y_text)
    with open(os.path.join(out, "zipmap.onnx"), "wb") as f:
        f.write(to_onnx(lr, sample, target_opset={"": 17, "ai.onnx.ml": 3}).SerializeToString())
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
