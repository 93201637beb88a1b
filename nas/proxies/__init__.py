"""Zero-cost proxies: network proxies in `zero_cost` (any torch network), NB201 helpers here, the three-proxy
vote in `vote`, the resumable batch job in `batch`, correlation reports in `report`.
"""
from __future__ import annotations

import math
from typing import Sequence

from nas.proxies.zero_cost import NETWORK_PROXIES, Batch, ProxyError, check_names, cifar10_batch, score_network

PROXIES = NETWORK_PROXIES + ("params", "flops")
# the proxies the ICLR 2021 paper reports, plus the two baselines and NASWOT
REPORTED = ("grad_norm", "snip", "grasp", "fisher", "jacob_cov", "synflow", "naswot", "params", "flops")

__all__ = ["PROXIES", "REPORTED", "NETWORK_PROXIES", "Batch", "ProxyError", "cifar10_batch", "score_network",
           "nb201_proxies", "nb201_params", "nb201_flops"]


# proxies that are finite for every NB201 cell unless a gradient overflows (jacob_cov is NaN and naswot -inf for
# disconnected or degenerate cells)
_ALWAYS_FINITE = ("grad_norm", "snip", "grasp", "fisher", "plain")


def nb201_params(arch) -> int:
    """Trainable parameters of the NB201 benchmark network (equals NASLib's `params` score x 1e6).

    Counted on the unpruned IR: every constant except BN running statistics (half of each BN's constants) and
    the scalar zero of each `none` edge; equal to the torch module's `parameters()` count (tested)."""
    from nas.spaces.nb201 import build_ir

    g = build_ir(arch, prune=False)
    total = g.totals().params
    for n in g.nodes:
        if n.op == "BatchNormalization":
            total -= 2 * g.tensors[n.inputs[0]].shape[1]
        elif n.op == "Mul":
            total -= 1
    return total


def nb201_flops(arch) -> int:
    """Multiply-accumulates of the NB201 benchmark network for one 32x32 image, every edge counted (the
    unpruned IR, like module-hook counters; see docs/nas.md for the relation to NB201's own `flops`)."""
    from nas.spaces.nb201 import build_ir

    return build_ir(arch, prune=False).totals().macs


def nb201_proxies(arch, names: Sequence[str] = PROXIES, *, seed: int | None = None,
                  batch: Batch | None = None, C: int = 16, N: int = 5) -> dict[str, float]:
    """Proxies of one NB201 cell in the CIFAR-10 network (C=16, N=5, 10 classes), zero-cost-nas conventions.

    `C`/`N` change the network size of the network proxies (params and flops always describe the benchmark
    network); smaller networks are for tests.

    The network is initialised from `torch.Generator().manual_seed(seed)`, by default the cell's NB201 index;
    `batch` defaults to `cifar10_batch(64, seed=0)`, the same minibatch for every cell.

    The network is built and initialised once; synflow's BN-off copy takes its weights, the average pools
    run through `fast_pooling` and the main network's `none` edges are skipped (`skip_zero_edges`; same values,
    less CPU time). Should a gradient proxy come out non-finite (never seen in NB201: only jacob_cov and naswot
    are, for disconnected or degenerate cells), the network proxies are recomputed without the skipping.
    """
    from nas.proxies.zero_cost import fast_pooling, skip_zero_edges
    from nas.spaces import nb201
    from nas.spaces.nb201_torch import make_network

    names = check_names(names, PROXIES)
    ops = nb201.as_ops(arch)
    seed = nb201.to_index(ops) if seed is None else seed
    out: dict[str, float] = {}
    net_names = [n for n in names if n in NETWORK_PROXIES]
    if net_names == ["synflow"]:
        # BN owns no randomness, so the BN-off network built from the same seed has the same weights
        from nas.proxies.zero_cost import synflow_score

        syn = make_network(ops, seed=seed, C=C, N=N, convention="zc", bn=False)
        fast_pooling(syn)
        out["synflow"] = synflow_score(syn, (3, 32, 32))
    elif net_names:
        batch = cifar10_batch(64, seed=0) if batch is None else batch
        net = make_network(ops, seed=seed, C=C, N=N, convention="zc")
        syn = _bn_off_like(net, ops, C, N) if "synflow" in net_names else None
        for m in (net, syn):
            if m is not None:
                fast_pooling(m)
        skipped = skip_zero_edges(net)
        out.update(score_network(net, batch, net_names, synflow_net=syn))
        redo = [n for n in net_names if n != "synflow"]
        if skipped and not all(math.isfinite(out[n]) for n in redo if n in _ALWAYS_FINITE):
            # a gradient overflowed somewhere: recompute exactly as the reference does (x * 0 on every none
            # edge), since inf * 0 is NaN there but a skipped edge passes nothing
            skip_zero_edges(net, on=False)
            out.update(score_network(net, batch, redo))
    if "params" in names:
        out["params"] = float(nb201_params(ops))
    if "flops" in names:
        out["flops"] = float(nb201_flops(ops))
    return {n: out[n] for n in names}


def _bn_off_like(net, ops, C: int, N: int):
    """The BN-off network (`make_network(..., bn=False)`) holding copies of `net`'s weights, without drawing
    them again: the same values, since BatchNorm owns no randomness (tested)."""
    import torch

    from nas.spaces.nb201_torch import NB201Network

    with torch.device("meta"):
        syn = NB201Network(ops, C=C, N=N, convention="zc", bn=False)
    syn = syn.to_empty(device="cpu")
    missing, _unexpected = syn.load_state_dict(net.state_dict(), strict=False)
    if missing:  # every tensor of the copy must come from `net` (to_empty leaves memory uninitialised)
        raise RuntimeError(f"BN-off copy lacks weights for {missing[:3]}")
    return syn
