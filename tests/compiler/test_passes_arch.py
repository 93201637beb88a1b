"""The architecture-driven passes of the performance follow-up: each keeps onnxruntime's numerics (through the
reference executor of docs/isa.md and simulator.functional) and does what it claims on the compiled program
(bundle fields, PE cycles of the cycle model's demand, bundle and filter-load counts)."""
import numpy as np
import pytest

from compiler.builder import GraphBuilder
from compiler.compile import compile_model
from compiler.passes import REGISTRY, list_passes
from compiler.passes.fold import folded_weights
from hw_models.arch import load_arch
from simulator.demand import program_demands
from simulator.timing import simulate_timing
from tests.compiler.test_compile import TOL, check

DLA32 = load_arch("dla_alexnet_a10").with_changes(precision="fp32")
A1032 = load_arch("a10_generic").with_changes(precision="fp32")
TINY32 = load_arch("tiny").with_changes(precision="fp32")


def pe_cycles(prog, layer: str) -> int:
    return sum(d.pe_cycles for d in program_demands(prog) if d.layer == layer)


def bundles_of(prog, layer: str):
    return [b for b in prog.bundles if b.note.name == layer]


def first_layer(k: int, s: int, p: int, hw: tuple[int, int] = (23, 24), n: int = 2):
    b = GraphBuilder("fold", weights="random", seed=4)
    x = b.input("x", (n, 3) + hw)
    y = b.relu(b.conv(x, 16, k, stride=s, pad=p, name="c1"))
    return b.build([b.conv(y, 8, 3, pad=1, name="c2")])


def test_levels_of_the_new_passes():
    list_passes()
    for name in ("fold-input", "direct-wide", "matvec-columns", "filter-residency"):
        assert REGISTRY[name].levels == {2}
    assert REGISTRY["concat-aux"].levels == {1, 2} and REGISTRY["whole-buffer"].levels == frozenset()


def test_folded_weights_move_taps_into_channels():
    w = np.arange(2 * 3 * 7 * 7, dtype=np.float32).reshape(2, 3, 7, 7)
    f = folded_weights(w, 2)
    assert f.shape == (2, 12, 4, 4)
    # W'[k, (by f + bx) C + c, i, j] = W[k, c, i f + by, j f + bx]; zero beyond the kernel
    assert f[1, (1 * 2 + 0) * 3 + 2, 2, 3] == w[1, 2, 5, 6]
    assert f[0, (1 * 2 + 1) * 3 + 0, 3, 3] == 0 and f[0, 0, 3, 3] == w[0, 0, 6, 6]


@pytest.mark.parametrize("arch,k,s,p,factor,kw", [(DLA32, 11, 4, 2, 4, 3), (DLA32, 7, 2, 3, 2, 4),
                                                   (A1032, 7, 2, 3, 2, 4)])
