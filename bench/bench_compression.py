"""Benchmark: one REINFORCE rank search of 200 episodes on the FSDD LSTM (target: under 15 minutes on 2 cores),
by default with the simulated overlay latency as the cost (`--cost size` for the parameter count).

Prints a table: seed-model preparation (train or cache load), environment setup (SVDs), the search itself with
its per-episode time, the best feasible pick, and the machine load average (the machine is shared; read times
against the load). Usage: `.venv/bin/python bench/bench_compression.py [--episodes 200] [--target 5]`.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas.compression.cost import make_cost  # noqa: E402
from nas.compression.search import RankEnv, RewardConfig, rl_search  # noqa: E402
from workloads.speech.data import load_fsdd  # noqa: E402
from workloads.speech.pretrained import trained_model  # noqa: E402
from workloads.speech.train import evaluate  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--cost", choices=["overlay", "size"], default="overlay",
                    help="reward cost: simulated overlay latency on a10_generic, or parameters")
    ap.add_argument("--target", type=float, default=3.0, help="speed-up (overlay) or compression (size) target")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    ap.add_argument("--asr", action="store_true",
                    help="also the latency study of the zoo's asr_attention under uniform low-rank factorisation")
    args = ap.parse_args()
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    rows = []
    t = time.perf_counter()
    model = trained_model()
    rows.append(("seed model (train or cached)", time.perf_counter() - t, f"{model.n_params():,} params"))
    t = time.perf_counter()
    quick = load_fsdd("val")
    env = RankEnv(model, quick, make_cost(args.cost))
    rows.append(("env setup (features, SVDs, dense cost)", time.perf_counter() - t,
                 f"quick-eval {evaluate(model, quick):.1f} %, cost {args.cost}"))
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        res = rl_search(env, RewardConfig(args.target), episodes=args.episodes, store=Path(tmp) / "b.db")
        dt = time.perf_counter() - t
    pick = res.best_or_greedy()
    rows.append((f"RL search, {args.episodes} episodes", dt, f"{1e3 * dt / args.episodes:.0f} ms/episode"))
    rows.append(("best pick", 0.0, f"{pick.ratio:.2f}x {args.cost} ratio, {pick.compression:.2f}x params, "
                                   f"quick-eval {pick.accuracy:.1f} %"))
    load = os.getloadavg()
    print(f"{'step':34} {'seconds':>9}  note")
    for name, sec, note in rows:
        print(f"{name:34} {sec:9.1f}  {note}")
    import torch
    print(f"target: search under 900 s on 2 cores -> {'met' if dt < 900 else 'NOT met'} ({dt:.0f} s); "
          f"torch threads {torch.get_num_threads()}; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    if args.asr:
        from hw_models.arch import load_arch
        from nas.compression.ir_factorise import zoo_latency_study

        t = time.perf_counter()
        rows = zoo_latency_study("asr_attention", (0.5, 0.25, 0.125, 0.0625), load_arch("a10_generic"))
        print(f"\nasr_attention on a10_generic (input and linear matrices factorised, recurrent dense; "
              f"{time.perf_counter() - t:.0f} s)")
        print(f"{'fraction':>8} {'matrices':>8} {'param compr':>11} {'latency ms':>10} {'speed-up':>8}")
        for r in rows:
            print(f"{r['fraction']:8.4f} {r['factorised']:8d} {r['compression']:11.2f} {1e3 * r['latency_s']:10.2f} "
                  f"{r['speedup']:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
