"""The graph IR: structure invariants, shape inference and its errors, costs, printing, subgraphs."""
from __future__ import annotations

import random

import numpy as np
import pytest

from compiler.builder import GraphBuilder
from compiler.errors import ModelError
from compiler.frontend import run_onnxruntime
from compiler.ir import Graph, Node, Tensor
from compiler.ops import infer_node


def small_cnn(weights: str = "random") -> Graph:
    b = GraphBuilder("small", weights=weights, seed=0)
    x = b.input("x", (1, 3, 16, 16))
    y = b.max_pool(b.relu(b.conv(x, 8, 3, pad=1)), 2)
    z = b.relu(b.conv(y, 8, 3, pad=1, groups=2))
    s = b.add(y, z)
    return b.build([b.softmax(b.fc(b.global_avg_pool(s), 10))])


def test_shapes_and_known_macs():
    g = small_cnn(weights="none")
    g.validate()
    rows = {r["name"]: r for r in g.rows()}
    assert rows["conv"]["outputs"] == [[1, 8, 16, 16]] and rows["conv"]["macs"] == 8 * 16 * 16 * 3 * 9
    assert rows["conv_1"]["macs"] == 8 * 8 * 8 * 4 * 9 and rows["conv_1"]["params"] == 8 * 4 * 9 + 8
    assert rows["fullyconnected"]["macs"] == 80 and g.totals().macs == 8 * 256 * 27 + 8 * 64 * 36 + 80
    assert rows["maxpool"]["macs"] == 0 and rows["maxpool"]["outputs"] == [[1, 8, 8, 8]]


def test_toposort_restores_order_and_detects_cycles():
    g = small_cnn()
    order = [n.name for n in g.nodes]
    random.Random(0).shuffle(g.nodes)
    g.toposort()
    g.validate()
    pos = {n.name: k for k, n in enumerate(g.nodes)}
    assert all(pos[a] < pos[b] for a, b in zip(order, order[1:]) if b != "add")  # a chain apart from the join
    cyc = Graph("c", {"x": Tensor("x", (1,)), "a": Tensor("a", (1,)), "b": Tensor("b", (1,))},
                [Node("n1", "Relu", ("b",), ("a",)), Node("n2", "Relu", ("a",), ("b",))], ["x"], ["b"])
    with pytest.raises(ModelError, match="not a DAG"):
        cyc.toposort()


def test_validate_and_prune():
    g = small_cnn()
    dead = Node("dead", "Relu", ("x",), ("unused",))
    g.nodes.insert(0, dead)
    g.tensors["unused"] = Tensor("unused", (1, 3, 16, 16))
    g.prune()
    assert "dead" not in [n.name for n in g.nodes] and "unused" not in g.tensors
    g.nodes.append(g.nodes[0])
    with pytest.raises(ModelError, match="duplicate node name"):
        g.validate()


def test_attribute_errors_name_the_legal_values():
    x = Tensor("x", (1, 4, 8, 8))
    with pytest.raises(ModelError, match="unknown attribute 'stride'"):
        infer_node(Node("p", "MaxPool", ("x",), ("y",), {"kernel_shape": [2, 2], "stride": [2, 2]}), [x])
    with pytest.raises(ModelError, match="legal: DCR, CRD"):
        infer_node(Node("d", "DepthToSpace", ("x",), ("y",), {"blocksize": 2, "mode": "XYZ"}), [x])
    with pytest.raises(ModelError, match="attribute 'size' is required"):
        infer_node(Node("l", "LRN", ("x",), ("y",), {}), [x])


def test_gather_scalar_index_and_resize_scales():
    x = Tensor("x", (2, 5, 3))
    assert infer_node(Node("g", "Gather", ("x",), ("y",), {"axis": 1, "indices": 4}), [x]) == [((2, 3), "float32")]
    assert infer_node(Node("g", "Gather", ("x",), ("y",), {"axis": 1, "indices": [[0, 1]]}), [x]) == \
        [((2, 1, 2, 3), "float32")]
    out = infer_node(Node("r", "Resize", ("x",), ("y",), {"sizes": [2, 7, 4], "scales": [1.0, 1.5, 1.5],
                                                         "mode": "nearest"}), [x])
    assert out == [((2, 7, 4), "float32")]


def test_summary_has_table_totals_and_op_breakdown():
    text = small_cnn().summary()
    assert "total MACs 73,808" in text
    last = text.splitlines()[-1]
    assert last.startswith("by op: Conv x2 (") and "FullyConnected x1" in last and "Relu x2" in last


def test_subgraph_split_runs_like_the_whole():
    g = small_cnn()
    names = [n.name for n in g.nodes]
    head = g.subgraph(names[:4])
    tail = g.subgraph(names[4:])
    assert names[:4] == ["conv", "relu", "maxpool", "conv_1"]
    assert head.inputs == ["x"] and head.outputs == ["maxpool", "conv_1"]  # both are read by the tail
    assert tail.inputs == ["conv_1", "maxpool"] and tail.outputs == g.outputs
    x = np.random.default_rng(0).standard_normal((1, 3, 16, 16)).astype(np.float32)
    whole = run_onnxruntime(g, {"x": x})
    mid = run_onnxruntime(head, {"x": x})
    out = run_onnxruntime(tail, {k: mid[k] for k in tail.inputs})
    np.testing.assert_allclose(out[g.outputs[0]], whole[g.outputs[0]], rtol=1e-6)
    with pytest.raises(KeyError):
        g.subgraph(["nope"])


def test_reader_counts_counts_node_inputs_and_graph_outputs():
    from compiler.builder import GraphBuilder

    b = GraphBuilder("r")
    x = b.input("x", (1, 4, 8, 8))
    y = b.relu(x)
    z = b.add(y, y)
    g = b.build([z, y])
    counts = g.reader_counts()
    assert counts[x] == 1 and counts[y] == 3 and counts[z] == 1
    inner = g.reader_counts(include_outputs=False)
    assert inner[x] == 1 and inner[y] == 2 and z not in inner
