"""Export round trip of the zoo's recurrent, speech and super-resolution networks: ONNX LSTM/GRU nodes for the
fused layers, an unrolled decoder that reads each weight once per step from one initializer, ConvTranspose and
DepthToSpace for the upsamplers."""
from __future__ import annotations

from functools import lru_cache

import onnx
import pytest

from test_zoo_reference import check_export
from compiler.frontend import import_onnx
from workloads.zoo import build_ir, count_params, export_onnx

SMALL_ASR = {"hidden": 48, "enc_layers": 2, "dec_layers": 2, "embed": 16, "vocab": 40, "steps": 5}
CASES = {
    "lstm_stack": (None, {}),
    "gru_stack": ([(10, 3, 24)], {}),
    "lstm_cell": ([(6, 4, 1024)], {}),
    "asr_attention": ([(12, 2, 20)], SMALL_ASR),
    "srcnn": ([(1, 1, 48, 40)], {}),
    "fsrcnn": (None, {}),
    "espcn": ([(2, 1, 32, 32)], {}),
    "edsr": ([(1, 3, 24, 24)], {}),
}


@lru_cache(maxsize=None)
def exported(name: str):
    shapes, options = CASES[name]
    return export_onnx(name, input_shapes=shapes, seed=11, **options)


@pytest.mark.parametrize("name", list(CASES))
def test_export_matches_torch_and_imports_with_torch_counts(name):
    shapes, options = CASES[name]
    result = check_export(exported(name), name, shapes, seed=11, **options)
    ops = result["ops"]
    expected = {"lstm_stack": ("LSTM", 3), "gru_stack": ("GRU", 3), "lstm_cell": ("LSTM", 1),
                "asr_attention": ("LSTM", 2), "fsrcnn": ("ConvTranspose", 1), "espcn": ("DepthToSpace", 1),
                "edsr": ("DepthToSpace", 1)}.get(name)
    if expected:
        assert ops.count(expected[0]) == expected[1]


def test_rnn_zero_states_and_unused_outputs_are_tidied_away():
    for name in ("lstm_stack", "gru_stack"):
        for node in exported(name).graph.node:
            if node.op_type in ("LSTM", "GRU"):
                assert len(node.input) == 4 and list(node.output)[1:] == []  # X, W, R, B -> Y only


def test_unrolled_decoder_reads_each_weight_from_one_initializer():
    model = exported("asr_attention")
    steps = SMALL_ASR["steps"]
    readers: dict[str, int] = {}
    for node in model.graph.node:
        for i in node.input:
            readers[i] = readers.get(i, 0) + 1
    inits = {t.name: t for t in model.graph.initializer}
    assert readers["out.weight"] == readers["combine.weight"] == steps
    assert readers["embedding"] == steps - 1
    # no weight initializer is a copy of another: each appears once however many steps read it (the other
    # initializers are int64 axes/starts/ends of Slice, Squeeze, Unsqueeze)
    weights = [t for t in inits.values() if t.data_type == onnx.TensorProto.FLOAT]
    assert sum(onnx.numpy_helper.to_array(t).size for t in weights) == count_params(
        build_ir("asr_attention", CASES["asr_attention"][0], **SMALL_ASR))


def test_decoder_weights_counted_once_per_graph_not_once_per_step():
    g = import_onnx(exported("asr_attention"), canonicalize=False)
    per_node = sum(g.cost(n).params for n in g.nodes)  # per-node costs count a shared weight at every reader
    assert g.totals().params == count_params(g) < per_node


def test_lstm_cell_batching_scales_macs_not_params():
    g1, g4 = build_ir("lstm_cell"), build_ir("lstm_cell", [(25, 4, 1024)])
    assert g4.totals().macs == 4 * g1.totals().macs == 4 * 25 * 4 * 1024 * 2048
    assert count_params(g4) == count_params(g1) == 4 * 1024 * 2048 + 8 * 1024
