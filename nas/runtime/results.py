"""Reading trial stores: study summaries, CSV export, comparisons, and the data the plots draw.

Everything here takes store paths (opened read-only) and returns plain data (dicts, lists), so the CLI
(`ovl results`, `ovl plot`) and notebooks share it.
"""
from __future__ import annotations

import csv
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterable, Sequence

from compiler.errors import UserError
from nas.runtime.store import Direction, Study, Trial, TrialStore, metric_value
from nas.runtime.study import best_trial


@dataclass(frozen=True)
class StudyData:
    store: Path
    study: Study
    trials: list[Trial]

    @property
    def label(self) -> str:
        return self.study.name


def load_studies(stores: Sequence[str | Path], names: Sequence[str] = ()) -> list[StudyData]:
    """Studies (all, or those named) of one or more stores, each with its trials in index order."""
    out: list[StudyData] = []
    found: set[str] = set()
    for path in stores:
        with TrialStore(path, readonly=True) as st:
            for s in st.studies():
                if not names or s.name in names:
                    out.append(StudyData(Path(path), s, st.trials(s)))
                    found.add(s.name)
    missing = [n for n in names if n not in found]
    if missing:
        raise UserError(f"study {', '.join(map(repr, missing))} not found in {', '.join(map(str, stores))}; "
                        "see 'ovl results list STORE'")
    if not out:
        raise UserError(f"no studies in {', '.join(map(str, stores))}")
    return out


def resolve_metric(data: StudyData, metric: str | None) -> tuple[str, Direction]:
    """`metric` with its direction from the study, or the study's primary objective."""
    study = data.study
    if metric is None:
        if study.primary is None:
            raise UserError(f"study '{study.name}' declares no objectives: give --metric")
        return study.primary
    if metric not in study.objectives and not any(t.metrics and metric in t.metrics for t in data.trials):
        known = sorted({k for t in data.trials if t.metrics for k in t.metrics})
        raise UserError(f"metric '{metric}' not in study '{study.name}'; its metrics: {', '.join(known) or 'none'}")
    return metric, study.objectives.get(metric, "min")


def config_value(study: Study, key: str) -> Any:
    """A dotted key into the study record: `name`, `seed`, `status`, or a path into its config
    (`strategy.name`, `search.dataset`, `batch_size`, ...)."""
    if key in ("name", "seed", "status", "code_version"):
        return getattr(study, key)
    value: Any = study.config
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            raise UserError(f"study '{study.name}' has no '{key}' in its config; keys: {', '.join(study.config)}")
        value = value[part]
    return value


def summary(data: StudyData, metric: str | None = None) -> dict[str, Any]:
    """One study in numbers: counts, best trial, median, timings."""
    metric, direction = resolve_metric(data, metric)
    ts = data.trials
    complete = [t for t in ts if t.status == "complete"]
    values = [v for v in (metric_value(t, metric) for t in complete) if not math.isnan(v)]
    best = best_trial(ts, metric, direction)
    busy = sum(t.duration for t in ts)
    wall = (max(t.finished for t in ts) - min(t.started for t in ts)) if ts else 0.0
    return {
        "store": str(data.store), "study": data.study.name, "status": data.study.status, "seed": data.study.seed,
        "strategy": data.study.config.get("strategy", {}).get("name"), "trials": len(ts),
        "complete": len(complete), "failed": len(ts) - len(complete), "metric": metric, "direction": direction,
        "best": best.metrics[metric] if best else None, "best_trial": best.index if best else None,
        "best_config": best.config if best else None,
        "median": statistics.median(values) if values else None,
        "eval_seconds": busy, "wall_seconds": wall, "code_version": data.study.code_version,
    }


def compare(datas: Sequence[StudyData], metric: str | None = None, group: str | None = None) -> list[dict[str, Any]]:
    """One row per study, or with `group` (a `config_value` key) one row per group: mean and spread of the best."""
    rows = [summary(d, metric) | ({"group": str(config_value(d.study, group))} if group else {}) for d in datas]
    if not group:
        return rows
    out = []
    for g in dict.fromkeys(r["group"] for r in rows):
        members = [r for r in rows if r["group"] == g]
        bests = [r["best"] for r in members if isinstance(r["best"], (int, float))]
        out.append({"group": g, "studies": len(members), "metric": members[0]["metric"],
                    "direction": members[0]["direction"], "trials": sum(r["trials"] for r in members),
                    "best_mean": statistics.fmean(bests) if bests else None,
                    "best_std": statistics.pstdev(bests) if len(bests) > 1 else 0.0 if bests else None,
                    "best_min": min(bests) if bests else None, "best_max": max(bests) if bests else None})
    return out


def flatten(value: Any, prefix: str) -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"prefix.a.b": 1}; lists stay as JSON-like text."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}"))
        return out
    return {prefix: value}


def export_csv(datas: Sequence[StudyData], out: IO[str]) -> int:
    """All trials of the studies as CSV rows (config.* and metrics.* flattened); returns the row count."""
    fixed = ["study", "index", "status", "seed", "started", "finished", "duration", "error"]
    rows = []
    for d in datas:
        for t in d.trials:
            rows.append({"study": d.study.name, "index": t.index, "status": t.status, "seed": t.seed,
                         "started": t.started, "finished": t.finished, "duration": t.duration,
                         "error": t.error or ""} | flatten(t.config, "config") | flatten(t.metrics or {}, "metrics"))
    extra = sorted({k for r in rows for k in r} - set(fixed), key=lambda k: (not k.startswith("config."), k))
    w = csv.DictWriter(out, fieldnames=fixed + extra, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return len(rows)


# --- plot data --------------------------------------------------------------------------------------------------
def curve_runs(datas: Sequence[StudyData], metric: str | None = None,
               group: str | None = "strategy.name") -> tuple[dict[str, list[list[float]]], str, Direction]:
    """Per group, one list of metric values (evaluation order, NaN for failed trials) per study (seed)."""
    runs: dict[str, list[list[float]]] = {}
    metric_dir = [resolve_metric(d, metric) for d in datas]
    if len(set(metric_dir)) > 1:
        raise UserError(f"studies disagree on the metric or its direction ({sorted(set(metric_dir))}): give --metric")
    for d in datas:
        key = str(config_value(d.study, group)) if group else d.study.name
        runs.setdefault(key, []).append([metric_value(t, metric_dir[0][0]) for t in d.trials])
    return runs, metric_dir[0][0], metric_dir[0][1]


def metric_points(data: StudyData, keys: Iterable[str]) -> list[dict[str, Any]]:
    """Complete trials that have every metric in `keys`, as {"index", "config", key: value...}."""
    keys = list(keys)
    out = []
    for t in data.trials:
        vals = {k: metric_value(t, k) for k in keys}
        if t.status == "complete" and not any(math.isnan(v) for v in vals.values()):
            out.append({"index": t.index, "config": t.config} | vals)
    return out
