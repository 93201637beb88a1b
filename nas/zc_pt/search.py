"""Zero-Cost-PT (Xiang et al., arXiv:2106.06799): perturbation-based operation selection on an untrained
supernet, scored with a zero-cost proxy (NASWOT), on NB201 as a study of `nas.runtime`.

Algorithm (released `nasbench201/init_projection.py: pt_project` and `zerocostnas/post_validate.py`):
1. build the supernet at initialisation (no training);
2. make `candidates` architectures; for each, visit the six edges in `edge_order` (random by default); on the
   visited edge, remove each op in turn (its weight set to 0, the others unchanged), score the supernet on one
   minibatch, and fix the edge to the op whose removal gives the lowest score (the op whose loss hurts most);
3. post-validation: score every candidate (the supernet with one op per edge) on `validate_rounds`
   minibatches, the same batches for every candidate, and select the highest total.

On the runtime: one study per seed; trial k makes and post-validates candidate k (`ZCPTObjective`), so the
candidates are independent trials that `--workers` evaluates in parallel and `--resume` continues; the
selection is the trial with the highest `score`. Each trial's metrics hold the chosen cell, its benchmark
accuracy and latency, its wall and CPU seconds and the perturbation trace (edge, chosen op, five scores per
step) from which `op_scoring_correlation` measures how well the scores rank ops by strength.

Defaults for a CPU (docs/zc_pt.md): minibatches of 64 real CIFAR-10 training images (from the 400-image sample,
with the training augmentation) instead of 256, and V = 10 post-validation rounds instead of 100;
`--batch-size 256 --validate-rounds 100` runs the published setting.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from compiler.errors import UserError
from nas.runtime import Strategy

EDGE_ORDERS = ("random", "order", "reverse")


@dataclass(frozen=True)
class ZCPTSpec:
    """One Zero-Cost-PT configuration on NB201 (everything but the seed)."""

    candidates: int = 10          # N, the reference's --pool_size
    validate_rounds: int = 10     # V, the reference's --validate_rounds (100 in its scripts)
    batch_size: int = 64          # minibatch (256 in the reference scripts)
    edge_order: str = "random"
    C: int = 16
    N: int = 5                    # cells per stage
    dataset: str = "cifar10"      # benchmark accuracy reported for the chosen cell
    latency: str = "overlay"      # latency source reported for the chosen cell

    def check(self) -> "ZCPTSpec":
        from nas.predictors.latency import search_latency
        from nas.strategies.space import DATASETS

        if self.candidates < 1 or self.validate_rounds < 1:
            raise UserError(f"--candidates {self.candidates} / --validate-rounds {self.validate_rounds}: give 1 or "
                            "more")
        if not 2 <= self.batch_size <= 400:
            raise UserError(f"--batch-size {self.batch_size}: give 2..400 (the CIFAR-10 sample has 400 training "
                            "images)")
        if self.edge_order not in EDGE_ORDERS:
            raise UserError(f"--edge-order {self.edge_order}: choose one of {', '.join(EDGE_ORDERS)}")
        if self.C < 1 or self.N < 1:
            raise UserError(f"supernet C={self.C}, N={self.N}: both must be >= 1")
        if self.dataset not in DATASETS:
            raise UserError(f"unknown dataset '{self.dataset}'; choose one of {', '.join(DATASETS)}")
        search_latency(self.latency)
        return self


@lru_cache(maxsize=4)
def supernet(C: int, N: int, seed: int):
    from nas.zc_pt.nb201_supernet import NB201Supernet

    return NB201Supernet(C=C, N=N, seed=seed)


def _batch(batch_size: int, seed: int):
    from nas.proxies import cifar10_batch

    return cifar10_batch(batch_size, seed=seed).inputs


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2 ** 62))


def discretise(net, spec: ZCPTSpec, rng: np.random.Generator) -> tuple[tuple[int, ...], list[dict[str, Any]]]:
    """One candidate: the op chosen on every edge and the trace of the perturbation steps."""
    from nas.zc_pt.nb201_supernet import N_EDGES, N_OPS

    projected = [-1] * N_EDGES
    if spec.edge_order == "random":
        order = [int(e) for e in rng.permutation(N_EDGES)]
    else:
        order = list(range(N_EDGES))[::-1 if spec.edge_order == "reverse" else 1]
    trace = []
    for step, e in enumerate(order):
        x = _batch(spec.batch_size, _seed(rng))
        scores = []
        for o in range(N_OPS):
            w = net.weights(projected)
            w[e, o] = 0.0
            scores.append(net.naswot(x, w))
        arr = np.array(scores, dtype=np.float64)
        chosen = int(np.nanargmin(arr)) if not np.isnan(arr).all() else int(rng.integers(N_OPS))
        trace.append({"step": step + 1, "edge": e, "before": list(projected), "scores": scores, "chosen": chosen})
        projected[e] = chosen
    return tuple(projected), trace


def post_validate(net, ops: Sequence[int], spec: ZCPTSpec, supernet_seed: int) -> float:
    """Sum of the discretised supernet's NASWOT scores over the V post-validation batches (the same batches for
    every candidate of a study: they derive from the supernet seed)."""
    rng = np.random.default_rng([supernet_seed, 1])
    w = net.weights(list(ops))
    return float(sum(net.naswot(_batch(spec.batch_size, _seed(rng)), w) for _ in range(spec.validate_rounds)))


@dataclass(frozen=True)
class ZCPTObjective:
    """Makes and post-validates one candidate; module-level so process pools can pickle it."""

    spec: ZCPTSpec

    def __call__(self, candidate: dict[str, Any], seed: int) -> dict[str, Any]:
        from nas.data import nb201_table
        from nas.spaces import nb201
        from nas.predictors.latency import search_latency

        t0, c0 = time.perf_counter(), time.process_time()
        s = int(candidate["supernet_seed"])
        net = supernet(self.spec.C, self.spec.N, s)
        ops, trace = discretise(net, self.spec, np.random.default_rng(seed))
        t1 = time.perf_counter()
        score = post_validate(net, ops, self.spec, s)
        i = nb201.to_index(ops)
        return {"score": score, "accuracy": float(nb201_table().accuracy(self.spec.dataset)[i]),
                "latency_ms": float(search_latency(self.spec.latency)[i]), "arch": nb201.to_str(ops), "index": i,
                "discretise_seconds": t1 - t0, "seconds": time.perf_counter() - t0,
                "cpu_seconds": time.process_time() - c0,
                "trace": [[t["edge"], t["chosen"], *t["scores"]] for t in trace]}


class CandidatePool(Strategy):
    """Asks for candidates 0..n-1 of one supernet; nothing depends on what it is told (candidates are
    independent), so a resumed study never replays."""

    name = "zc-pt"

    def __init__(self, n: int, supernet_seed: int, batch_size: int = 1):
        self.n, self.supernet_seed, self.batch_size = n, supernet_seed, batch_size

    def ask(self, index: int, rng: np.random.Generator) -> dict[str, Any] | None:
        return {"candidate": index, "supernet_seed": self.supernet_seed} if index < self.n else None

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"candidates": self.n, "supernet_seed": self.supernet_seed}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Any) -> None:
        return None


@dataclass(frozen=True)
class ZCPTRun:
    """One seed's result: the selected candidate and every candidate (trial metrics)."""

    seed: int
    chosen: dict[str, Any]
    candidates: list[dict[str, Any]]
    seconds: float            # sum over candidates (one core, sequential)
    cpu_seconds: float


