"""`ovl results list|show|export|compare`: read search result stores (SQLite, written by any search)."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from compiler.errors import UserError
from nas.runtime.results import compare, export_csv, load_studies, resolve_metric, summary
from nas.runtime.store import metric_value


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="studies in a store: status, trials, best value")
    ls.add_argument("store", help="trial store (.db)")
    ls.add_argument("--json", action="store_true", help="print JSON")
    sh = sub.add_parser("show", help="one study: configuration, summary and its best trials")
    sh.add_argument("store")
    sh.add_argument("study")
    sh.add_argument("--metric", help="rank by this metric (default: the study's primary objective)")
    sh.add_argument("--top", type=int, default=10, help="how many best trials to list (default 10)")
    sh.add_argument("--json", action="store_true")
    ex = sub.add_parser("export", help="every trial as a CSV row (config.* and metrics.* columns)")
    ex.add_argument("store")
    ex.add_argument("--study", action="append", default=[], help="only this study (repeatable)")
    ex.add_argument("--csv", required=True, metavar="FILE", help="output CSV file, '-' for stdout")
    cp = sub.add_parser("compare", help="studies side by side (optionally grouped, e.g. over seeds)")
    cp.add_argument("stores", nargs="+", metavar="STORE")
    cp.add_argument("--study", action="append", default=[], help="only this study (repeatable)")
    cp.add_argument("--metric", help="compare on this metric (default: the primary objective)")
    cp.add_argument("--group", help="aggregate studies sharing this config key (e.g. strategy.name)")
    cp.add_argument("--json", action="store_true")


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _table(rows: list[dict], cols: list[str]) -> str:
    cells = [[_fmt(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        rows = []
        for d in load_studies([args.store]):
            s = summary(d) if d.study.primary else {"trials": len(d.trials)}
            rows.append({"study": d.study.name, "status": d.study.status, "trials": len(d.trials),
                         "failed": s.get("failed"), "metric": s.get("metric"), "best": s.get("best"),
                         "seed": d.study.seed, "strategy": d.study.config.get("strategy", {}).get("name"),
                         "updated": datetime.fromtimestamp(d.study.updated).isoformat(timespec="seconds")})
        print(json.dumps(rows, indent=2) if args.json else _table(rows, list(rows[0])))
    elif args.action == "show":
        if args.top < 0:
            raise UserError(f"--top {args.top}: give 0 or more")
        (d,) = load_studies([args.store], [args.study])
        metric, direction = resolve_metric(d, args.metric)
        s = summary(d, metric)
        sign = 1 if direction == "min" else -1
        ranked = sorted((t for t in d.trials if t.status == "complete" and metric_value(t, metric) == metric_value(
            t, metric)), key=lambda t: (sign * metric_value(t, metric), t.index))[:args.top]
        top = [{"index": t.index, **(t.metrics or {}), "config": t.config} for t in ranked]
        if args.json:
            print(json.dumps({"summary": s, "config": d.study.config, "objectives": d.study.objectives,
                              "top": top}, indent=2))
            return 0
        print(f"study {d.study.name} in {d.store}: {d.study.status}, {s['trials']} trials ({s['failed']} failed), "
              f"seed {d.study.seed}, {d.study.code_version}")
        print(f"objectives: {', '.join(f'{k} ({v})' for k, v in d.study.objectives.items())}")
        print(f"config: {json.dumps(d.study.config, sort_keys=True)}")
        print(f"evaluation time {s['eval_seconds']:.2f} s over {s['wall_seconds']:.2f} s wall")
        print(f"best {metric} ({direction}) = {_fmt(s['best'])} at trial {_fmt(s['best_trial'])}; "
              f"median {_fmt(s['median'])}")
        if top:
            cols = ["index"] + [k for k in top[0] if k not in ("index", "config")] + ["config"]
            print(_table([r | {"config": json.dumps(r["config"], sort_keys=True)} for r in top], cols))
    elif args.action == "export":
        datas = load_studies([args.store], args.study)
        if args.csv == "-":
            n = export_csv(datas, sys.stdout)
        else:
            out = Path(args.csv)
            if not out.parent.is_dir():
                raise UserError(f"--csv {out}: directory {out.parent} does not exist")
            with out.open("w", newline="") as f:
                n = export_csv(datas, f)
            print(f"wrote {n} trials of {len(datas)} studies to {out}")
    elif args.action == "compare":
        rows = compare(load_studies(args.stores, args.study), args.metric, args.group)
        if args.json:
            print(json.dumps(rows, indent=2))
        elif args.group:
            print(_table(rows, ["group", "studies", "trials", "metric", "direction", "best_mean", "best_std",
                                "best_min", "best_max"]))
        else:
            print(_table(rows, ["store", "study", "strategy", "seed", "trials", "failed", "metric", "direction",
                                "best", "best_trial", "median", "wall_seconds"]))
    return 0
