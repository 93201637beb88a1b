"""The RTL is accepted by iverilog (-g2012 -Wall, no warnings) and verilator (--lint-only, when installed)."""
import shutil
import subprocess

import pytest

from rtl.sim import GENERATED, hdl_sources

pytestmark = pytest.mark.rtl


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed (make setup installs it)")
def test_iverilog_compiles_the_core_without_warnings(tmp_path):
    cmd = ["iverilog", "-g2012", "-Wall", "-I", str(GENERATED), "-s", "ovl_core", "-o", str(tmp_path / "core.vvp"),
           *map(str, hdl_sources())]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == "" and proc.stdout.strip() == "", proc.stderr + proc.stdout


@pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not installed (optional)")
@pytest.mark.parametrize("top,params", [("ovl_core", []), ("ovl_pe_array", ["-GK=16", "-GC=16", "-GTHREADS=2"]),
                                        ("ovl_pe_array", ["-GK=1", "-GC=32", "-GTHREADS=1"])])
def test_verilator_lint(top, params):
    cmd = ["verilator", "--lint-only", f"-I{GENERATED}", "--top-module", top, *params, *map(str, hdl_sources())]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr
