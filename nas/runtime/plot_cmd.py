"""`ovl plot curve|pareto|layers|roofline ... -o FILE`: figures from trial stores and simulator reports."""
from __future__ import annotations

import argparse

from compiler.errors import UserError
from nas.runtime.report import Roof, load_report


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="kind", metavar="KIND", required=True)

    def out(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("-o", "--output", required=True, metavar="FILE", help="image file (.png, .svg or .pdf)")
        sp.add_argument("--title", help="figure title (default: a description of the data)")

    cu = sub.add_parser("curve", help="best value vs evaluations, mean and spread over seeds")
    cu.add_argument("stores", nargs="+", metavar="STORE")
    cu.add_argument("--study", action="append", default=[], help="only this study (repeatable; default all)")
    cu.add_argument("--metric", help="metric to plot (default: the studies' primary objective)")
    cu.add_argument("--group", default="strategy.name",
                    help="studies with the same value of this config key form one curve (default strategy.name; "
                         "'name' for one curve per study)")
    cu.add_argument("--spread", choices=("std", "minmax"), default="std", help="band over seeds (default std)")
    cu.add_argument("--log-x", action="store_true", help="logarithmic evaluation axis")
    out(cu)
    pa = sub.add_parser("pareto", help="two objectives of the trials, Pareto front highlighted")
    pa.add_argument("stores", nargs="+", metavar="STORE")
    pa.add_argument("--study", action="append", default=[], help="only this study (repeatable; default all)")
    pa.add_argument("--x", help="metric on the x axis (default: the first objective)")
    pa.add_argument("--y", help="metric on the y axis (default: the second objective)")
    out(pa)
    la = sub.add_parser("layers", help="per-layer latency and PE utilisation bars from a simulator report")
    la.add_argument("report", help="report JSON (see nas/runtime/report.py for its fields)")
    la.add_argument("--top", type=int, help="only the N slowest layers")
    la.add_argument("--cycles", action="store_true", help="plot cycles instead of milliseconds")
    la.add_argument("--arch", help="architecture for the clock (default: the report's clock_hz or arch)")
    out(la)
    ro = sub.add_parser("roofline", help="roofline of an architecture with the layers of a report placed on it")
    ro.add_argument("report", help="report JSON (see nas/runtime/report.py for its fields)")
    ro.add_argument("--arch", help="architecture name or .toml path (default: the report's arch)")
    out(ro)


def _arch(name: str | None, report_arch: str | None):
    from hw_models.arch import load_arch
    if not (name or report_arch):
        raise UserError("the report names no architecture: give --arch NAME_OR_TOML")
    return load_arch(name or report_arch)


def run(args: argparse.Namespace) -> int:
    from nas.runtime import plots, results

    if args.kind == "curve":
        datas = results.load_studies(args.stores, args.study)
        group = None if args.group == "name" else args.group
        runs, metric, direction = results.curve_runs(datas, args.metric, group)
        fig = plots.plot_search_curves(runs, metric=metric, direction=direction, spread=args.spread,
                                       log_x=args.log_x, title=args.title)
        what = f"{len(runs)} curves over {len(datas)} studies"
    elif args.kind == "pareto":
        datas = results.load_studies(args.stores, args.study)
        objectives = list(datas[0].study.objectives.items())
        x = args.x or (objectives[0][0] if objectives else None)
        y = args.y or (objectives[1][0] if len(objectives) > 1 else None)
        if not x or not y or x == y:
            raise UserError("a Pareto plot needs two different metrics: give --x and --y")
        xd, yd = (results.resolve_metric(datas[0], m)[1] for m in (x, y))
        series = {d.study.name: results.metric_points(d, (x, y)) for d in datas}
        fig = plots.plot_pareto(series, x=x, y=y, directions=(xd, yd), title=args.title)
        what = f"{sum(map(len, series.values()))} points of {len(series)} studies"
    else:
        report = load_report(args.report)
        if args.kind == "layers":
            if args.top is not None and args.top < 1:
                raise UserError(f"--top {args.top}: give 1 or more")
            clock = None if args.cycles else report.clock_hz or (
                _arch(args.arch, report.arch).clock_hz if (args.arch or report.arch) else None)
            fig = plots.plot_layers(report.layers, clock_hz=clock, top=args.top, title=args.title)
            what = f"{min(len(report.layers), args.top or len(report.layers))} layers"
        else:
            roof = Roof.from_arch(_arch(args.arch, report.arch))
            fig = plots.plot_roofline(report.layers, roof, clock_hz=report.clock_hz, title=args.title)
            what = f"{len(plots.roofline_points(report.layers, report.clock_hz or roof.clock_hz)[0])} layers"
    path = plots.save_figure(fig, args.output)
    print(f"wrote {path} ({what})")
    return 0
