"""The light zoo networks on the `tiny` architecture (4 PEs, 4096-entry stream buffer): many small tiles.
SqueezeNet (both levels) and ShuffleNet (-O2) compile here, every node accounted for, the binary round trip
exact; the other seven compile too but take 5 s to 4 min each on this machine (see bench/bench_compile.py
--tiny), which is why they are not in the test suite. The assembly round trip of tiny programs is in
tests/compiler/test_asm.py (these have 3,000-6,000 bundles: several seconds of parsing each)."""
import pytest

from compiler.compile import compile_model
from compiler.program import Program
from tests.compiler.test_compile_zoo import LIGHT, accounted


@pytest.mark.parametrize("model,level", [("squeezenet", 0), ("squeezenet", 2), ("shufflenet", 2)])
def test_tiny_compiles_light_models(model, level):
    res = compile_model(LIGHT / f"light_{model}.onnx", "tiny", opt_level=level, with_weights=False)
    accounted(res)
    prog = res.program
    data = prog.encode()
    assert Program.decode(data).encode() == data
    reasons = {r for h in prog.host for r in h.reasons.values()}
    # tiny has no softmax kernel and a 3x3 pool window: what falls back says which parameter to raise
    assert any("aux.softmax.enabled" in r for r in reasons)
