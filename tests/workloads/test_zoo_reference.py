"""Torch's own MAC and parameter counts of the zoo networks (the reference the other zoo tests compare with),
and checks that the direct IR builds match them at every network's documented input shape.

MACs: torch.utils.flop_counter.FlopCounterMode (convolution, mm, addmm, bmm) / 2, except inside nn.LSTM/nn.GRU,
whose fused CPU kernel the counter does not see: those get the analytic count (gates x hidden x (input +
hidden) per step, layer and batch element), itself checked against the counter on the meta device, where the
fused op is decomposed into matrix products the counter does see. Parameters: sum of p.numel(); BatchNorm
running statistics are reported separately (the inference graph carries them as constants).
Modules are built on the meta device: counting VGG-16 allocates nothing.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

import pytest
import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from workloads.zoo import ZOO, build_ir, count_macs, count_params, entry

GATES = {nn.LSTM: 4, nn.GRU: 3}

# parameter counts (sum of p.numel()) published for the identical torchvision architectures
PUBLISHED_PARAMS = {"resnet18": 11_689_512, "resnet50": 25_557_032, "resnet101": 44_549_160, "vgg16": 138_357_544,
                    "mobilenet_v2": 3_504_872, "squeezenet1_0": 1_248_424, "squeezenet1_1": 1_235_496,
                    "alexnet": 60_965_224}  # alexnet: Caffe bvlc_alexnet (grouped), not torchvision's variant


@dataclass(frozen=True)
class TorchCounts:
    macs: int
    params: int           # sum of p.numel()
    bn_stats: int         # elements of BatchNorm running_mean + running_var
    bn_channels: int      # channels of all BatchNorm layers
    rnn_macs: int         # analytic MACs of nn.LSTM/nn.GRU modules (included in macs)
    rnn_counter_macs: int  # what FlopCounterMode saw inside them (0 on CPU, decomposed matmuls on meta)


def meta_module(name: str, shapes=None, **options) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    """The zoo network's torch class instantiated on the meta device, with meta inputs."""
    e = entry(name)
    shapes = e.resolve_shapes(shapes)
    module_name, cls_name = e.torch_class.split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    with torch.device("meta"):
        m = cls(shape=shapes[0], **e.fixed, **e.resolve_options(options)).eval()
        xs = tuple(torch.empty(s) for s in shapes)
    return m, xs


def rnn_macs(module: nn.Module, x_shape: tuple[int, ...]) -> int:
    t, b, i = x_shape
    g, h, d = GATES[type(module)], module.hidden_size, 2 if module.bidirectional else 1
    total = 0
    for layer in range(module.num_layers):
        inp = i if layer == 0 else h * d
        total += t * b * d * g * h * (inp + h)
    return total


def torch_counts(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> TorchCounts:
    root = type(module).__name__
    rnn_names = {f"{root}.{n}" if n else root: m for n, m in module.named_modules() if type(m) in GATES}
    seen: dict[str, int] = {}
    hooks = [m.register_forward_hook(lambda mod, args, out, key=key: seen.__setitem__(key, rnn_macs(
        mod, tuple(args[0].shape)))) for key, m in rnn_names.items()]
    try:
        with FlopCounterMode(display=False) as fc, torch.no_grad():
            module(*inputs)
    finally:
        for h in hooks:
            h.remove()
    counts = fc.get_flop_counts()
    inside = sum(sum(counts.get(key, {}).values()) for key in rnn_names) // 2
    analytic = sum(seen.values())
    bns = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    return TorchCounts(macs=fc.get_total_flops() // 2 - inside + analytic,
                       params=sum(p.numel() for p in module.parameters()),
                       bn_stats=sum(m.running_mean.numel() + m.running_var.numel() for m in bns),
                       bn_channels=sum(m.num_features for m in bns), rnn_macs=analytic, rnn_counter_macs=inside)


def zoo_torch_counts(name: str, shapes=None, **options) -> TorchCounts:
    return torch_counts(*meta_module(name, shapes, **options))


# --- the reference itself ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,kw", [(nn.LSTM, {"num_layers": 2}), (nn.GRU, {"num_layers": 3}),
                                    (nn.LSTM, {"num_layers": 2, "bidirectional": True})])
def test_analytic_rnn_macs_equal_the_counter_on_decomposed_kernels(cls, kw):
    with torch.device("meta"):
        m, x = cls(24, 40, **kw), torch.empty(7, 3, 24)
    c = torch_counts(m, (x,))
    assert c.rnn_counter_macs == c.rnn_macs > 0


def test_counter_misses_the_fused_cpu_lstm_so_the_analytic_count_is_needed():
    m, x = nn.LSTM(16, 32, 2).eval(), torch.randn(5, 1, 16)
    c = torch_counts(m, (x,))
    assert c.rnn_counter_macs == 0 and c.macs == c.rnn_macs == 5 * 4 * 32 * (16 + 32) + 5 * 4 * 32 * 64


