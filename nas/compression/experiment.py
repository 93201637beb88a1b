"""The compression study end to end: baselines, one-shot RL, iterative RL, a JSON report and plots.

`run_compression` is what `ovl search compress` calls. Every accuracy in the report is on the split's **test**
part unless named `quick` (the val quick-evaluation subset the searches optimise); every ratio is against the
dense seed model under the chosen cost model ("compression" is always the parameter ratio).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from nas.compression.agent import AgentConfig
from nas.compression.cost import CostModel
from nas.compression.search import (RankEnv, RewardConfig, Round, Trial, hand_picked, iterative, rl_search,
                                    uniform_sweep)
from nas.runtime.plots import save_figure
from workloads.speech.data import SpeechData
from workloads.speech.model import SpeechModel, TrainConfig
from workloads.speech.train import evaluate, train


@dataclass
class Point:
    method: str
    ranks: dict
    ratio: float
    compression: float
    quick: float
    test: float
    finetuned_test: float | None = None
    speedup: float | None = None          # overlay estimate: dense latency / this latency (both in the cost's form)
    latency_s: float | None = None        # overlay estimate of this model
    cycle_speedup: float | None = None    # compiled + cycle-simulated, for the picks only: vs the native dense LSTM
    cycle_latency_s: float | None = None


@dataclass
class CompressionReport:
    cost: str
    target: float
    dense_quick: float
    dense_test: float
    dense_params: int
    dense_latency_s: float | None = None
    dense_cycle: dict | None = None           # dense model, unrolled form (for reference)
    dense_cycle_native: dict | None = None    # dense model as ONNX LSTM nodes (the baseline of cycle_speedup)
    points: list[Point] = field(default_factory=list)
    rl_trials: list[dict] = field(default_factory=list)
    rounds: list[dict] = field(default_factory=list)
    seconds: dict = field(default_factory=dict)
    code_version: str = ""
    trials_recosted: bool = False             # re-costed: rl_trials' ratios are the search-time cost's, not plotted

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _point(method: str, env: RankEnv, t: Trial, test: SpeechData) -> Point:
    return Point(method, dict(t.ranks), t.ratio, t.compression, t.accuracy, evaluate(env.model(t.ranks), test))


def run_compression(seed: SpeechModel, train_data: SpeechData, quick: SpeechData, test: SpeechData,
                    cost: CostModel, *, target: float, episodes: int = 200, rounds: int = 0,
                    round_episodes: int = 100, finetune: TrainConfig = TrainConfig(epochs=8, lr=1e-3),
                    finetune_baselines: bool = True, agent: AgentConfig = AgentConfig(), store: str | Path | None = None,
                    study: str = "compress", run_seed: int = 0, resume: bool = False,
                    quiet: bool = True, overlay: CostModel | None = None, arch: Any = None,
                    cycle_picks: bool = True) -> CompressionReport:
    """Uniform and energy (hand-picked) baselines, one RL search at `target`, then `rounds` iterative rounds whose
    cumulative targets grow geometrically up to `target` (0: no iterative run). Baselines and the RL pick are
    fine-tuned like an iterative round when `finetune_baselines`.

    overlay: a latency cost model used to put an overlay speed-up next to every point (the search cost itself
    when that is a latency cost); with `arch` and `cycle_picks`, the picks (RL, iterative rounds, the
    equal-speed-up uniform point) are also compiled with their weights and cycle-simulated.
    """
    t0 = time.perf_counter()
    rep = CompressionReport(cost.name, target, evaluate(seed, quick), evaluate(seed, test), seed.n_params())
    env = RankEnv(seed, quick, cost)
    rc = RewardConfig(target)

    def finetuned(ranks: dict, k: int) -> float | None:
        if not finetune_baselines:
            return None
        m = env.model(ranks)
        train(m, train_data, TrainConfig(**{**asdict(finetune), "seed": finetune.seed + 100 + k, "log": []}),
              set_normalisation=False)
        return evaluate(m, test)

    for t in uniform_sweep(env, rc):
        rep.points.append(_point("uniform", env, t, test))
    for t in hand_picked(env, rc):
        rep.points.append(_point("energy", env, t, test))
    rep.seconds["baselines"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    res = rl_search(env, rc, episodes=episodes, agent=agent, store=store, study=f"{study}-oneshot", seed=run_seed,
                    resume=resume, quiet=quiet, config={"target": target, "cost": cost.name})
    rep.seconds["rl_search"] = time.perf_counter() - t1
    rep.rl_trials = [{"ratio": t.ratio, "quick": t.accuracy, "compression": t.compression, "reward": t.reward}
                     for t in res.trials]
    pick = res.best_or_greedy()
    rep.points.append(_point("rl-oneshot", env, pick, test))
    if finetune_baselines:
        t2 = time.perf_counter()
        rep.points[-1].finetuned_test = finetuned(pick.ranks, 0)
        finetune_brackets(rep, env, train_data, test, finetune)
        rep.seconds["finetune_baselines"] = time.perf_counter() - t2
    if rounds > 0:
        t3 = time.perf_counter()
        targets = geometric_targets(target, rounds)
        rs: list[Round] = iterative(seed, train_data, quick, test, cost, targets=targets, episodes=round_episodes,
                                    finetune=finetune, agent=agent, store=store, study=f"{study}-iter",
                                    run_seed=run_seed, resume=resume, quiet=quiet)
        rep.rounds = [asdict(r) for r in rs]
        for r in rs:
            rep.points.append(Point(f"rl-iterative-{r.index}", r.ranks, r.ratio, r.compression, r.val_accuracy,
                                    r.test_accuracy, r.test_accuracy))
        rep.seconds["iterative"] = time.perf_counter() - t3
    t4 = time.perf_counter()
    annotate_overlay(rep, seed, overlay if overlay is not None else (cost if cost.unit == "s" else None),
                     arch if cycle_picks else None)
    rep.seconds["overlay_costing"] = time.perf_counter() - t4
    rep.seconds["total"] = time.perf_counter() - t0
    return rep


def finetune_brackets(rep: CompressionReport, env: RankEnv, train_data: SpeechData, test: SpeechData,
                      finetune: TrainConfig) -> None:
    """Fine-tune, for each baseline, the two points that bracket the RL one-shot pick's ratio (the closest at or
    above it and the closest below), so RL and baselines are compared after the same fine-tuning."""
    picks = [p for p in rep.points if p.method == "rl-oneshot"]
    if not picks:
        return
    target = picks[0].ratio
    for k, method in enumerate(("uniform", "energy")):
        pts = [p for p in rep.points if p.method == method]
        above = [p for p in pts if p.ratio >= target]
        below = [p for p in pts if p.ratio < target]
        for j, p in enumerate([min(above, key=lambda p: p.ratio)] * bool(above) +
                              [max(below, key=lambda p: p.ratio)] * bool(below)):
            if p.finetuned_test is None:
                m = env.model(p.ranks)
                train(m, train_data, TrainConfig(**{**asdict(finetune), "seed": finetune.seed + 101 + 2 * k + j,
                                                     "log": []}), set_normalisation=False)
                p.finetuned_test = evaluate(m, test)


def annotate_overlay(rep: CompressionReport, seed: SpeechModel, latency: CostModel | None, arch: Any = None) -> None:
    """Put the overlay estimate's speed-up next to every point and, with `arch`, compile and cycle-simulate the
    picks (RL, iterative rounds, fine-tuned baselines) and both dense forms; a pick is compiled in the form it
    is deployed in (native LSTM when no recurrent matrix is factorised) and its cycle speed-up is against the
    native dense LSTM. Records the code version."""
    from nas.runtime import code_version

    rep.code_version = code_version()
    if latency is not None:
        rep.dense_latency_s = latency(seed.cfg, {}).value
        for p in rep.points:
            p.latency_s = latency(seed.cfg, p.ranks).value
            p.speedup = rep.dense_latency_s / p.latency_s
    if arch is not None:
        from nas.compression.cost import cycle_simulate

        rep.dense_cycle = cycle_simulate(seed, arch, form="unrolled")
        rep.dense_cycle_native = cycle_simulate(seed, arch, form="native")
        for p in rep.points:
            if p.method.startswith("rl") or p.finetuned_test is not None:
                c = cycle_simulate(_shapes_only(seed, p.ranks), arch, form="auto")
                p.cycle_latency_s = c["latency_s"]
                p.cycle_speedup = rep.dense_cycle_native["latency_s"] / c["latency_s"]


def load_report(path: str | Path) -> CompressionReport:
    data = json.loads(Path(path).read_text())
    points = [Point(**p) for p in data.pop("points")]
    return CompressionReport(**data, points=points)


def _shapes_only(seed: SpeechModel, ranks: dict) -> SpeechModel:
    """The seed truncated to `ranks`: the cycle model depends on shapes only, so the SVD weights of the seed
    stand in for fine-tuned ones."""
    from nas.compression.lowrank import compress

    return compress(seed, ranks)


def write_report(rep: CompressionReport, out: str | Path) -> list[Path]:
    """report.json and accuracy plots (vs compression; vs cost ratio when the cost is not size) in `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(rep.to_json(), indent=1))
    paths = [out / "report.json", save_figure(plot_accuracy(rep, "compression"), out / "accuracy_vs_compression.png")]
    if rep.dense_latency_s is not None:
        paths.append(save_figure(plot_accuracy(rep, "speedup"), out / "accuracy_vs_speedup.png"))
    return paths


def plot_accuracy(rep: CompressionReport, x: str = "compression") -> Figure:
    """Test accuracy against parameter compression (x='compression') or simulated overlay speed-up
    (x='speedup'); the RL episodes (quick-eval accuracy) are drawn on the axis their search cost measured."""
    fig = Figure(figsize=(6.5, 4.6))
    ax = fig.add_subplot()
    styles = {"uniform": ("o-", "tab:blue"), "energy": ("s-", "tab:orange")}
    for method, (marker, colour) in styles.items():
        pts = sorted((p for p in rep.points if p.method == method and getattr(p, x) is not None),
                     key=lambda p: getattr(p, x))
        if pts:
            ax.plot([getattr(p, x) for p in pts], [p.test for p in pts], marker, color=colour, ms=4,
                    label=f"{method} (no fine-tuning)")
            ft = [p for p in pts if p.finetuned_test is not None]
            if ft:
                ax.plot([getattr(p, x) for p in ft], [p.finetuned_test for p in ft], marker[0], color=colour,
                        mfc="none", ms=8, label=f"{method}, fine-tuned")
    rl = [p for p in rep.points if p.method == "rl-oneshot"]
    if rep.rl_trials and (x == "speedup") == (rep.cost != "size") and not (x == "speedup" and rep.trials_recosted):
        ax.scatter([t["ratio"] for t in rep.rl_trials], [t["quick"] for t in rep.rl_trials], s=6, color="#c0c0c0",
                   label="RL episodes (quick-eval accuracy)")
    for p in rl:
        ax.plot([getattr(p, x)], [p.test], "*", color="tab:green", ms=12, label="RL one-shot (no fine-tuning)")
        if p.finetuned_test is not None:
            ax.plot([getattr(p, x)], [p.finetuned_test], "*", color="tab:green", mfc="none", ms=14,
                    label="RL one-shot, fine-tuned")
    it = [p for p in rep.points if p.method.startswith("rl-iterative")]
    if it:
        ax.plot([1.0] + [getattr(p, x) for p in it], [rep.dense_test] + [p.test for p in it], "D-", color="tab:red",
                ms=5, label="iterative RL (fine-tuned rounds)")
    ax.axhline(rep.dense_test, color="black", lw=0.8, ls="--", label=f"dense {rep.dense_test:.1f} %")
    ax.axhline(rep.dense_test - 1.0, color="black", lw=0.6, ls=":", label="dense - 1 point")
    ax.set_xscale("log")
    from matplotlib.ticker import FormatStrFormatter, LogLocator
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0)))
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(FormatStrFormatter(""))
    ax.set_xlabel("parameter compression (x)" if x == "compression" else "simulated overlay speed-up (x)")
    ax.set_ylabel("FSDD test accuracy (%)")
    ax.set_ylim(max(0.0, min([p.test for p in rep.points] + [rep.dense_test]) - 5), 100.5)
    ax.set_title(f"low-rank LSTM compression, target {rep.target:g}x ({rep.cost} cost)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="x-small", loc="lower left")
    return fig


def geometric_targets(target: float, rounds: int) -> list[float]:
    return [math.pow(target, (k + 1) / rounds) for k in range(rounds)]
