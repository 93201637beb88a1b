"""The light zoo networks on the `tiny` architecture (4 PEs, 4096-entry stream buffer): many small tiles.
SqueezeNet and ShuffleNet run here; the other seven compile too but take 5 s to 4 min each on this machine
(see bench/bench_compile.py --tiny), which is why they are not in the test suite."""
import pytest

from compiler.asm import assemble, disassemble
from compiler.compile import compile_model
from tests.compiler.test_compile_zoo import LIGHT, accounted


@pytest.mark.parametrize("model", ["squeezenet", "shufflenet"])
@pytest.mark.parametrize("level", [0, 2])
def test_tiny_compiles_light_models(model, level):
    res = compile_model(LIGHT / f"light_{model}.onnx", "tiny", opt_level=level, with_weights=False)
    accounted(res)
    prog = res.program
    assert assemble(disassemble(prog)).encode() == prog.encode()
    reasons = {r for h in prog.host for r in h.reasons.values()}
    # tiny has no softmax kernel and a 3x3 pool window: what falls back says which parameter to raise
    assert any("aux.softmax.enabled" in r for r in reasons)