def test_conv_and_linear_counts_are_the_textbook_formulas():
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, groups=1), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
    c = torch_counts(m, (torch.randn(2, 3, 6, 6),))
    assert c.macs == 2 * 8 * 6 * 6 * 3 * 9 + 2 * 10 * 288
    assert c.params == 8 * 27 + 8 + 288 * 10 + 10


# --- the direct IR builders against torch -----------------------------------------------------------------------
@pytest.mark.parametrize("name", list(ZOO))
def test_direct_ir_matches_torch_counts_at_the_documented_shape(name):
    c = zoo_torch_counts(name)
    g = build_ir(name)
    assert count_macs(g) == c.macs
    assert count_params(g) == c.params + c.bn_stats
    if name in PUBLISHED_PARAMS:
        assert c.params == PUBLISHED_PARAMS[name]


@pytest.mark.parametrize("name,shapes,options", [
    ("resnet50", [(2, 3, 96, 128)], {}),
    ("vgg16", [(1, 3, 64, 64)], {"num_classes": 10}),
    ("alexnet", [(1, 3, 99, 99)], {}),
    ("mobilenet_v2", [(1, 3, 160, 160)], {"num_classes": 100}),
    ("googlenet", [(1, 3, 96, 96)], {}),
    ("gru_stack", [(9, 3, 40)], {"hidden": 48, "layers": 2, "num_classes": 0}),
    ("asr_attention", [(20, 2, 40)], {"hidden": 48, "enc_layers": 2, "dec_layers": 3, "embed": 16, "vocab": 30,
                                      "steps": 4}),
    ("edsr", [(1, 3, 24, 32)], {"blocks": 4, "features": 16, "scale": 4}),
    ("fsrcnn", [(2, 1, 20, 20)], {"scale": 2, "m": 2}),
])
def test_direct_ir_matches_torch_counts_for_other_shapes_and_options(name, shapes, options):
    c = zoo_torch_counts(name, shapes, **options)
    g = build_ir(name, shapes, **options)
    assert count_macs(g) == c.macs
    assert count_params(g) == c.params + c.bn_stats


# --- helpers for the export tests (test_zoo_export_*.py) ----------------------------------------------------------
SHAPE_ARITHMETIC = {"Shape", "ConstantOfShape", "Gather", "Where", "Equal", "If", "Constant", "Range", "Identity"}


def relative_error(out, ref) -> float:
    import numpy as np

    return float(np.abs(out - ref).max() / np.abs(ref).max())


def check_export(model, name: str, shapes=None, seed: int = 0, **options) -> dict:
    """The properties every zoo export must have; returns the measured numbers for the caller's extra checks.

    1. onnxruntime on the ONNX file equals the torch module (same seed) within 1e-4 relative error, same shape;
    2. our front-end imports it: raw import (no canonicalisation) has torch's MACs and parameters (+ BN running
       statistics) and the direct IR build's; canonical import (BN folded into the bias-free convs) keeps the
       MACs and has torch's parameters minus one per BN channel (gamma, beta, mean, var -> one conv bias);
    3. no shape arithmetic is left (static shapes, tidied).
    """
    import numpy as np
    import onnxruntime as ort

    from compiler.frontend import import_onnx
    from workloads.zoo import build_torch, example_inputs

    e = entry(name)
    module = build_torch(name, shapes, seed=seed, **options)
    xs = example_inputs(name, shapes, seed=seed)
    c = torch_counts(module, xs)  # on the CPU: the fused LSTM/GRU kernels get the analytic count
    with torch.no_grad():
        ref = module(*xs).numpy()
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == [i.name for i in e.inputs]
    out = sess.run(None, {i.name: x.numpy() for i, x in zip(e.inputs, xs)})[0]
    assert out.shape == ref.shape and np.isfinite(out).all()
    err = relative_error(out, ref)
    assert err <= 1e-4, f"{name}: onnxruntime vs torch relative error {err:.2e}"
    ops = [n.op_type for n in model.graph.node]
    assert not SHAPE_ARITHMETIC.intersection(ops), sorted(SHAPE_ARITHMETIC.intersection(ops))

    raw = import_onnx(model, canonicalize=False)
    direct = build_ir(name, shapes, **options)
    assert count_macs(raw) == c.macs == count_macs(direct)
    assert count_params(raw) == c.params + c.bn_stats == count_params(direct)
    assert [list(raw.tensors[o].shape) for o in raw.outputs] == [list(ref.shape)]
    canon = import_onnx(model)
    assert count_macs(canon) == c.macs
    assert "BatchNormalization" not in {n.op for n in canon.nodes}
    assert count_params(canon) == c.params - c.bn_channels
    return {"error": err, "ops": ops, "counts": c}
