"""The content-free kernel-change test on the frames' spectra, and the 'tested' setting built on it."""
import numpy as np
import pytest

from workloads.video_sr.change import change_statistic, null_threshold, gated_kernels
from workloads.video_sr.clips import load_image
from workloads.video_sr.degradation import degrade_frames, synthetic_clip
from workloads.video_sr.estimator import estimate_kernels, shipped_estimator
from workloads.video_sr.experiment import kernel_settings
from workloads.video_sr.kernels import SRInputError, kernel_schedule
from workloads.video_sr.temporal import consistent_kernels, fixed_kernel

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def test_statistic_sees_a_kernel_change_and_not_a_static_one():
    hr = np.repeat(load_image("camera")[100:292, 150:342][None], 8, axis=0)
    varying = kernel_schedule("varying", 8, 2, np.random.default_rng(1))
    fixed = kernel_schedule("fixed", 8, 2, np.random.default_rng(1))
    changed = change_statistic(degrade_frames(hr, varying, scale=2), 2)
    static = degrade_frames(hr, fixed, scale=2)
    assert changed > 100
    assert change_statistic(static, 2) == pytest.approx(0.0, abs=1e-9)  # identical frames: nothing explained
    with pytest.raises(SRInputError, match="cannot be tested"):
        change_statistic(static[:1], 2)


def test_gated_kernels_keep_one_kernel_unless_the_spectra_change():
    est = shipped_estimator(2)
    limit = null_threshold(2, 0.0, 6, 96)
    assert limit > 0 and null_threshold(2, 0.0, 6, 96) == limit  # cached, deterministic
    fixed_clip = synthetic_clip("coffee", schedule="fixed", frames=6, size=(96, 96), scale=2, seed=11)
    per_frame = estimate_kernels(est, fixed_clip.lr)
    kernels, changed = gated_kernels(per_frame, fixed_clip.lr, 2)
    assert not changed and change_statistic(fixed_clip.lr, 2) <= limit
    np.testing.assert_array_equal(kernels, fixed_kernel(per_frame))
    varying_clip = synthetic_clip("coffee", schedule="varying", frames=6, size=(96, 96), scale=2, seed=12)
    per_frame = estimate_kernels(est, varying_clip.lr)
    kernels, changed = gated_kernels(per_frame, varying_clip.lr, 2)
    assert changed
    np.testing.assert_array_equal(kernels, consistent_kernels(per_frame))
    sets = kernel_settings(per_frame, extra=("tested",), clip=varying_clip)
    np.testing.assert_array_equal(sets["tested"], kernels)
    with pytest.raises(SRInputError, match="needs the LR clip"):
        kernel_settings(per_frame, extra=("tested",))
    with pytest.raises(SRInputError, match="one per frame"):
        gated_kernels(per_frame[:3], varying_clip.lr, 2)
