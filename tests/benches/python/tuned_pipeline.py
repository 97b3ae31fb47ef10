#!/usr/bin/env python3
"""The tuned Python pipeline mld is measured against: what a skilled user
writes today to score a table through ODBC. Works on any ODBC backend: it
takes the connection string (and password) from environment variables, so
nothing secret is on a command line.

  arrow-odbc batched reads (the next batch fetched concurrently) ->
  vectorised scikit-learn predict_proba on each batch ->
  arrow-odbc bulk insert, in one transaction that first deletes the
  dispatch's earlier rows (mld's semantics: all or nothing, rerunnable).

By default reading and writing overlap: the insert consumes a generator that
reads and predicts batch by batch, so memory stays flat. `--sequential`
reads every row, then predicts, then writes (phases timed apart).

usage:
  tuned_pipeline.py train OUT_DIR
      Fits MinMaxScaler + LogisticRegression on rows shaped like the
      benchmark's input (f0..f7) and writes OUT_DIR/model.pkl, model.onnx
      (skl2onnx, zipmap off: what `mldctl import-onnx` takes), labels.json.
  tuned_pipeline.py train-mixed OUT_DIR
      The mixed-type pipeline: ColumnTransformer(OneHotEncoder on plan and
      country, StandardScaler on tenure, spend, visits) + LogisticRegression,
      on rows shaped like the mixed benchmark's `customers_in`; model.onnx
      takes one input per column (names and types from the graph).
  tuned_pipeline.py score --model OUT_DIR/model.pkl --query SQL --key COL
      --features f0,f1,.. --table RESULTS --dispatch-id N
      [--connection-env VAR] [--password-env VAR] [--batch-size N] [--sequential]
      Connection string from $VAR (default MLD_PY_CONNECTION), password from
      $VAR (default MLD_PY_PASSWORD, optional). Prints one JSON line:
      rows, seconds (the pipeline, from connect to commit), fetch/predict/
      write seconds, wall seconds (process, imports included), peak RSS MiB.
  tuned_pipeline.py read --query SQL [--batch-size N]
      The floor of a read: arrow-odbc fetching every row, nothing else.
  tuned_pipeline.py write --table RESULTS --rows N [--batch-size N]
      The floor of a write: arrow-odbc inserting N result rows (made before
      the clock starts) in one transaction.
  tuned_pipeline.py plain --model OUT_DIR/model.pkl --query SQL --key COL
      --features f0,f1,.. --table RESULTS
      A plain Python dispatch: pyodbc fetchall, a row loop, executemany.
"""
import argparse
import json
import os
import pickle
import resource
import sys
import time

START = time.perf_counter()

import numpy as np  # noqa: E402

N_FEATURES = 8


def training_rows(n):
    """Rows like the benchmark's `rows_in`: f_j = (i % 97) * 0.1 + j.125, plus noise."""
    rng = np.random.default_rng(7)
    i = rng.integers(0, 10_000_000, n)
    x = np.column_stack([(i % 97) * 0.1 + j + 0.125 for j in range(N_FEATURES)])
    x = x + rng.normal(0, 0.5, x.shape)
    y = np.where(x.sum(axis=1) > np.median(x.sum(axis=1)), "high", "low")
    return x, y


def train(out):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import MinMaxScaler
    from skl2onnx import to_onnx

    os.makedirs(out, exist_ok=True)
    x, y = training_rows(5000)
    model = Pipeline([("scale", MinMaxScaler()), ("clf", LogisticRegression(max_iter=1000))])
    model.fit(x, y)
    with open(os.path.join(out, "model.pkl"), "wb") as f:
        pickle.dump(model, f)
    clf = model.steps[-1][1]
    onx = to_onnx(model, x[:1].astype(np.float32), options={id(clf): {"zipmap": False}},
                  target_opset={"": 17, "ai.onnx.ml": 3})
    with open(os.path.join(out, "model.onnx"), "wb") as f:
        f.write(onx.SerializeToString())
    with open(os.path.join(out, "labels.json"), "w") as f:
        json.dump([str(c) for c in model.classes_], f)


MIXED_NUMBERS = ["tenure", "spend", "visits"]
MIXED_TEXTS = ["plan", "country"]
PLANS = ["basic", "plus", "pro", "team"]
COUNTRIES = ["de", "fr", "it", "es", "nl", "pl", "se", "pt"]


def mixed_training_rows(n):
    """Rows like `customers_in` (tests/src/floor.rs, mixed_input), churn labels."""
    rng = np.random.default_rng(16)
    i = rng.integers(0, 10_000_000, n)
    x = np.empty((n, 5), dtype=object)
    x[:, 0] = (i % 61).astype(np.float64)
    x[:, 1] = (i % 997) * 0.25
    x[:, 2] = (i % 17).astype(np.float64)
    x[:, 3] = np.array(PLANS, dtype=object)[i % 4]
    x[:, 4] = np.array(COUNTRIES, dtype=object)[i % 8]
    logit = 1.0 - 0.05 * x[:, 0].astype(float) + 0.004 * x[:, 1].astype(float) \
        + np.where(x[:, 3] == "basic", 0.8, -0.4) + rng.logistic(0, 1, n)
    return x, np.where(logit > 0, "yes", "no")


