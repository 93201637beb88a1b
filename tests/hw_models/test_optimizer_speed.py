"""The optimiser's speed-ups are exact: the estimate's per-shape tile costs equal the straightforward per-tile
form, the config-word table memoised per field layout equals the ISA's, and architectures that share a plan
across precisions cost exactly as `estimate()`."""
from __future__ import annotations

import numpy as np
import pytest

from compiler.builder import GraphBuilder
from hw_models.arch import load_arch
from hw_models.optimizer import ArchSpace, Evaluator, NetworkCost, planning_key
from simulator import costs as C
from simulator import estimate as E


def mixed_net(batch: int = 1):
    """Conv (dense and grouped), depthwise, pool, LRN, eltwise, FC: every branch of the per-tile cost."""
    b = GraphBuilder("mixed")
    x = b.input("x", (batch, 3, 40, 40))
    y = b.relu(b.conv(x, 48, 3, pad=1))
    y = b.max_pool(y, 2, 2)
    y = b.lrn(y, size=5)
    z = b.relu(b.conv(y, 48, 3, pad=1, groups=3))
    y = b.relu(b.add(y, z))
    y = b.relu(b.conv(y, 48, 3, pad=1, groups=48))
    y = b.avg_pool(b.conv(y, 72, 1), 2, 2)
    y = b.fc(b.flatten(y), 10)
    return b.build([y])


