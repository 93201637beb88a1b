"""`ovl asm TEXT.ovlasm -o PROGRAM.ovl`: assemble program text into the binary program."""
from __future__ import annotations

import argparse
from pathlib import Path

from compiler.errors import ProgramError


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="assembly text (.ovlasm)")
    p.add_argument("-o", "--output", required=True, help="binary program to write (.ovl)")
    p.add_argument("--weights", metavar="PATH", help="weights blob side file (for `.weights file` texts)")


def run(args: argparse.Namespace) -> int:
    from compiler.asm import assemble

    src = Path(args.source)
    if not src.exists():
        raise ProgramError(f"assembly file '{args.source}' not found")
    weights = None
    if args.weights:
        wp = Path(args.weights)
        if not wp.exists():
            raise ProgramError(f"weights file '{args.weights}' not found")
        weights = wp.read_bytes()
    try:
        text = src.read_text()
    except UnicodeDecodeError:
        raise ProgramError(f"'{args.source}' is not a text file (did you mean `ovl disasm`?)") from None
    prog = assemble(text, str(src), weights=weights)
    size = prog.save(args.output)
    print(f"wrote {args.output} ({size:,} bytes, {len(prog.bundles)} bundles)")
    return 0
