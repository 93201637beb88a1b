"""Search curves on NB201 (CIFAR-10 test accuracy as oracle): random search, regularised evolution and REINFORCE,
each without and with zero-cost warm-up / move proposal, over many seeds; plus latency-constrained searches.

    .venv/bin/python bench/bench_nas_search.py [--seeds 20] [--budget 100] [--proxy synflow]
        [--plot docs/img/nas_search_curves.png] [--store out/bench_nas_search.db]

Prints best accuracy found (mean ± std over seeds) after 10/20/50/100 trained models for every variant, the
constrained variants next to the best feasible accuracy, and writes the curves as a plot. Every study is stored
in the runtime's trial store (one study per variant and seed).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas.strategies.run import (SearchSpec, curve_milestones, feasible_optimum, format_curve_table,  # noqa: E402
                                format_milestones, run_searches)
from nas.strategies.scores import ProxyScorer  # noqa: E402


def repeat_share(store: str, prefix: str, seeds) -> float:
    """Mean share of a study's trials that re-propose a cell it already trained (each still counts as one
    trained model, as a benchmark query does)."""
    from nas.runtime import TrialStore
    from nas.strategies.run import study_name

    shares = []
    with TrialStore(store, readonly=True) as st:
        for seed in seeds:
            idx = [t.config["index"] for t in st.trials(st.study(study_name(prefix, seed)))]
            shares.append(1 - len(set(idx)) / len(idx))
    return sum(shares) / len(shares)


def variants(proxy: str, budget: int) -> dict[str, SearchSpec]:
    out = {"rs": SearchSpec("rs", budget=budget), f"rs +warmup": SearchSpec("rs", budget=budget, warmup=proxy)}
    for s in ("ae", "rl"):
        out[s] = SearchSpec(s, budget=budget)
        out[f"{s} +warmup"] = SearchSpec(s, budget=budget, warmup=proxy)
        out[f"{s} +move"] = SearchSpec(s, budget=budget, move=proxy)
        out[f"{s} +warmup +move"] = SearchSpec(s, budget=budget, warmup=proxy, move=proxy)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--budget", type=int, default=100)
    p.add_argument("--proxy", default="synflow")
    p.add_argument("--latency-max", type=float, nargs="*", default=[3.0], help="fpga latency limits (ms)")
    p.add_argument("--overlay-table", default="nas/data/nb201_overlay_a10_generic.csv",
                   help="overlay latency table for the constrained runs, if present")
    p.add_argument("--overlay-max", type=float, nargs="*", default=[0.6], help="overlay latency limits (ms)")
    p.add_argument("--plot", default=None, help="figure file for the unconstrained curves")
    p.add_argument("--store", default=None, help="trial store (default: a temporary file)")
    a = p.parse_args()
    scorer = ProxyScorer(a.proxy, compute_missing=False)
    cov = scorer.coverage()
    if cov < 1.0:
        print(f"warning: '{a.proxy}' is precomputed for {100 * cov:.1f} % of NB201; missing cells are scored on "
              "demand (slow)", file=sys.stderr)
        scorer = ProxyScorer(a.proxy)
    tmp = tempfile.TemporaryDirectory()
    store = a.store or str(Path(tmp.name) / "search.db")
    seeds = range(a.seeds)
    t0 = time.perf_counter()
    curves = {}
    for label, spec in variants(a.proxy, a.budget).items():
        runs = run_searches(spec, store, seeds, prefix=label.replace(" ", "_"), scorer=scorer, resume=True)
        curves[label] = list(runs.values())
    budgets = [n for n in (10, 20, 50, 100, 200, 300) if n <= a.budget]
    print(f"NB201 CIFAR-10, {a.seeds} seeds, budget {a.budget} trained models, proxy {a.proxy}, warm-up pool 3000, "
          f"load average {os.getloadavg()[0]:.1f}")
    opt = feasible_optimum(SearchSpec())
    print(format_curve_table(curves, budgets, opt))
    print("\ntrained models until the mean best accuracy reaches a target (>B: not within the budget), and the "
          "share of seeds that found the best cell:")
    print(format_milestones(curve_milestones(curves, [93.5, 94.0, 94.2, 94.3], opt), opt))
    print("\nshare of trials that re-propose a cell the study already trained:")
    for label in curves:
        print(f"  {label:<20} {100 * repeat_share(store, label.replace(' ', '_'), seeds):5.1f} %")
    constrained = {}
    limits = [("fpga", m) for m in a.latency_max]
    if Path(a.overlay_table).is_file():
        limits += [(a.overlay_table, m) for m in a.overlay_max]
    for source, limit in limits:
        for s in ("rs", "ae"):
            for guided in (False, True):
                spec = SearchSpec(s, budget=a.budget, latency=source, latency_max=limit,
                                  warmup=a.proxy if guided else None, move=a.proxy if guided and s != "rs" else None)
                name = f"{s}{' +zc' if guided else ''} {Path(source).stem}<={limit:g}ms"
                runs = run_searches(spec, store, seeds, prefix=name.replace(" ", "_").replace("<=", "le"),
                                    scorer=scorer, resume=True)
                constrained[name] = (list(runs.values()), feasible_optimum(spec),
                                     repeat_share(store, name.replace(" ", "_").replace("<=", "le"), seeds))
    if constrained:
        import numpy as np
        from scipy.stats import spearmanr

        from nas.data import nb201_table
        from nas.strategies.space import latency_source

        acc, score = nb201_table().cifar10, scorer.table
        print(f"\n{a.proxy} among the cells a search may propose (Spearman with CIFAR-10 accuracy; accuracy of "
              f"the 20 best-scored cells, which the warm-up starts from):")
        for source, limit in [(None, None)] + limits:
            ok = np.ones(len(acc), bool) if source is None else latency_source(source) <= limit
            top = np.argsort(-np.where(ok, score, -np.inf))[:20]
            name = "all cells" if source is None else f"{Path(source).stem}<={limit:g}ms"
            print(f"  {name:<40} {ok.sum():6d} cells  rho {spearmanr(score[ok], acc[ok]).statistic:.3f}  "
                  f"top-20 mean {acc[top].mean():.2f} max {acc[top].max():.2f} (best feasible {acc[ok].max():.2f})")
        print("\nlatency-constrained (only cells within the limit are proposed):")
        print(format_curve_table({k: v[0] for k, v in constrained.items()}, budgets))
        for k, (runs, best, rep) in constrained.items():
            m = curve_milestones({k: runs}, [best - 0.5], best)[0]
            print(f"  {k}: best feasible accuracy {best:.2f}; {100 * m['found_optimum']:.0f} % of seeds found it; "
                  f"mean within 0.5 of it after {m['reach'][best - 0.5] or '>' + str(m['budget'])} trained models; "
                  f"{100 * rep:.0f} % of trials repeat a trained cell")
    print(f"\n{time.perf_counter() - t0:.0f} s for all studies (store {store})")
    if a.plot:
        from nas.runtime.plots import plot_search_curves, save_figure

        fig = plot_search_curves(curves, metric="CIFAR-10 test accuracy (%)", direction="max",
                                 title=f"NB201 search curves, mean ± std over {a.seeds} seeds ({a.proxy} guidance)")
        fig.axes[0].set_ylim(92.0, 94.5)
        save_figure(fig, a.plot)
        print(f"wrote {a.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
