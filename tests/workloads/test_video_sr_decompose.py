"""The estimator-error decomposition: its parts add up and separate known error shapes."""
import numpy as np
import pytest

from workloads.video_sr.decompose import TREATMENTS, error_parts, treatments
from workloads.video_sr.degradation import synthetic_clip
from workloads.video_sr.estimator import estimate_kernels, shipped_estimator
from workloads.video_sr.kernels import GaussianKernel, SRInputError, kernel_error
from workloads.video_sr.temporal import _ISO, _from_log, _to_log

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

TRUE = np.repeat(GaussianKernel(1.2, 0.7, 0.3).covariance()[None], 200, axis=0)


def _with_error(e: np.ndarray) -> np.ndarray:
    return _from_log(_to_log(TRUE[: len(e)]) + e / _ISO)


def test_parts_add_up_and_separate_bias_drift_and_jitter():
    rng = np.random.default_rng(0)
    offset = np.array([0.3, -0.1, 0.2])
    p = error_parts(_with_error(np.tile(offset, (200, 1))), TRUE)
    assert p.bias == pytest.approx(offset @ offset) and p.total == pytest.approx(p.bias)
    assert p.drift == pytest.approx(0, abs=1e-12) and p.jitter == pytest.approx(0, abs=1e-12)
    white = 0.1 * rng.standard_normal((200, 3))
    p = error_parts(_with_error(white), TRUE)
    assert p.total == pytest.approx(p.bias + p.drift + p.jitter)
    assert p.jitter == pytest.approx(0.03, rel=0.15) and p.drift < 0.2 * p.jitter and abs(p.lag1) < 0.2
    slow = 0.3 * np.sin(np.linspace(0, np.pi, 200))[:, None] * np.array([1.0, 0.5, -1.0])
    p = error_parts(_with_error(slow), TRUE)
    assert p.drift > 50 * p.jitter and p.lag1 > 0.9
    with pytest.raises(SRInputError, match="T>=2"):
        error_parts(TRUE[:1], TRUE[:1])


def test_treatments_of_a_clip():
    clip = synthetic_clip("camera", schedule="fixed", frames=6, size=(96, 96), scale=2, seed=4)
    est, kernels = treatments(shipped_estimator(2), clip)
    assert set(kernels) == set(TREATMENTS) and all(k.shape == (6, 3) for k in kernels.values())
    e = _to_log(est) - _to_log(clip.kernels)
    # on a fixed-kernel clip the bias-only kernels are the clip-wide log-mean of the estimates
    np.testing.assert_allclose(kernels["bias_only"], kernels["fixed"], rtol=1e-9)
    assert kernel_error(kernels["bias_only"], clip.kernels) <= kernel_error(est, clip.kernels) + 1e-12
    assert np.allclose(e.mean(0), (_to_log(kernels["bias_only"]) - _to_log(clip.kernels))[0])


def test_spectral_change_measures_the_kernel_change_of_a_static_scene():
    """Same content in every frame, kernel changing: the content-free spectral regression recovers the change of
    the covariance around its clip mean (x2, no noise)."""
    from workloads.video_sr.clips import load_image
    from workloads.video_sr.change import spectral_change
    from workloads.video_sr.degradation import degrade_frames
    from workloads.video_sr.kernels import kernel_schedule

    hr = np.repeat(load_image("astronaut")[100:292, 150:342][None], 8, axis=0)
    true = kernel_schedule("varying", 8, 2, np.random.default_rng(3))
    lr = degrade_frames(hr, true, scale=2)
    d = spectral_change(lr, 2)
    dt = true - true.mean(axis=0)
    assert np.sqrt(((d - dt) ** 2).sum(1).mean()) < 0.25 * np.sqrt((dt ** 2).sum(1).mean())
    np.testing.assert_allclose(spectral_change(np.repeat(lr[:1], 4, axis=0), 2), 0.0, atol=1e-9)


def test_selection_variants_are_the_gated_track_and_its_alternatives():
    """The variants compared when the tracked setting was chosen: on a clip whose spectra show no change every
    gated variant is the clip-wide estimate; on a changing clip 'tracked' is the state-space smoothed raw track,
    exactly the setting of that name, and 'tested' the windowed fit."""
    from workloads.video_sr.change import tracked_kernels
    from workloads.video_sr.decompose import SELECTION_VARIANTS, selection_variants
    from workloads.video_sr.temporal import state_space_kernels

    est = shipped_estimator(2)
    fixed_clip = synthetic_clip("coffee", schedule="fixed", frames=6, size=(96, 96), scale=2, seed=11)
    per_frame = estimate_kernels(est, fixed_clip.lr)
    v = selection_variants(per_frame, fixed_clip)
    assert list(v) == list(SELECTION_VARIANTS)
    for k in SELECTION_VARIANTS[3:]:
        np.testing.assert_array_equal(v[k], v["fixed"])
    varying_clip = synthetic_clip("coffee", schedule="varying", frames=6, size=(96, 96), scale=2, seed=12)
    per_frame = estimate_kernels(est, varying_clip.lr)
    v = selection_variants(per_frame, varying_clip)
    np.testing.assert_array_equal(v["tracked"], state_space_kernels(v["raw track"]))
    np.testing.assert_array_equal(v["tracked"], tracked_kernels(per_frame, varying_clip.lr, 2)[0])
    np.testing.assert_array_equal(v["tested"], v["consistent"])
    assert not np.array_equal(v["raw track"], v["fixed"])