def train_mixed(out):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    os.makedirs(out, exist_ok=True)
    x, y = mixed_training_rows(5000)
    model = Pipeline([
        ("ct", ColumnTransformer([
            ("cat", OneHotEncoder(handle_unknown="ignore"), [3, 4]),
            ("num", StandardScaler(), [0, 1, 2]),
        ])),
        ("clf", LogisticRegression(max_iter=1000)),
    ])
    model.fit(x, y)
    with open(os.path.join(out, "model.pkl"), "wb") as f:
        pickle.dump(model, f)
    inputs = [(c, FloatTensorType([None, 1])) for c in MIXED_NUMBERS] + [
        (c, StringTensorType([None, 1])) for c in MIXED_TEXTS]
    onx = convert_sklearn(model, initial_types=inputs,
                          options={id(model.steps[-1][1]): {"zipmap": False}},
                          target_opset={"": 17, "ai.onnx.ml": 3})
    with open(os.path.join(out, "model.onnx"), "wb") as f:
        f.write(onx.SerializeToString())
    with open(os.path.join(out, "labels.json"), "w") as f:
        json.dump([str(c) for c in model.classes_], f)


def score(args):
    import pyarrow as pa
    import pyarrow.compute as pc
    from arrow_odbc import connect

    connection = os.environ[args.connection_env]
    password = os.environ.get(args.password_env) if args.password_env else None
    features = args.features.split(",")
    with open(args.model, "rb") as f:
        model = pickle.load(f)
    classes = np.asarray([str(c) for c in model.classes_])
    schema = pa.schema([
        ("dispatch_id", pa.int64()),
        ("row_key", pa.string()),
        ("prediction", pa.string()),
        ("score", pa.float64()),
        ("model_version", pa.string()),
        ("scored_at", pa.timestamp("ms")),
    ])
    times = {"fetch": 0.0, "predict": 0.0}
    rows = 0

    def predicted(batch, at):
        nonlocal rows
        t = time.perf_counter()
        # Text columns come as object arrays (None for NULL): the stack is
        # then an object array, as the mixed pipeline takes it.
        x = np.column_stack([batch.column(f).to_numpy(zero_copy_only=False) for f in features])
        proba = model.predict_proba(x)
        best = proba.argmax(axis=1)
        out = pa.RecordBatch.from_arrays([
            pa.array(np.full(batch.num_rows, args.dispatch_id, dtype=np.int64)),
            pc.cast(batch.column(args.key), pa.string()),
            pa.array(classes[best]),
            pa.array(proba[np.arange(len(best)), best]),
            pa.array(np.full(batch.num_rows, "1", dtype=object), pa.string()),
            pa.array(np.full(batch.num_rows, at, dtype="datetime64[ms]")),
        ], schema=schema)
        times["predict"] += time.perf_counter() - t
        rows += batch.num_rows
        return out

    def batches(reader, at):
        it = iter(reader)
        while True:
            t = time.perf_counter()
            batch = next(it, None)
            times["fetch"] += time.perf_counter() - t
            if batch is None:
                return
            yield predicted(batch, at)

    begin = time.perf_counter()
    at = np.datetime64(int(time.time() * 1000), "ms")
    read = connect(connection, password=password)
    reader = read.read_arrow_batches(args.query, batch_size=args.batch_size)
    write = connect(connection, password=password, autocommit=False)
    write.execute(f"DELETE FROM {args.table} WHERE dispatch_id = ?", [str(args.dispatch_id)])
    if args.sequential:
        t = time.perf_counter()
        fetched = list(reader)
        times["fetch"] = time.perf_counter() - t
        out = [predicted(b, at) for b in fetched]
        del fetched
        source = pa.RecordBatchReader.from_batches(schema, out)
    else:
        source = pa.RecordBatchReader.from_batches(schema, batches(reader, at))
    t = time.perf_counter()
    write.insert_into_table(source, args.table, chunk_size=args.batch_size)
    write.commit()
    end = time.perf_counter()
    inserting = end - t
    if not args.sequential:
        # The generator ran inside the insert: what is left is the writing.
        inserting -= times["fetch"] + times["predict"]
    print(json.dumps({
        "mode": "sequential" if args.sequential else "streaming",
        "rows": rows,
        "seconds": end - begin,
        "fetch_s": times["fetch"],
        "predict_s": times["predict"],
        "write_s": inserting,
        "wall_s": end - START,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def bare_read(args):
    """The floor of any read: arrow-odbc fetching every row, nothing else."""
    from arrow_odbc import connect

    connection = os.environ[args.connection_env]
    password = os.environ.get(args.password_env) if args.password_env else None
    begin = time.perf_counter()
    conn = connect(connection, password=password)
    rows = 0
    for batch in conn.read_arrow_batches(args.query, batch_size=args.batch_size):
        rows += batch.num_rows
    end = time.perf_counter()
    report("read", rows, end - begin, fetch_s=end - begin)


def bare_write(args):
    """The floor of any write: arrow-odbc inserting N result rows (built
    before the clock starts, like mld's floor) in one transaction."""
    import pyarrow as pa
    from arrow_odbc import connect

    connection = os.environ[args.connection_env]
    password = os.environ.get(args.password_env) if args.password_env else None
    n = args.rows
    i = np.arange(n)
    table = pa.table({
        "dispatch_id": pa.array(np.full(n, args.dispatch_id, dtype=np.int64)),
        "row_key": pa.array(i.astype(str)),
        "prediction": pa.array(np.where(i % 2 == 0, "high", "low")),
        "score": pa.array((i % 1000) / 1000.0),
        "model_version": pa.array(np.full(n, "1", dtype=object), pa.string()),
        "scored_at": pa.array(np.full(n, np.datetime64(int(time.time() * 1000), "ms"))),
    })
    begin = time.perf_counter()
    write = connect(connection, password=password, autocommit=False)
    write.execute(f"DELETE FROM {args.table} WHERE dispatch_id = ?", [str(args.dispatch_id)])
    source = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=args.batch_size))
    write.insert_into_table(source, args.table, chunk_size=args.batch_size)
    write.commit()
    end = time.perf_counter()
    report("write", n, end - begin, write_s=end - begin)


def plain(args):
    """A plain Python dispatch, as such platforms are built today: pyodbc
    `fetchall`, the model on the whole matrix, a row loop building the
    parameters, `executemany` in one transaction."""
    import pyodbc

    connection = os.environ[args.connection_env]
    password = os.environ.get(args.password_env) if args.password_env else None
    if password:
        connection = f"{connection};PWD={{{password}}}"
    with open(args.model, "rb") as f:
        model = pickle.load(f)
    classes = [str(c) for c in model.classes_]
    features = args.features.split(",")
    begin = time.perf_counter()
    conn = pyodbc.connect(connection, autocommit=False)
    cur = conn.cursor()
    cur.execute(args.query)
    names = [d[0] for d in cur.description]
    fetched = cur.fetchall()
    fetch_s = time.perf_counter() - begin
    t = time.perf_counter()
    key = names.index(args.key)
    cols = [names.index(f) for f in features]
    x = np.array([[row[c] for c in cols] for row in fetched], dtype=np.float64)
    proba = model.predict_proba(x)
    at = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    params = []
    for row, p in zip(fetched, proba):
        best = int(p.argmax())
        params.append((args.dispatch_id, str(row[key]), classes[best], float(p[best]), "1", at))
    predict_s = time.perf_counter() - t
    t = time.perf_counter()
    cur.execute(f"DELETE FROM {args.table} WHERE dispatch_id = ?", args.dispatch_id)
    cur.executemany(
        f"INSERT INTO {args.table} (dispatch_id, row_key, prediction, score, model_version, scored_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        params,
    )
    conn.commit()
    end = time.perf_counter()
    report("plain", len(params), end - begin, fetch_s=fetch_s, predict_s=predict_s, write_s=end - t)


def report(mode, rows, seconds, fetch_s=0.0, predict_s=0.0, write_s=0.0):
    print(json.dumps({
        "mode": mode,
        "rows": rows,
        "seconds": seconds,
        "fetch_s": fetch_s,
        "predict_s": predict_s,
        "write_s": write_s,
        "wall_s": time.perf_counter() - START,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "train":
        train(sys.argv[2])
        return
    if len(sys.argv) >= 3 and sys.argv[1] == "train-mixed":
        train_mixed(sys.argv[2])
        return
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["score", "read", "write", "plain"])
    p.add_argument("--model")
    p.add_argument("--query")
    p.add_argument("--key")
    p.add_argument("--features")
    p.add_argument("--table")
    p.add_argument("--rows", type=int)
    p.add_argument("--dispatch-id", type=int, default=1)
    p.add_argument("--connection-env", default="MLD_PY_CONNECTION")
    p.add_argument("--password-env", default="MLD_PY_PASSWORD")
    p.add_argument("--batch-size", type=int, default=10_000)
    p.add_argument("--sequential", action="store_true")
    args = p.parse_args()
    {"score": score, "read": bare_read, "write": bare_write, "plain": plain}[args.command](args)


if __name__ == "__main__":
    main()