def test_fold_input_numerics_and_pe_cycles(arch, k, s, p, factor, kw):
    g = first_layer(k, s, p)
    prog = check(g, arch, 2, TOL["fp32"])
    naive = compile_model(g, arch, opt_level=2, disable=["fold-input"]).program
    assert len(prog.host) == 1 and not naive.host          # the host folds the input (Pad + SpaceToDepth)
    sb = bundles_of(prog, "c1")[0].fields("sbuf")
    assert (sb["kw"], sb["sx"]) == (kw, s // factor)
    assert bundles_of(prog, "c1")[0].fields("pe")["c_count"] == 3 * factor * factor
    if kw == 3:
        assert bundles_of(prog, "c1")[0].fields("pe")["wino"] == 1      # AlexNet's conv1 becomes Winograd
    assert pe_cycles(prog, "c1") * 2 < pe_cycles(naive, "c1")


def test_fold_input_leaves_stride_one_and_inner_layers_alone():
    g = first_layer(5, 1, 2)
    res = compile_model(g, DLA32, opt_level=2)
    assert not res.program.host and "SpaceToDepth" not in {n.op for n in res.graph.nodes}
    assert not compile_model(first_layer(7, 2, 3), DLA32, opt_level=0).program.host


def test_direct_wide_computes_w_vector_columns():
    b = GraphBuilder("wide", weights="random", seed=5)
    x = b.input("x", (1, 16, 9, 13))
    y = b.relu(b.conv(x, 48, 1, name="pw"))                           # 1x1 stride 1: wide
    g = b.build([b.conv(y, 8, 3, stride=2, pad=1, name="s2")])        # 3x3 stride 2: neither Winograd nor wide
    prog = check(g, DLA32, 2, TOL["fp32"])
    naive = compile_model(g, DLA32, opt_level=2, disable=["direct-wide"]).program
    assert bundles_of(prog, "pw")[0].fields("pe")["cols"] == "wide"
    assert bundles_of(prog, "s2")[0].fields("pe")["cols"] == "tile"
    # 48 filters = one pass, 2 entries (16 channels); positions 9 rows x ceil(13 / 6) = 27 wide, 9 x ceil(13 / 4) = 36
    # with q_vector columns, in groups of 4 accumulator threads: 28 x 2 and 36 x 2 cycles
    assert (pe_cycles(prog, "pw"), pe_cycles(naive, "pw")) == (28 * 2, 36 * 2)
    # a non-Winograd array has one column and no `cols` field
    assert "cols" not in compile_model(g, A1032, opt_level=2).program.bundles[0].fields("pe")


def test_matvec_columns_put_images_side_by_side():
    b = GraphBuilder("fc", weights="random", seed=6)
    x = b.input("x", (12, 64))
    g = b.build([b.relu(b.fc(x, 96, name="fc"))])
    prog = check(g, DLA32, 2, TOL["fp32"])
    naive = compile_model(g, DLA32, opt_level=2, disable=["matvec-columns"]).program
    assert {bd.fields("pe")["cols"] for bd in bundles_of(prog, "fc")} == {"images"}
    w = DLA32.pe_array.w_vector
    assert pe_cycles(prog, "fc") * 12 == pe_cycles(naive, "fc") * -(-12 // w)
    one = compile_model(first_layer(3, 1, 1, n=1), DLA32, opt_level=2).program      # batch 1: nothing to share
    assert all(bd.fields("pe").get("cols") != "images" for bd in one.bundles)


def inception(extra_reader: bool = False):
    b = GraphBuilder("inc", weights="random", seed=7)
    x = b.input("x", (1, 16, 12, 12))
    br = [b.relu(b.conv(x, 16, 1, name="b1")), b.relu(b.conv(b.relu(b.conv(x, 8, 1)), 16, 3, pad=1, name="b3")),
          b.relu(b.conv(b.max_pool(x, 3, 1, pad=1), 8, 1, name="bp"))]
    y = b.concat(br, name="cat")
    z = b.max_pool(y, 3, 2, pad=1, name="pool")
    outs = [b.conv(z, 8, 1, name="head")]
    if extra_reader:
        outs.append(b.relu(y))
    return b.build(outs)


@pytest.mark.parametrize("arch,level", [(A1032, 1), (A1032, 2), (TINY32, 2)])
def test_concat_aux_fuses_the_pool_into_the_branches(arch, level):
    g = inception()
    prog = check(g, arch, level, TOL["fp32"])
    naive = compile_model(g, arch, opt_level=level, disable=["concat-aux"]).program
    moved = [b for b in prog.bundles if any(n.startswith("pool_") for n in b.note.nodes)]
    assert len({b.note.name for b in moved}) == 3                      # one copy in each branch's bundle
    assert all(b.fields("pe")["mode"] == "conv" and "pool" in b.fields("xbar").values() for b in moved)
    assert any(b.note.name == "pool" for b in naive.bundles)         # without the pass: a pool bundle of its own
    assert len({b.note.name for b in prog.bundles}) < len({b.note.name for b in naive.bundles})


def test_concat_aux_keeps_a_concat_that_others_read():
    res = compile_model(inception(extra_reader=True), A1032, opt_level=2)
    assert sum(1 for n in res.graph.nodes if n.op == "MaxPool") == 2          # the branch pool and the original
    assert "no channel-wise" in next(r.changes for r in res.passes if r.name == "concat-aux")


def test_filter_residency_loads_recurrent_weights_once():
    b = GraphBuilder("gru", weights="random", seed=8)
    x = b.input("x", (6, 1, 16))
    outs = b.recurrent("GRU", x, 24)
    g = b.build([b.op("Reshape", [outs[0]], {"shape": [6, 24]})[0]])
    prog = check(g, A1032, 2, TOL["fp32"])
    naive = compile_model(g, A1032, opt_level=2, disable=["filter-residency"]).program
    loads = lambda p: sum(1 for bd in p.bundles if bd.is_active("wread"))      # noqa: E731
    # a GRU step alternates two recurrent products (update/reset gates, then the candidate on r * h): with
    # residency each chunk stays in its cache half for all 6 steps (plus the hoisted input projection)
    assert loads(prog) == 3 and loads(naive) == 1 + 2 * 5
    assert len(prog.bundles) == len(naive.bundles)
    t, tn = (simulate_timing(p, events=False).total_cycles for p in (prog, naive))
    assert t < tn


def test_whole_buffer_keeps_whole_tiles_where_faster():
    b = GraphBuilder("stem", weights="random", seed=9)
    x = b.input("x", (1, 3, 64, 64))
    y = b.max_pool(b.relu(b.conv(x, 16, 7, stride=2, pad=3, name="stem")), 3, 2, pad=1)
    g = b.build([b.conv(y, 8, 1)])
    prog = check(g, TINY32, 2, TOL["fp32"], enable=["whole-buffer"])
    half = compile_model(g, TINY32, opt_level=2).program
    bank = TINY32.stream_buffer.depth // TINY32.stream_buffer.banks
    whole = [bd for bd in prog.bundles if bd.fields("sbuf")["n"] * bd.fields("sbuf")["cb"] * bd.fields("sbuf")["rows"]
             * bd.fields("sbuf")["width"] > bank]
    assert whole and all(bd.fields("cfg")["wait"] for bd in whole)
    assert len(prog.bundles) < len(half.bundles)
    assert simulate_timing(prog, events=False).total_cycles < simulate_timing(half, events=False).total_cycles


def unrolled_rnn(steps: int, shared: bool, factorised: bool, hidden: int = 48):
    """h_t = tanh(x_t + h_{t-1} R) unrolled (x_t: the hoisted input projection of step t); R = V U when
    factorised. `shared`: every step's MatMul reads the same constant tensors (as an exported unrolled RNN does);
    otherwise each step reads its own copy."""
    b = GraphBuilder("unrolled", weights="random", seed=11)
    x = b.input("x", (1, steps * hidden))
    rng = np.random.default_rng(3)
    mats = [rng.standard_normal((hidden, hidden // 4)).astype(np.float32) * 0.3,
            rng.standard_normal((hidden // 4, hidden)).astype(np.float32) * 0.3] if factorised else \
        [rng.standard_normal((hidden, hidden)).astype(np.float32) * 0.2]
    consts = [b.const(f"r{j}", m.shape, m) for j, m in enumerate(mats)]
    h = None
    for t in range(steps):
        g = b.op("Slice", [x], {"starts": [t * hidden], "ends": [(t + 1) * hidden], "axes": [1]}, name=f"x{t}")[0]
        if h is not None:
            rec = h
            for j, m in enumerate(mats):
                rec = b.matmul(rec, consts[j] if shared else b.const(f"r{j}_t{t}", m.shape, m), name=f"rec{t}_{j}")
            g = b.add(g, rec, name=f"sum{t}")
        h = b.activation(g, "Tanh", name=f"h{t}")
    return b.build([h])


@pytest.mark.parametrize("factorised", [False, True])
def test_shared_matmul_weights_stay_resident_across_unrolled_steps(factorised):
    """MatMuls of every unrolled step read one constant: legalize derives one transposed tensor for all of them,
    so the program stores it once and loads each chunk once for all steps (copies per step: a load per step).
    Numerics match onnxruntime; the estimate walks the filter cache the same way as the lowering."""
    from simulator.estimate import estimate

    steps = 6
    g, copies = unrolled_rnn(steps, True, factorised), unrolled_rnn(steps, False, factorised)
    prog = check(g, A1032, 2, TOL["fp32"])
    naive = check(copies, A1032, 2, TOL["fp32"])
    n_mats = 2 if factorised else 1
    loads = lambda p: sum(1 for bd in p.bundles if bd.is_active("wread"))      # noqa: E731
    # the recurrent matrices are loaded once each instead of once per step
    assert loads(prog) == n_mats
    assert loads(naive) == n_mats * (steps - 1)
    assert len(prog.weights) < len(naive.weights)
    t, tn = (simulate_timing(p, events=False).total_cycles for p in (prog, naive))
    assert t < tn
    for graph, p in ((g, prog), (copies, naive)):
        e = estimate(graph, A1032, on_chip=True, memo=False)
        d = program_demands(p)
        assert sum(x.ddr_bytes_read for x in e.layers) == sum(x.read_bytes + x.filt_xfer for x in d)
