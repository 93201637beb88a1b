"""The command-line options every search shares, in one place: store, study, resume, executor, workers, quiet.

A search's `configure(parser)` calls `add_runtime_arguments(parser)`; its `run(args)` calls
`RuntimeOptions.from_args(args)` and then

    with opts.executor() as ex:
        run_study(opts.store, opts.study, strategy, objective, ..., seed=opts.seed, executor=ex,
                  resume=opts.resume, quiet=opts.quiet)
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from compiler.errors import UserError
from nas.runtime.executors import EXECUTOR_KINDS, Executor, ExecutorKind, make_executor


@dataclass(frozen=True)
class RuntimeOptions:
    store: Path
    study: str
    seed: int = 0
    resume: bool = False
    executor_kind: ExecutorKind = "inprocess"
    workers: int | None = None
    address: str | None = None
    quiet: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "RuntimeOptions":
        kind = args.executor or ("pool" if args.workers and args.workers > 1 else "inprocess")
        if args.address and kind != "ray":
            raise UserError("--address is only used with --executor ray")
        if args.workers is not None and args.workers < 1:
            raise UserError(f"--workers {args.workers}: give 1 or more")
        return cls(Path(args.store), args.study, args.seed, args.resume, kind, args.workers, args.address,
                   args.quiet)

    def executor(self) -> Executor:
        return make_executor(self.executor_kind, workers=self.workers, address=self.address)


def add_runtime_arguments(p: argparse.ArgumentParser, *, default_study: str = "search") -> None:
    g = p.add_argument_group("runtime (trial store, resume, parallel evaluation)")
    g.add_argument("--store", required=True, help="SQLite trial store to write (created when missing)")
    g.add_argument("--study", default=default_study, help=f"study name inside the store (default {default_study})")
    g.add_argument("--seed", type=int, default=0, help="study seed: every trial's randomness derives from it")
    g.add_argument("--resume", action="store_true", help="continue the study where it stopped")
    g.add_argument("--executor", choices=EXECUTOR_KINDS, default=None,
                   help="where candidates are evaluated (default: pool when --workers > 1, else inprocess)")
    g.add_argument("--workers", type=int, default=None, help="worker processes (pool) or CPUs (local Ray)")
    g.add_argument("--address", default=None, help="Ray cluster address (with --executor ray)")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
