"""User-facing scripts of rtl/: bad input gives exit code 2 with a one-line message."""
import pytest

from compiler.errors import UserError
from rtl import run_cosim, synth


def test_run_cosim_rejects_bad_seed_ranges(capsys):
    for bad in ("5:2", "x", "3", "-1:4"):
        assert run_cosim.main([f"--seeds={bad}"]) == 2
        assert "--seeds" in capsys.readouterr().err


def test_synth_rejects_a_bad_mode_and_missing_results(tmp_path, capsys):
    assert synth.main(["--pe", "4", "--mode", "fast"]) == 2
    err = capsys.readouterr().err
    assert "fast" in err or "yosys" in err
    assert synth.main(["--check", "--out", str(tmp_path / "none.json")]) == 2
    assert "python -m rtl.synth" in capsys.readouterr().err
    with pytest.raises(UserError):
        synth.load_results(tmp_path / "none.json")


def test_synth_check_prints_the_stored_table(capsys):
    assert synth.main(["--check"]) == 0
    out = capsys.readouterr().out
    assert "pe_estimate" in out and "ovl_pe_array" in out
