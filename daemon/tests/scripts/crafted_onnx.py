"""Writes hostile ONNX graphs for daemon/tests/models_onnx_crafted.rs.

short_probs.onnx   labels for every row, probabilities for the first row only
short_labels.onnx  a label for the first row only
external.onnx      a weight tensor kept in an external file (weights.bin)

Each takes 2 float features and says classes 0 and 1 (int64 labels).
Usage: crafted_onnx.py OUT_DIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def model(nodes, outputs, initializers):
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])
    graph = helper.make_graph(nodes, "crafted", [x], outputs, initializers)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


w = numpy_helper.from_array(np.array([[1.0, -1.0], [-1.0, 1.0]], dtype=np.float32), "W")
starts = numpy_helper.from_array(np.array([0], dtype=np.int64), "starts")
ends = numpy_helper.from_array(np.array([1], dtype=np.int64), "ends")
axes = numpy_helper.from_array(np.array([0], dtype=np.int64), "axes")
score = [
    helper.make_node("MatMul", ["X", "W"], ["S"]),
    helper.make_node("Softmax", ["S"], ["P"], axis=1),
    helper.make_node("ArgMax", ["P"], ["L"], axis=1, keepdims=0),
]
label = helper.make_tensor_value_info("label", TensorProto.INT64, [None])
probs = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])

short_probs = model(
    score
    + [
        helper.make_node("Identity", ["L"], ["label"]),
        helper.make_node("Slice", ["P", "starts", "ends", "axes"], ["probabilities"]),
    ],
    [label, probs],
    [w, starts, ends, axes],
)
onnx.save_model(short_probs, os.path.join(out, "short_probs.onnx"))

short_labels = model(
    score
    + [
        helper.make_node("Slice", ["L", "starts", "ends", "axes"], ["label"]),
        helper.make_node("Identity", ["P"], ["probabilities"]),
    ],
    [label, probs],
    [w, starts, ends, axes],
)
onnx.save_model(short_labels, os.path.join(out, "short_labels.onnx"))

external = model(
    score
    + [
        helper.make_node("Identity", ["L"], ["label"]),
        helper.make_node("Identity", ["P"], ["probabilities"]),
    ],
    [label, probs],
    [w],
)
onnx.save_model(
    external,
    os.path.join(out, "external.onnx"),
    save_as_external_data=True,
    all_tensors_to_one_file=True,
    location="weights.bin",
    size_threshold=0,
)
