"""Property: random small conv/FC graphs compiled with any subset of the optimisation passes compute what
onnxruntime computes, when executed by the functional simulator (simulator.functional) and by the reference
executor of docs/isa.md (program_ref.py)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.builder import GraphBuilder
from compiler.compile import compile_model
from compiler.frontend import run_onnxruntime
from compiler.program import Program
from hw_models.arch import load_arch
from tests.compiler.program_ref import run_program

OPTIONAL = ["batch-matvec", "group-conv", "winograd", "fuse", "tile", "memory-plan", "legalize"]
ARCHS = {name: load_arch(name).with_changes(precision="fp32") for name in ("tiny", "a10_generic", "dla_alexnet_a10")}
SMALL_SB = load_arch("a10_generic").with_changes(precision="fp32", **{"stream_buffer.depth": 512,
                                                                      "filter_cache.depth": 32})


@st.composite
def graphs(draw):
    b = GraphBuilder("rand", weights="random", seed=draw(st.integers(0, 1000)))
    n = draw(st.integers(1, 2))
    c = draw(st.integers(1, 20))
    hw = draw(st.integers(3, 9))
    x = b.input("x", (n, c, hw, hw))
    feats = [x]
    for _ in range(draw(st.integers(1, 5))):
        cur = feats[-1]
        cc = b.shape(cur)[1]
        kind = draw(st.sampled_from(["conv", "conv", "dw", "relu", "pool", "add", "concat", "avg"]))
        if kind == "conv":
            k = draw(st.sampled_from([1, 3]))
            s = draw(st.sampled_from([1, 2])) if b.shape(cur)[2] >= 3 else 1
            g = draw(st.sampled_from([d for d in (1, 2, 4) if cc % d == 0]))
            out = draw(st.integers(1, 12)) * g
            y = b.conv(cur, out, k, stride=s, pad=k // 2, groups=g)
        elif kind == "dw":
            y = b.conv(cur, cc, 3, pad=1, groups=cc)
        elif kind == "relu":
            y = b.relu(cur)
        elif kind == "pool":
            small = min(b.shape(cur)[2:]) < 2
            y = b.max_pool(cur, 3, 1, pad=1) if small or draw(st.booleans()) else b.max_pool(cur, 2, 2, ceil=True)
        elif kind == "avg":
            y = b.avg_pool(cur, 3, 2, pad=1, count_include_pad=draw(st.booleans()))
        elif kind == "add":
            same = [f for f in feats if b.shape(f) == b.shape(cur) and f != cur]
            y = b.add(cur, same[-1]) if same else b.relu(cur)
        else:
            same = [f for f in feats if b.shape(f)[2:] == b.shape(cur)[2:] and f != cur]
            y = b.concat([cur, same[-1]]) if same else b.relu(cur)
        feats.append(y)
    y = feats[-1]
    if draw(st.booleans()):
        y = b.fc(y, draw(st.integers(1, 24)))
        if draw(st.booleans()):
            y = b.softmax(y, axis=1)
    return b.build([y])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(g=graphs(), passes=st.sets(st.sampled_from(OPTIONAL)), arch=st.sampled_from(sorted(ARCHS) + ["small"]),
       seed=st.integers(0, 100))
def test_random_graphs_keep_semantics(g, passes, arch, seed):
    a = SMALL_SB if arch == "small" else ARCHS[arch]
    rng = np.random.default_rng(seed)
    feeds = {"x": rng.standard_normal(g.tensors["x"].shape).astype(np.float32)}
    ref = run_onnxruntime(g, feeds)
    prog = compile_model(g, a, opt_level=2, disable=sorted(set(OPTIONAL) - passes)).program
    prog = Program.decode(prog.encode())
    outs = [run_program(prog, feeds)]
    try:
        from simulator.functional import FunctionalSimulator
    except ImportError:  # the simulator is another package of this project; the reference executor still runs
        FunctionalSimulator = None
    if FunctionalSimulator is not None:
        outs.append(FunctionalSimulator(prog).run(feeds))
    for out in outs:
        for k in g.outputs:
            np.testing.assert_allclose(out[k], ref[k], atol=2e-4 * max(1.0, float(np.abs(ref[k]).max())), rtol=0)


def test_simulator_is_present():
    pytest.importorskip("simulator.functional")