def reference_tile_costs(arch, geo, tp, lane: int, batch: bool) -> list[tuple]:
    """`simulator.estimate._tile_costs` in its straightforward per-tile form (the code before the per-shape memo:
    output channels counted one by one per group, the config-word table taken from the ISA), as field tuples."""
    from compiler.isa import ISA, MODULE_NAMES
    from compiler.lowering.weights import tile_chunk_size

    words = {MODULE_NAMES[m]: lay.words for m, lay in ISA.for_arch(arch).modules.items()}
    cv, fe, stages, pe, ns = arch.pe_array.c_vector, arch.feature_bytes, geo.stages, geo.pe, len(geo.stages)
    out = []
    cache = {0: None, 1: None}
    last_bank = 1
    for t in tp.tiles:
        nt = t.n1 - t.n0
        outs = [(t.rows[i + 1].size, t.cols[i + 1].size) if i + 1 < ns else (t.y1 - t.y0, t.x1 - t.x0)
                for i in range(ns)]
        psum_out, psum_in = tp.psum and not t.last_slice, tp.psum and not t.first_slice
        kt = t.k1 - t.k0
        runs = nt * (t.blk1 - t.blk0) * t.rows[0].size
        run = int(t.cols[0].size * cv * fe)
        read, payload = C.transfer_bytes(arch, runs, run), runs * run
        if geo.sb_in:
            read = payload = 0
        active = ["cfg", "sbuf", "pe", "fwrite"] + ([] if geo.sb_in else ["fread"])
        if geo.elt_stage >= 0 and not psum_out:
            e = geo.elt_stage
            c0, c1 = (0, stages[e].cin) if geo.whole_channels else (t.k0, t.k1)
            r2 = nt * (C.cdiv(c1, cv) - c0 // cv) * t.rows[e].size
            run2 = int(t.cols[e].size * cv * fe)
            read += C.transfer_bytes(arch, r2, run2)
            payload += r2 * run2
            if geo.sb_in:
                active.append("fread")
        elif psum_in:
            r2 = nt * (C.cdiv(t.k1, cv) - t.k0 // cv) * outs[0][0]
            run2 = outs[0][1] * cv * 4
            read += C.transfer_bytes(arch, r2, run2)
            payload += r2 * run2
        filt = 0.0
        if pe.kind != "bypass":
            key = t.chunk_key
            hit = any(cache[b] == key for b in (0, 1)) if batch else cache[last_bank] == key
            if hit:
                last_bank = next(b for b in (0, 1) if cache[b] == key) if batch else last_bank
            else:
                load = (1 - last_bank) if arch.filter_cache.double_buffered else 0
                filt = float(C.transfer_bytes(arch, 1, tile_chunk_size(arch, geo, t, bool(geo.bias))))
                cache[load] = key
                last_bank = load
                active.append("wread")
        oh, ow = outs[0]
        if pe.kind == "conv":
            kpg = max(1, geo.k_per_group)
            counts: dict[int, int] = {}
            for ko in range(t.k0, t.k1):
                counts[ko // kpg] = counts.get(ko // kpg, 0) + 1
            pe_cyc = C.conv_cycles(arch, n=nt, oh=oh, ow=ow, c_count=t.c_count, kh=pe.kh, kw=pe.kw, wino=geo.wino,
                                   filters_per_group=counts.values(), cols=geo.cols)
            items = C.conv_items(arch, n=nt, oh=oh, ow=ow, filters_per_group=counts.values(), cols=geo.cols)
            macs, fill = nt * kt * oh * ow * t.c_count * pe.kh * pe.kw, C.pipeline_fill(arch)
        elif pe.kind == "dw":
            pe_cyc = C.depthwise_cycles(arch, n=nt, k=kt, oh=oh, ow=ow, kh=pe.kh, kw=pe.kw, cols=geo.cols)
            items = C.depthwise_items(arch, n=nt, k=kt, oh=oh, ow=ow, cols=geo.cols)
            macs, fill = nt * kt * oh * ow * pe.kh * pe.kw, C.pipeline_fill(arch)
        else:
            pe_cyc = C.bypass_cycles(arch, n=nt, channels=kt, rows=t.rows[0].size, width=t.cols[0].size)
            macs, fill, items = 0, 1, 0
        aux: dict[str, int] = {}
        if not psum_out:
            shape = (nt, kt, oh, ow)
            for i, st in enumerate(stages[1:], start=1):
                kv = getattr(arch.aux, E._AUX[st.kind]).k_vector
                n_, c, h, w = shape
                aux[st.kind] = aux.get(st.kind, 0) + C.aux_cycles(arch, kv, n_, c, h, w)
                fill += C.aux_latency(arch, kv, c)
                active.append(st.kind)
                if st.kind == "pool":
                    pe_stream = (items, pe_cyc // max(1, C.accumulation_slots(arch, items)), (nt, kt, oh, ow))
                    fill += C.pool_fill(arch, pe_stream if items else None, shape,
                                        (st.kh, st.kw, st.sy, st.sx, st.pt, st.pl, *outs[i]))
                    shape = (n_, c, outs[i][0], outs[i][1])
                elif st.kind == "d2s":
                    b = st.block
                    shape = (n_, c, h * b, w * b) if st.mode == "nearest" else (n_, c // (b * b), h * b, w * b)
            if ns > 1:
                active.append("xbar")
        if psum_out:
            c_w, first, rows, width, eb = kt, 0, oh, ow, 4
        else:
            wc0, wc1 = (0, stages[-1].cout) if geo.whole_channels else (t.k0, t.k1)
            c_w, first, rows, width, eb = wc1 - wc0, (lane + wc0) % cv, t.y1 - t.y0, t.x1 - t.x0, fe
        wruns = nt * C.cdiv(first + c_w, cv) * rows
        wrun = int(width * cv * eb)
        wcyc = C.writer_cycles(arch, nt, first + c_w, rows, width)
        stream = max([pe_cyc, wcyc, *aux.values()])
        cfg = sum(words[m] for m in active) * arch.config_network.reader_bits / 8
        on_chip = geo.sb_out and not psum_out
        write = 0.0 if on_chip else float(C.transfer_bytes(arch, wruns, wrun))
        out.append((float(read), filt, write, cfg, stream, pe_cyc, fill, macs, C.multiplier_ops(arch, macs, geo.wino),
                    payload, 0 if on_chip else wruns * wrun, bool(psum_in), bool(psum_out), bool(geo.sb_in),
                    (t.k0, t.n0, t.y0, t.x0) if tp.psum else ()))
    return out


def _fields(tc: E.TileCost) -> tuple:
    return tuple(tc.__dict__.values())


@pytest.fixture(scope="module")
def net():
    return mixed_net()


def _archs(n: int, seed: int):
    base = load_arch("a10_generic")
    space = ArchSpace.default(base, precisions=("bfp16", "bfp11", "int8", "fp16"))
    ev = Evaluator(space, [mixed_net()])
    rng = np.random.default_rng(seed)
    out = [base, load_arch("tiny"), load_arch("dla_alexnet_a10")]
    while len(out) < n:
        a = ev.build(space.random(rng))
        if hasattr(a, "pe_array"):
            out.append(a)
    return out


@pytest.mark.parametrize("batch_size", [1, 3])
def test_tile_costs_equal_per_tile_reference(batch_size):
    g = mixed_net(batch_size)
    checked = 0
    for a in _archs(14, seed=batch_size):
        for level in (0, 2):
            for on_chip in (False, True):
                try:
                    _, plan, sched, geos, tps = E.plan_graph(g, a, level, on_chip)
                except Exception:           # a layer that does not tile on this candidate
                    continue
                for u in sched.units:
                    if u.kind != "group":
                        continue
                    for lane in (0, 3):
                        for reuse in (False, True):
                            got = [_fields(t) for t in E._tile_costs(a, geos[u.name], tps[u.name], lane, reuse)]
                            assert got == reference_tile_costs(a, geos[u.name], tps[u.name], lane, reuse), \
                                (a.name, level, on_chip, u.name, lane, reuse)
                            checked += 1
    assert checked > 200


def test_filter_counts_match_channel_by_channel():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        kpg = int(rng.integers(1, 40))
        k0 = int(rng.integers(0, 200))
        k1 = k0 + int(rng.integers(0, 120))
        counts: dict[int, int] = {}
        for k in range(k0, k1):
            counts[k // kpg] = counts.get(k // kpg, 0) + 1
        assert E._filter_counts(k0, k1, kpg) == tuple(counts.values())


def test_config_words_equal_isa():
    from compiler.isa import ISA, MODULE_NAMES

    for a in _archs(40, seed=7):
        want = {MODULE_NAMES[m]: lay.words for m, lay in ISA.for_arch(a).modules.items()}
        assert E._config_words(a) == want, a.model_dump_json()


def test_tile_tables_are_memoised_per_plan(net):
    a = load_arch("a10_generic")
    _, plan, sched, geos, tps = E.plan_graph(net, a, 2)
    name = next(u.name for u in sched.units if u.kind == "group")
    t1 = E._tile_table(geos[name], tps[name])
    assert E._tile_table(geos[name], tps[name]) is t1
    shapes, tiles = t1
    assert len(tiles) == len(tps[name].tiles) and len(shapes) <= len(tiles)
    assert all(t is tile for (_, _, _, t, _), tile in zip(tiles, tps[name].tiles))


def test_precisions_with_one_feature_width_share_a_plan(net):
    base = load_arch("a10_generic")
    archs = [base.with_changes(precision=p) for p in ("bfp16", "bfp11", "fp16")]
    assert len({planning_key(a) for a in archs}) == 1
    assert planning_key(base.with_changes(precision="int8")) != planning_key(archs[0])
    assert planning_key(base.with_changes(precision="fp32")) != planning_key(archs[0])
    cost = NetworkCost(net)
    for a in archs + [base.with_changes(precision="int8")]:
        assert cost.cycles(a) == pytest.approx(E.estimate(net, a, memo=False).cycles, rel=1e-12, abs=1e-9)
    assert cost.plans_made == 2
