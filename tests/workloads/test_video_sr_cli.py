"""`ovl sr` end to end on tiny clips, and the experiment runner's bookkeeping."""
import json

import numpy as np
import pytest

from compiler.cli import main
from workloads.video_sr.degradation import DegradedClip, synthetic_clip
from workloads.video_sr.estimator import shipped_estimator
from dataclasses import replace

from workloads.video_sr.experiment import (METHODS, ExperimentConfig, evaluate_clip, kernel_settings, load_rows,
                                           methods_for, run_experiment)
from workloads.video_sr.kernels import SRInputError
from workloads.video_sr.kernels import load_kernels


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def test_degrade_estimate_restore(tmp_path, capsys):
    clip, kern, png = tmp_path / "clip.npz", tmp_path / "k.npz", tmp_path / "png"
    assert main(["sr", "degrade", "--image", "chelsea", "--frames", "4", "--size", "64", "--scale", "2",
                 "--seed", "3", "-o", str(clip), "--png", str(png)]) == 0
    c = DegradedClip.load(clip)
    assert c.lr.shape == (4, 32, 32) and len(list(png.glob("*.png"))) == 8
    capsys.readouterr()
    assert main(["sr", "estimate", str(clip), "--setting", "consistent", "-o", str(kern), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    cov, setting = load_kernels(kern)
    assert setting == "consistent" and cov.shape == (4, 3) and len(out["kernels"]) == 4
    assert set(out["stats"]) == {"fixed", "independent", "consistent", "state_space", "tested", "tracked", "true"}
    assert out["stats"]["true"]["kernel_error"] == 0.0
    assert main(["sr", "restore", str(clip), "--kernels", str(kern), "-o", str(tmp_path / "sr.npz"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    with np.load(tmp_path / "sr.npz") as z:
        assert z["sr"].shape == (4, 64, 64)
    assert res["psnr"] > 15 and 0 < res["ssim"] <= 1
    assert main(["sr", "restore", str(clip), "--true-kernels"]) == 0
    assert "PSNR" in capsys.readouterr().out
    assert main(["sr", "estimate", str(clip), "--setting", "state_space", "-o", str(kern)]) == 0
    assert load_kernels(kern)[1] == "state_space"
    capsys.readouterr()
    assert main(["sr", "estimate", str(clip), "-o", str(kern), "--json"]) == 0  # the default setting
    tracked = json.loads(capsys.readouterr().out)
    assert tracked["setting"] == "tracked" and load_kernels(kern)[1] == "tracked"


def test_one_frame_clip_estimates_without_the_change_settings(tmp_path, capsys):
    """A one-frame clip has every per-frame setting; only the settings that test or track a change over the
    clip are left out, and asking for one of them is a one-line error."""
    clip = tmp_path / "one.npz"
    synthetic_clip("camera", schedule="varying", frames=1, size=(96, 96), scale=2).save(clip)
    capsys.readouterr()
    assert main(["sr", "estimate", str(clip), "--setting", "independent", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)["stats"]
    assert set(stats) == {"fixed", "independent", "consistent", "state_space", "true"}
    assert main(["sr", "estimate", str(clip)]) == 2  # the default, tracked
    err = capsys.readouterr().err
    assert "cannot be tested; give >= 2 frames" in err and len(err.strip().splitlines()) == 1


def test_cli_errors_exit_2(tmp_path, capsys):
    assert main(["sr", "estimate", str(tmp_path / "missing.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err
    clip = tmp_path / "c.npz"
    synthetic_clip("camera", schedule="fixed", frames=3, size=(64, 64), scale=2).save(clip)
    np.savez(tmp_path / "k.npz", kernels=np.ones((5, 3)) * [1.0, 0.0, 1.0])
    assert main(["sr", "restore", str(clip), "--kernels", str(tmp_path / "k.npz")]) == 2
    assert "5 frames" in capsys.readouterr().err
    assert main(["sr", "estimate", str(clip), "--model", str(tmp_path / "k.npz")]) == 2
    assert "not a valid estimator" in capsys.readouterr().err
    assert main(["sr", "degrade", "--size", "65", "-o", str(tmp_path / "x.npz")]) == 2
    assert "not divisible" in capsys.readouterr().err


def test_experiment_rows_and_verdicts():
    est = shipped_estimator(2)
    config = ExperimentConfig(scale=2, frames=3, size=64, images=("camera",), noises=(0.0,))
    result = run_experiment(config, estimator=est)
    assert len(result.rows) == 2 * len(METHODS)
    by = {(r.schedule, r.method): r for r in result.rows}
    assert by[("varying", "true")].kernel_error == 0.0 and by[("fixed", "bicubic")].kernel_error is None
    assert by[("fixed", "fixed")].temporal_consistency == pytest.approx(0.0, abs=1e-12)
    assert by[("fixed", "true")].psnr > by[("fixed", "bicubic")].psnr
    assert {v["schedule"] for v in result.verdicts()} == {"varying", "fixed"}
    assert "| 0 | varying | consistent |" in result.markdown()
    assert json.loads(result.to_json())["config"]["scale"] == 2


def test_settings_relations():
    clip = synthetic_clip("astronaut", schedule="varying", frames=5, size=(96, 96), scale=2, seed=1)
    per_frame = np.stack([clip.kernels[i] * (1 + 0.05 * (-1) ** i) for i in range(5)])
    sets = kernel_settings(per_frame)
    np.testing.assert_array_equal(sets["independent"], per_frame)
    assert np.all(sets["fixed"] == sets["fixed"][0])
    outcome = evaluate_clip(clip, per_frame)
    assert set(outcome.restored) == set(METHODS)
    with pytest.raises(Exception, match="ground truth"):
        evaluate_clip(DegradedClip("x", clip.lr, 2), per_frame)


def test_extra_setting_and_reuse_of_unchanged_rows(tmp_path):
    est = shipped_estimator(2)
    config = ExperimentConfig(scale=2, frames=4, size=64, images=("camera",), noises=(0.0,), extra=("state_space",))
    first = run_experiment(config, estimator=est)
    assert len(first.rows) == 2 * len(methods_for(("state_space",))) == 2 * (len(METHODS) + 1)
    assert {v["setting"] for v in first.verdicts()} == {"consistent", "state_space"}
    assert set(first.models) == {"camera-fixed@0", "camera-varying@0"} and "state-space model" in first.markdown()
    (tmp_path / "results.json").write_text(first.to_json())
    old = [r for r in load_rows(tmp_path / "results.json") if r.method != "state_space"]
    # a stored row whose kernels differ from the recomputed ones must be restored again, not taken over
    old = [replace(r, psnr=0.0, kernel_error=r.kernel_error + 0.01) if r.method == "consistent" else r for r in old]
    again = run_experiment(config, estimator=est, reuse=old)
    assert again.rows == first.rows
    assert again.reused_rows == 2 * (len(METHODS) - 1)  # all but consistent and state_space, on both clips
    with pytest.raises(SRInputError, match="extra setting"):
        ExperimentConfig(extra=("kalman",))
    with pytest.raises(SRInputError, match="not a readable results.json"):
        load_rows(tmp_path / "missing.json")


def test_paired_differences_pool_runs_and_bracket_the_mean():
    from workloads.video_sr.experiment import Row
    from workloads.video_sr.report import paired_markdown

    def rows(gains):
        out = []
        for i, g in enumerate(gains):
            out += [Row(f"c{i}-varying", "varying", 0.0, "independent", 30.0, 0.9, 0.05, 0.01),
                    Row(f"c{i}-varying", "varying", 0.0, "tracked", 30.0 + g, 0.9 + g / 100, 0.04, 0.01)]
        return out

    table = paired_markdown([rows([0.1, 0.2, 0.3]), rows([0.4, 0.5])], resamples=2000)
    line = next(ln for ln in table.splitlines() if ln.startswith("| 0 | varying"))
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert cells[2:4] == ["independent", "5"] and cells[5] == "5"
    mean, lo, hi = (float(x) for x in cells[4].replace("[", " ").replace("]", " ").replace(",", " ").split())
    assert mean == pytest.approx(0.3) and 0.1 <= lo < mean < hi <= 0.5
    with pytest.raises(SRInputError, match="no 'tracked' rows"):
        paired_markdown([[r for r in rows([0.1]) if r.method != "tracked"]])
