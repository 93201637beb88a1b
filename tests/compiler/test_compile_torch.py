"""Torch-exported CNN, LSTM, GRU and super-resolution (PixelShuffle) models from the project zoo compile at -O0
and -O2 for every shipped architecture (tiny, a10_generic, dla_alexnet_a10) and compute what onnxruntime
computes on the ONNX file (fp32 variants of the architectures, executed by simulator.functional); the binary
round trip is exact on those, the binary and assembly round trips on the programs in each architecture's own
precision (with weights: int8 on tiny, bfp16 on the Arria 10 ones)."""
import numpy as np
import onnxruntime as ort
import pytest

from compiler.asm import assemble, disassemble
from compiler.compile import compile_model
from compiler.program import Program
from hw_models.arch import load_arch, shipped_archs

CASES = {
    "lstm_stack": ([(5, 1, 16)], {"hidden": 32, "layers": 2, "num_classes": 10}),
    "gru_stack": ([(5, 1, 16)], {"hidden": 32, "layers": 2, "num_classes": 10}),
    "espcn": ([(1, 1, 16, 16)], {"n1": 16, "n2": 8}),
    "mobilenet_v2": ([(1, 3, 32, 32)], {}),
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    export = pytest.importorskip("workloads.zoo.export")
    d = tmp_path_factory.mktemp("torch")
    out = {}
    for name, (shapes, opts) in CASES.items():
        path = d / f"{name}.onnx"
        export.export_onnx(name, path, input_shapes=shapes, **opts)
        out[name] = path
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_torch_models_compile_and_match(exported, name):
    sim = pytest.importorskip("simulator.functional")
    path = exported[name]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    iname = sess.get_inputs()[0].name
    x = np.random.default_rng(0).standard_normal(CASES[name][0][0]).astype(np.float32)
    ref = sess.run(None, {iname: x})[0]
    assert {"tiny", "a10_generic", "dla_alexnet_a10"} <= set(shipped_archs())
    for arch in shipped_archs():
        for level in (0, 2):
            a = load_arch(arch).with_changes(precision="fp32")
            prog = compile_model(path, a, opt_level=level).program
            out = next(iter(sim.FunctionalSimulator(prog).run({iname: x}).values()))
            np.testing.assert_allclose(out, ref, atol=1e-4 * max(1.0, float(np.abs(ref).max())), rtol=0)
            if name in ("lstm_stack", "gru_stack"):
                assert not prog.host, (arch, level)          # recurrent models run entirely on the overlay
            data = prog.encode()
            assert Program.decode(data).encode() == data
            native = compile_model(path, arch, opt_level=level).program   # the architecture's own precision
            assert native.bundles and native.arch.precision == load_arch(arch).precision
            data = native.encode()
            assert Program.decode(data).encode() == data
            assert assemble(disassemble(native)).encode() == data


def test_lstm_o2_has_far_fewer_filter_loads(exported):
    path = exported["lstm_stack"]
    loads = {}
    for level in (0, 2):
        prog = compile_model(path, "a10_generic", opt_level=level, with_weights=False).program
        loads[level] = sum(1 for b in prog.bundles if b.is_active("wread"))
    assert loads[2] * 10 < loads[0]
