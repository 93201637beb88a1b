"""A toy study: a cheap two-objective function over a small mixed space, for tests, benchmarks and docs.

    python -m nas.runtime.toy --store out/toy.db --study rs-0 --trials 500 --workers 2
    python -m nas.runtime.toy --store out/toy.db --study rs-0 --trials 500 --resume   # after a crash

The objective is deterministic given (candidate, seed): `loss` is log(1 + a Rosenbrock-like value) plus seeded noise,
`cost` grows with `width`; a slow mode (`sleep_ms`, `spin`) makes evaluations take time, and `fail_act` makes
candidates with that activation fail.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from nas.runtime.options import RuntimeOptions, add_runtime_arguments
from nas.runtime.strategy import Choice, FloatRange, IntRange, MutationSearch, RandomSearch, Strategy
from nas.runtime.study import run_study

TOY_SPACE = {
    "x": FloatRange(-2.0, 2.0),
    "y": FloatRange(-1.0, 3.0),
    "width": IntRange(1, 16),
    "act": Choice(("relu", "tanh", "gelu")),
}
TOY_OBJECTIVES = {"loss": "min", "cost": "min"}
_ACT_PENALTY = {"relu": 0.0, "tanh": 0.3, "gelu": 0.1}


def spin(n: int) -> int:
    """Fixed CPU work in pure Python (no BLAS threads): n loop iterations."""
    acc = 0
    for i in range(n):
        acc = (acc + i * i) % 1000003
    return acc


@dataclass(frozen=True)
class ToyObjective:
    """objective(candidate, seed) -> {"loss", "cost"}; module-level and picklable, so every executor can run it."""

    sleep_ms: float = 0.0
    spin: int = 0
    fail_act: str | None = None

    def __call__(self, config: dict[str, Any], seed: int) -> dict[str, float]:
        if self.sleep_ms:
            time.sleep(self.sleep_ms / 1000)
        if self.spin:
            spin(self.spin)
        if config["act"] == self.fail_act:
            raise ValueError(f"activation {config['act']} is not supported by this toy device")
        x, y = config["x"], config["y"]
        noise = np.random.default_rng(seed).normal(0.0, 0.01)
        loss = math.log1p((1 - x) ** 2 + 10 * (y - x * x) ** 2 / config["width"]) + _ACT_PENALTY[config["act"]] + noise
        cost = config["width"] * (1.5 if config["act"] == "gelu" else 1.0)
        return {"loss": float(loss), "cost": float(cost)}


def toy_strategy(kind: str, batch_size: int | None = None) -> Strategy:
    if kind == "random":
        return RandomSearch(TOY_SPACE, batch_size=batch_size or 64)
    return MutationSearch(TOY_SPACE, metric="loss", direction="min", n_random=8, batch_size=batch_size or 4)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m nas.runtime.toy", description=__doc__.split("\n")[0])
    add_runtime_arguments(p, default_study="toy")
    p.add_argument("--trials", type=int, default=200)
    p.add_argument("--strategy", choices=("random", "mutation"), default="random")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--sleep-ms", type=float, default=0.0, help="make every evaluation sleep this long")
    p.add_argument("--spin", type=int, default=0, help="make every evaluation do this much CPU work")
    p.add_argument("--fail-act", default=None, help="candidates with this activation fail")
    args = p.parse_args(argv)
    opts = RuntimeOptions.from_args(args)
    objective = ToyObjective(args.sleep_ms, args.spin, args.fail_act)
    with opts.executor() as ex:
        result = run_study(opts.store, opts.study, toy_strategy(args.strategy, args.batch_size), objective,
                           n_trials=args.trials, objectives=TOY_OBJECTIVES, seed=opts.seed,
                           config={"toy": {"sleep_ms": args.sleep_ms, "spin": args.spin, "fail_act": args.fail_act}},
                           executor=ex, resume=opts.resume, quiet=opts.quiet)
    best = result.best()
    print(f"study {opts.study}: {len(result.trials)} trials ({result.evaluated} evaluated now, {result.replayed} "
          f"replayed); best loss {best.metrics['loss']:.4f} at trial {best.index}" if best else "no complete trial")
    return 0


if __name__ == "__main__":
    from compiler.errors import UserError
    from nas.runtime import toy  # run the importable module, so the objective is nas.runtime.toy.ToyObjective
    try:
        sys.exit(toy.main())
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
