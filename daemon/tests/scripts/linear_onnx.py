"""Writes LinearClassifier graphs with text labels, the rows they are judged
on and ONNX Runtime's own labels and probabilities for those rows, for
daemon/tests/models_onnx_labels.rs (mld reads such labels from the
probabilities; it must give exactly the graph's label, ties included).

Every graph takes 2 float features (x0, x1):
  logistic_tie     LOGISTIC, 2 scores (-x0, x0): 0.5 against 0.5 for tiny x0, "yes" iff x0 > 0
  softmax_near     SOFTMAX + L1 Normalizer, classes a and b all but equal: equal
                   probabilities while b's score is greater
  softmax_tie      SOFTMAX + L1 Normalizer, classes a and b identical: the first wins
  none_tie         NONE: the probabilities are the scores; p and q identical
  none_l1          NONE + L1 Normalizer
  softmax_zero     SOFTMAX_ZERO (not increasing): labels come from the graph
  one_target       one score and two classes (ONNX Runtime adds the second): from the graph
  sk_logistic      scikit-learn LogisticRegression (3 text classes), skl2onnx
  sk_pipeline      scikit-learn MinMaxScaler + LogisticRegression, skl2onnx
  sk_binary        scikit-learn LogisticRegression, 2 text classes, skl2onnx

Usage: linear_onnx.py OUT_DIR
Writes rows.csv, <name>.onnx, <name>.labels (the graph's label per row) and
<name>.scores (the probability of that label, float32 as %.9g; rows run
8,192 at a time, as mld runs them), and
manifest.json [{name, argmax}] (argmax: whether mld should read this graph's
labels from its probabilities).
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def linear(name, classes, coefficients, transform, normalize=False):
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])
    label = helper.make_tensor_value_info("label", TensorProto.STRING, [None])
    probs = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, None])
    targets = len(coefficients) // 2
    nodes = [
        helper.make_node(
            "LinearClassifier", ["X"], ["label", "scores" if normalize else "probabilities"],
            domain="ai.onnx.ml", classlabels_strings=classes, coefficients=coefficients,
            intercepts=[0.0] * targets, post_transform=transform, multi_class=0,
        )
    ]
    if normalize:
        nodes.append(helper.make_node("Normalizer", ["scores"], ["probabilities"],
                                      domain="ai.onnx.ml", norm="L1"))
    graph = helper.make_graph(nodes, name, [x], [label, probs])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                helper.make_opsetid("ai.onnx.ml", 3)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m.SerializeToString()


tiny = [0.0, -0.0, 1e-30, -1e-30, 1e-9, -1e-9, 1e-7, -1e-7, 3e-6, -3e-6, 1e-3, -1e-3,
        0.3, -0.3, 50.0, -50.0]
special = [[a, b] for a in tiny for b in tiny]
rng = np.random.default_rng(3)
random = rng.normal(size=(20000, 2))
# Rows near the boundaries: both features small, or nearly equal.
random[:4000] *= 1e-6
random[4000:8000, 1] = random[4000:8000, 0] * (1 + rng.normal(size=4000) * 1e-7)
rows = np.vstack([np.array(special), random]).astype(np.float32)
np.savetxt(os.path.join(out, "rows.csv"), rows, delimiter=",", header="x0,x1", comments="",
           fmt="%.9g")

graphs = {
    "logistic_tie": (linear("logistic_tie", ["no", "yes"], [-1.0, 0.0, 1.0, 0.0], "LOGISTIC"), True),
    "softmax_near": (linear("softmax_near", ["a", "b", "c"],
                            [1.0, 0.0, 1.000001, 0.0, 0.0, 1.0], "SOFTMAX", True), True),
    "softmax_tie": (linear("softmax_tie", ["a", "b", "c"],
                           [1.0, 0.5, 1.0, 0.5, 0.0, 1.0], "SOFTMAX", True), True),
    "none_tie": (linear("none_tie", ["p", "q", "r"], [1.0, 0.0, 1.0, 0.0, 0.0, 1.0], "NONE"), True),
    "none_l1": (linear("none_l1", ["p", "q", "r"], [1.0, 0.0, 1.0, 1e-7, 0.0, 1.0], "NONE", True), True),
    "softmax_zero": (linear("softmax_zero", ["a", "b", "c"],
                            [1.0, 0.0, 1.0, 0.0, 0.0, 1.0], "SOFTMAX_ZERO"), False),
    "one_target": (linear("one_target", ["no", "yes"], [1.0, -1.0], "LOGISTIC"), False),
}

from skl2onnx import to_onnx  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler  # noqa: E402

x_train = rng.normal(size=(600, 2))
y3 = np.array(["alpha", "beta", "gamma"])[(x_train[:, 0] > 0).astype(int) + (x_train[:, 1] > 0.5)]
y2 = np.array(["stay", "leave"])[(x_train[:, 0] + x_train[:, 1] > 0).astype(int)]
for name, est, y in [
    ("sk_logistic", LogisticRegression(max_iter=1000), y3),
    ("sk_pipeline", Pipeline([("s", MinMaxScaler()), ("c", LogisticRegression(max_iter=1000))]), y3),
    ("sk_binary", LogisticRegression(max_iter=1000), y2),
]:
    est.fit(x_train, y)
    clf = est.steps[-1][1] if isinstance(est, Pipeline) else est
    onx = to_onnx(est, x_train[:1].astype(np.float32), options={id(clf): {"zipmap": False}},
                  target_opset={"": 17, "ai.onnx.ml": 3})
    graphs[name] = (onx.SerializeToString(), True)

manifest = []
options = ort.SessionOptions()
options.intra_op_num_threads = 1
for name, (data, argmax) in graphs.items():
    with open(os.path.join(out, f"{name}.onnx"), "wb") as f:
        f.write(data)
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    # In chunks of 8,192 rows, as mld runs them: ONNX Runtime's softmax
    # takes another (equally exact) path on small batches.
    ran = [session.run(["label", "probabilities"], {"X": rows[i:i + 8192]})
           for i in range(0, len(rows), 8192)]
    labels = np.concatenate([l for l, _ in ran])
    probs = np.concatenate([p for _, p in ran])
    classes = [c for c in helper.get_attribute_value(
        next(a for n in onnx.load_from_string(data).graph.node if n.op_type == "LinearClassifier"
             for a in n.attribute if a.name == "classlabels_strings"))]
    classes = [c.decode() for c in classes]
    index = [classes.index(str(l)) for l in labels]
    with open(os.path.join(out, f"{name}.labels"), "w") as f:
        f.write("\n".join(str(l) for l in labels) + "\n")
    with open(os.path.join(out, f"{name}.scores"), "w") as f:
        f.write("\n".join("%.9g" % probs[r, i] if i < probs.shape[1] else "1"
                          for r, i in enumerate(index)) + "\n")
    manifest.append({"name": name, "argmax": argmax})
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1)
