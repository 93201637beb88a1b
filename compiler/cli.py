"""`ovl`: one console command, a thin layer over the library.

Subcommands are registered in `COMMANDS` by module path and imported lazily, so `ovl --help` and light
commands start fast (torch is only imported by the commands that need it). A command module exposes
`configure(parser)` and `run(args) -> int`. `UserError` becomes a one-line message and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass

from compiler.errors import UserError


@dataclass(frozen=True)
class Command:
    name: str
    module: str
    help: str


COMMANDS: tuple[Command, ...] = (
    Command("inspect", "compiler.commands.inspect_cmd", "per-layer table of an ONNX model (shapes, MACs, params)"),
    Command("arch", "hw_models.commands.arch_cmd", "show, check or optimise an architecture file"),
    Command("compile", "compiler.commands.compile_cmd", "compile an ONNX model to an overlay program"),
    Command("asm", "compiler.commands.asm_cmd", "assemble .ovlasm text into a binary program"),
    Command("disasm", "compiler.commands.disasm_cmd", "disassemble a binary program to annotated .ovlasm text"),
    Command("sim", "simulator.commands.sim_cmd", "simulate a program: numerics, cycles, report, trace"),
    Command("trace", "simulator.commands.trace_cmd", "summarise a trace file written by `ovl sim --trace`"),
    Command("area", "hw_models.commands.area_cmd", "FPGA area/resources and power of an architecture"),
    Command("zoo", "workloads.commands.zoo_cmd", "list and export the bundled networks"),
    Command("search", "nas.commands.search_cmd", "hardware-aware searches (NAS, co-design, compression)"),
    Command("nas", "nas.commands.nas_cmd", "NAS utilities (overlay latency tables, proxies)"),
    Command("predictor", "nas.commands.predictor_cmd", "train and evaluate latency/accuracy predictors"),
    Command("results", "nas.runtime.commands", "list, show, export and compare search result stores"),
    Command("plot", "nas.runtime.plot_cmd", "plots: search curves, Pareto fronts, per-layer bars, rooflines"),
    Command("sr", "workloads.video_sr.commands", "blind video super-resolution: degrade, estimate, restore, bench"),
    Command("demo", "simulator.commands.demo_cmd", "compile and simulate GoogLeNet on the default architecture"),
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors on one line with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _load(command: Command):
    try:
        return importlib.import_module(command.module)
    except ModuleNotFoundError as exc:
        if exc.name and command.module.startswith(exc.name):
            raise UserError(f"'ovl {command.name}' is not implemented yet in this version") from None
        raise


def build_parser(selected: str | None = None, argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The top-level parser; only the selected subcommand's module is imported and configured.

    A command module whose `configure` takes two parameters also receives the argument list after the
    command name (used by commands that dispatch lazily to sub-modules, like `ovl search`).
    """
    parser = _Parser(prog="ovl", description="FPGA deep-learning overlay toolchain")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        if command.name == selected:
            module = _load(command)
            if module.configure.__code__.co_argcount == 2:
                rest = argv[argv.index(selected) + 1:] if argv and selected in argv else []
                module.configure(p, rest)
            else:
                module.configure(p)
            p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in argv if not a.startswith("-")), None)
    try:
        parser = build_parser(selected if selected in {c.name for c in COMMANDS} else None, argv)
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return int(args._run(args) or 0)
    except UserError as exc:
        print(f"ovl {selected}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"ovl {selected}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
