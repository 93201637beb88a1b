"""`ovl disasm PROGRAM.ovl [-o OUT.ovlasm]`: annotated assembly text of a binary program."""
from __future__ import annotations

import argparse
from pathlib import Path


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("program", help="binary program (.ovl)")
    p.add_argument("-o", "--output", help="write the text here (default: standard output)")
    p.add_argument("--weights-file", metavar="PATH", help="write the weights blob to this file instead of inline "
                   "base64 (assemble it back with `ovl asm --weights PATH`)")


def run(args: argparse.Namespace) -> int:
    from compiler.asm import disassemble
    from compiler.program import Program

    prog = Program.load(args.program)
    text = disassemble(prog, weights_file=args.weights_file)
    if args.weights_file and prog.weights is not None:
        Path(args.weights_file).write_bytes(prog.weights)
    if args.output:
        Path(args.output).write_text(text)
    else:
        print(text, end="")
    return 0
