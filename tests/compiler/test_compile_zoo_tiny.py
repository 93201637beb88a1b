"""The light zoo networks on the `tiny` architecture (4 PEs, 4096-entry stream buffer): many small tiles.
SqueezeNet and ShuffleNet compile here at both levels (3,000-6,300 bundles), every node accounted for, the binary
and assembly round trips exact; the other seven compile too, with 30,000 bundles and more each (tens of seconds
with the round trip), so they are in `python bench/bench_compile.py --matrix --asm --archs tiny` (table in
docs/compiler.md) rather than in the test suite."""
import pytest

from compiler.asm import assemble, disassemble
from compiler.compile import compile_model
from compiler.program import Program
from tests.compiler.test_compile_zoo import LIGHT, accounted


@pytest.mark.parametrize("model,level", [("squeezenet", 0), ("squeezenet", 2), ("shufflenet", 0),
                                         ("shufflenet", 2)])
def test_tiny_compiles_light_models(model, level):
    res = compile_model(LIGHT / f"light_{model}.onnx", "tiny", opt_level=level, with_weights=False)
    accounted(res)
    prog = res.program
    data = prog.encode()
    assert Program.decode(data).encode() == data
    assert assemble(disassemble(prog)).encode() == data
    reasons = {r for h in prog.host for r in h.reasons.values()}
    # tiny has no softmax kernel and a 3x3 pool window: what falls back says which parameter to raise
    assert any("aux.softmax.enabled" in r for r in reasons)