def run_zc_pt(spec: ZCPTSpec, store, seeds: Sequence[int], *, prefix: str = "zc-pt", executor=None,
              resume: bool = False, quiet: bool = True) -> list[ZCPTRun]:
    """One study per seed (`<prefix>-s<seed>`, the supernet initialised from the seed) in the trial store."""
    from pathlib import Path

    from nas.runtime import TrialStore, run_study

    spec.check()
    own = not isinstance(store, TrialStore)
    st = TrialStore(Path(store)) if own else store
    out = []
    try:
        for seed in seeds:
            strategy = CandidatePool(spec.candidates, int(seed), batch_size=spec.candidates)
            result = run_study(st, f"{prefix}-s{int(seed)}", strategy, ZCPTObjective(spec), n_trials=spec.candidates,
                               objectives={"score": "max", "accuracy": "max"}, seed=int(seed),
                               config=asdict(spec), executor=executor, resume=resume, quiet=quiet,
                               checkpoint_seconds=0.0)
            done = [t.metrics for t in result.trials if t.metrics]
            if not done:
                raise UserError(f"zc-pt seed {seed}: every candidate failed; first error: "
                                f"{next((t.error for t in result.trials if t.error), '?')}")
            best = max(done, key=lambda m: (m["score"] if math.isfinite(m["score"]) else -math.inf))
            out.append(ZCPTRun(int(seed), best, done, float(sum(m["seconds"] for m in done)),
                               float(sum(m["cpu_seconds"] for m in done))))
    finally:
        if own:
            st.close()
    return out
