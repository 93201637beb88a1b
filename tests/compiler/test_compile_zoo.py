"""Acceptance on the nine light ONNX model-zoo networks shipped in the onnx wheel: each compiles at -O0 and
-O2 for the Arria 10 architectures (tiny: tests/compiler/test_compile_zoo_tiny.py), every node is accounted for
(in a bundle, a host partition, or a free view/concatenation), the binary round trip is exact and the assembly
round trip is byte-exact. The assembly round trip costs about 0.3 ms CPU per bundle, so programs of more than
`ASM_BUNDLES` bundles (none of these; tiny programs reach hundreds of thousands) skip it here; `python bench/bench_compile.py
--matrix --asm` checks it on every model, level and architecture (table in docs/compiler.md)."""
from pathlib import Path

import onnx
import pytest

from compiler.asm import assemble, disassemble
from compiler.compile import compile_model
from compiler.lowering.support import VIEW_OPS
from compiler.program import Program

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
MODELS = sorted(p.stem.removeprefix("light_") for p in LIGHT.glob("light_*.onnx"))
ASM_BUNDLES = 6000


def accounted(res) -> None:
    prog, g = res.program, res.graph
    in_bundles = {n for b in prog.bundles for n in b.note.nodes}
    on_host = {n.name for h in prog.host for n in h.graph.nodes}
    for n in g.nodes:
        assert n.name in in_bundles or n.name in on_host or n.op in VIEW_OPS + ("Slice", "Concat"), n.name
    assert {o for h in prog.host for o in h.graph.outputs} | {o for b in prog.bundles for o, _ in b.note.outputs} \
        >= {o for o in g.outputs if any(o in n.outputs and n.op not in VIEW_OPS for n in g.nodes)}


def test_all_nine_models_are_here():
    assert len(MODELS) == 9


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("arch", ["a10_generic", "dla_alexnet_a10"])
def test_light_zoo_compiles_and_round_trips(model, arch):
    path = LIGHT / f"light_{model}.onnx"
    for level in (0, 2):
        res = compile_model(path, arch, opt_level=level, with_weights=False)
        prog = res.program
        assert prog.bundles and prog.bundles[-1].fields("cfg")["last"] == 1
        accounted(res)
        data = prog.encode()
        assert Program.decode(data).encode() == data
        if len(prog.bundles) <= ASM_BUNDLES:
            assert assemble(disassemble(prog)).encode() == data
        stats = prog.stats()
        assert 0 < stats["config_overhead"] < 0.05


@pytest.mark.parametrize("arch", ["tiny", "a10_generic", "dla_alexnet_a10"])
def test_squeezenet_with_weights_round_trips(arch):
    prog = compile_model(LIGHT / "light_squeezenet.onnx", arch, opt_level=2).program
    assert prog.weights is not None and len(prog.weights) == prog.weights_size
    data = prog.encode()
    back = Program.decode(data)
    assert back.weights == prog.weights and back.encode() == data
    assert assemble(disassemble(prog)).encode() == data        # tiny: 5,261 bundles
