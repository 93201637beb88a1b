"""Zero-Cost-PT on NB201 (issue 10 target: < 10 minutes per seed on CPU): accuracy of the selected cell over seeds,
search time per seed (wall and CPU), and the per-step correlation of op scores with op strength.

    .venv/bin/python bench/bench_zc_pt.py [--seeds 4] [--candidates 10] [--validate-rounds 10] [--batch-size 64]
    .venv/bin/python bench/bench_zc_pt.py --part bn [--seeds 4]     # cell-BN convention check (first step)

Each seed is a study in the trial store (`--store`, default out/bench_zc_pt.db; an interrupted run resumes).
The per-seed time is the sum over the candidates' evaluations on one core (`cpu s` is process CPU time, the
part a busy shared machine cannot inflate); the load average is printed with the results.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402


def main() -> int:
    from nas.data import nb201_table
    from nas.zc_pt.search import ZCPTSpec, run_zc_pt
    from nas.zc_pt.strength import op_scoring_correlation
    from scipy.stats import spearmanr

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--candidates", type=int, default=10)
    p.add_argument("--validate-rounds", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--store", default="out/bench_zc_pt.db")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--part", choices=("search", "bn"), default="search")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.part == "bn":
        return bn_check(a)
    Path(a.store).parent.mkdir(parents=True, exist_ok=True)
    spec = ZCPTSpec(candidates=a.candidates, validate_rounds=a.validate_rounds, batch_size=a.batch_size)
    study = f"zc-pt-N{a.candidates}-V{a.validate_rounds}-b{a.batch_size}"
    runs = run_zc_pt(spec, a.store, range(a.seed, a.seed + a.seeds), prefix=study, resume=True)
    acc = np.array([r.chosen["accuracy"] for r in runs])
    wall = np.array([r.seconds for r in runs])
    cpu = np.array([r.cpu_seconds for r in runs])
    print(f"Zero-Cost-PT on NB201: N={a.candidates}, V={a.validate_rounds}, batch {a.batch_size}, NASWOT, random edge "
          f"order; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'seed':>4} {'selected cell':<88} {'C10 %':>6} {'best cand':>9} {'rank':>5} {'rho(score,acc)':>14} "
          f"{'wall s':>7} {'cpu s':>6}")
    for r in runs:
        ca = np.array([c["accuracy"] for c in r.candidates])
        cs = np.array([c["score"] for c in r.candidates])
        rank = int((ca > r.chosen["accuracy"]).sum()) + 1
        rho = spearmanr(cs, ca).statistic if len(ca) > 2 else float("nan")
        print(f"{r.seed:>4} {r.chosen['arch']:<88} {r.chosen['accuracy']:6.2f} {ca.max():9.2f} {rank:>2}/{len(ca):<2} "
              f"{rho:14.2f} {r.seconds:7.0f} {r.cpu_seconds:6.0f}")
    all_acc = np.array([c["accuracy"] for r in runs for c in r.candidates])
    print(f"selected: {acc.mean():.2f} ± {acc.std():.2f} % (min {acc.min():.2f}, max {acc.max():.2f}); all "
          f"{len(all_acc)} candidates {all_acc.mean():.2f} ± {all_acc.std():.2f} %; NB201 optimum "
          f"{nb201_table().cifar10.max():.2f}, mean of the space {nb201_table().cifar10.mean():.2f}")
    print(f"search time per seed: {wall.mean():.0f} s wall (max {wall.max():.0f}), {cpu.mean():.0f} s CPU "
          f"(target < 600 s)")
    rows = op_scoring_correlation([c["trace"] for r in runs for c in r.candidates])
    print("per-step Spearman between op importance (-score) and op strength (mean/best C10 accuracy of the cells "
          "with that op on that edge; |cond = among cells matching the edges already fixed):")
    print(f"{'step':>4} {'n':>4} {'mean':>7} {'best':>7} {'mean|cond':>10} {'best|cond':>10}")
    for r in rows:
        print(f"{r['step']:>4} {r['n']:>4} {r['rho_mean']:7.3f} {r['rho_best']:7.3f} {r['rho_mean_cond']:10.3f} "
              f"{r['rho_best_cond']:10.3f}")
    avg = {k: np.nanmean([r[k] for r in rows]) for k in ("rho_mean", "rho_best", "rho_mean_cond", "rho_best_cond")}
    print("average over steps: " + ", ".join(f"{k[4:]} {v:.3f}" for k, v in avg.items()))
    return 0


def bn_check(a) -> int:
    """First perturbation step of every edge (all other edges undecided) under both cell-BN conventions: the
    Spearman between op importance (-score) and op strength, per edge, averaged over the seeds. The same
    minibatch (one per seed) serves both conventions."""
    import time

    from nas.proxies import cifar10_batch
    from nas.zc_pt.nb201_supernet import N_EDGES, N_OPS, NB201Supernet
    from nas.zc_pt.strength import op_scoring_correlation

    print(f"cell-BN convention check: first perturbation step on each of the {N_EDGES} edges, batch "
          f"{a.batch_size}, seeds {a.seed}..{a.seed + a.seeds - 1}; load average {os.getloadavg()[0]:.1f}")
    print(f"{'cell BN':<8} {'edge':>4} {'rho mean':>9} {'rho best':>9} {'chosen ops over seeds':<24} {'cpu s':>6}")
    for mode in ("batch", "running"):
        c0 = time.process_time()
        per_edge = {e: [] for e in range(N_EDGES)}
        for seed in range(a.seed, a.seed + a.seeds):
            net = NB201Supernet(seed=seed, cell_bn=mode)
            x = cifar10_batch(a.batch_size, seed=1000 + seed).inputs
            for e in range(N_EDGES):
                scores = []
                for o in range(N_OPS):
                    w = net.weights()
                    w[e, o] = 0.0
                    scores.append(net.naswot(x, w))
                per_edge[e].append([e, int(np.nanargmin(scores)), *scores])
        cpu = time.process_time() - c0
        all_rho = {"mean": [], "best": []}
        for e in range(N_EDGES):
            r = op_scoring_correlation([[t] for t in per_edge[e]])[0]
            all_rho["mean"].append(r["rho_mean"])
            all_rho["best"].append(r["rho_best"])
            chosen = ",".join(str(t[1]) for t in per_edge[e])
            print(f"{mode:<8} {e:>4} {r['rho_mean']:9.3f} {r['rho_best']:9.3f} {chosen:<24} "
                  f"{cpu if e == N_EDGES - 1 else float('nan'):6.0f}")
        print(f"{mode:<8} {'all':>4} {np.nanmean(all_rho['mean']):9.3f} {np.nanmean(all_rho['best']):9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
