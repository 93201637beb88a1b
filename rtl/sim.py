"""Building and running the cocotb testbenches with iverilog (`cocotb_tools.runner`).

    from rtl.sim import build, run
    runner = build("tb_core", tmp_dir)                       # iverilog -g2012, rtl/hdl + rtl/tb sources
    run(runner, "tb_core", "rtl.tb.test_core", tmp_dir, env={...}, plusargs=[...])

Each build goes to its own directory (tests use pytest's tmp_path), so parallel workers never share one.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Mapping, Sequence

from compiler.errors import UserError

RTL = Path(__file__).parent
HDL = RTL / "hdl"
TB = RTL / "tb"
GENERATED = RTL / "generated"


def hdl_sources() -> list[Path]:
    """The synthesizable sources (rtl/hdl/*.v)."""
    return sorted(HDL.glob("*.v"))


def tb_source(toplevel: str) -> Path:
    return TB / f"{toplevel}.v"


def have_iverilog() -> bool:
    return shutil.which("iverilog") is not None and shutil.which("vvp") is not None


def build(toplevel: str, build_dir: Path, *, parameters: Mapping[str, object] | None = None,
          arch: str = "tiny"):
    """Compile the RTL plus the testbench wrapper `rtl/tb/<toplevel>.v` (or an rtl/hdl module used directly as
    the toplevel) with iverilog into `build_dir`; returns the runner."""
    from cocotb_tools.runner import get_runner

    if not have_iverilog():
        raise UserError("iverilog is not installed: run `make setup` (or apt-get install iverilog)")
    header = GENERATED / f"{arch}_params.vh"
    if not header.exists():
        raise UserError(f"no parameter header {header}: run `python -m rtl.gen_params {arch} --write`")
    sources = hdl_sources()
    tb = tb_source(toplevel)
    if tb.exists():
        sources = sources + [tb]
    runner = get_runner("icarus")
    runner.build(sources=sources, hdl_toplevel=toplevel, includes=[GENERATED],
                 defines={"OVL_PARAMS_VH": f'"{header.name}"'}, parameters=dict(parameters or {}),
                 build_dir=Path(build_dir), always=True, timescale=("1ns", "1ps"))
    return runner


def run(runner, toplevel: str, test_module: str, build_dir: Path, *, testcase: str | Sequence[str] | None = None,
        env: Mapping[str, str] | None = None, plusargs: Sequence[str] = (),
        parameters: Mapping[str, object] | None = None) -> Path:
    """Run cocotb tests (`test_module`, e.g. "rtl.tb.test_core") on a built toplevel; returns the results XML.
    Under pytest a failing cocotb test fails the calling test."""
    return runner.test(hdl_toplevel=toplevel, test_module=test_module, testcase=testcase, build_dir=Path(build_dir),
                       test_dir=Path(build_dir), extra_env=dict(env or {}), plusargs=list(plusargs),
                       parameters=dict(parameters or {}), timescale=("1ns", "1ps"))


def core_plusargs(work: Path) -> list[str]:
    """Exchange-file plusargs of tb_core (the cocotb test writes and reads the same files in `work`)."""
    work = Path(work)
    return [f"+ddr={work / 'ddr.hex'}", f"+cfg={work / 'cfg.hex'}", f"+out={work / 'ddr_out.hex'}",
            f"+perf={work / 'perf.hex'}"]


def run_core(runner, build_dir: Path, *, testcase: str, seeds: tuple[int, int] = (0, 4),
             results: Path | None = None) -> Path:
    """Run a test of rtl/tb/test_core.py on a built tb_core (random-layer seeds [first, last))."""
    env = {"OVL_COSIM_DIR": str(build_dir), "OVL_SEEDS": f"{seeds[0]}:{seeds[1]}"}
    if results is not None:
        env["OVL_RESULTS"] = str(results)
    return run(runner, "tb_core", "rtl.tb.test_core", build_dir, testcase=testcase, env=env,
               plusargs=core_plusargs(build_dir))
