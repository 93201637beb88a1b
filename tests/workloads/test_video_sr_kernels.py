"""Kernels, schedules and the kernel metrics of the video SR workload."""
import math

import numpy as np
import pytest

from workloads.video_sr.kernels import (GaussianKernel, SRInputError, covariances, kernel_error, kernel_schedule,
                                        load_kernels, render, save_kernels, sigma_range, temporal_consistency)


def test_isotropic_kernel_is_the_separable_gaussian():
    k = render(GaussianKernel(1.5, 1.5, 0.7).covariance(), 21)
    g = np.exp(-0.5 * (np.arange(21) - 10) ** 2 / 1.5 ** 2)
    np.testing.assert_allclose(k, np.outer(g, g) / np.outer(g, g).sum(), atol=1e-12)


def test_rendered_kernel_has_the_requested_second_moments():
    k = GaussianKernel(2.0, 0.8, math.radians(30))
    img = render(k.covariance(), 31)
    r = np.arange(31) - 15
    y, x = np.meshgrid(r, r, indexing="ij")
    moments = [(img * x * x).sum(), (img * x * y).sum(), (img * y * y).sum()]
    assert img.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(moments, k.covariance(), rtol=1e-3)
    # rotation by 30 degrees: the major axis points along (cos 30, sin 30) in (x, y)
    assert (img * (x * math.cos(math.radians(30)) + y * math.sin(math.radians(30))) ** 2).sum() == pytest.approx(4.0,
                                                                                                              rel=1e-3)


def test_covariance_round_trip_is_the_same_kernel():
    for k in (GaussianKernel(1.0, 2.5, 0.3), GaussianKernel(3.0, 1.1, 2.9), GaussianKernel(1.2, 1.2, 1.0)):
        back = GaussianKernel.from_covariance(k.covariance())
        np.testing.assert_allclose(back.covariance(), k.covariance(), atol=1e-12)
        assert back.sigma_x >= back.sigma_y and 0 <= back.theta < math.pi


def test_metrics_known_values():
    a, b = GaussianKernel(1.0, 1.0, 0).covariance(), GaussianKernel(2.0, 1.0, 0).covariance()
    d = float(np.sqrt(((render(a) - render(b)) ** 2).sum()))
    assert d > 0.05
    assert temporal_consistency(np.stack([a, a, a])) == 0.0
    assert temporal_consistency(np.stack([a, b, a])) == pytest.approx(d)
    assert kernel_error(np.stack([a, a]), np.stack([a, b])) == pytest.approx(d / 2)
    assert kernel_error(np.stack([a, b]), np.stack([a, b])) == 0.0


def test_schedules_fixed_varying_and_seeded():
    rng = np.random.default_rng(3)
    fixed = kernel_schedule("fixed", 12, 2, rng)
    assert fixed.shape == (12, 3) and np.all(fixed == fixed[0])
    v1 = kernel_schedule("varying", 16, 4, np.random.default_rng(5))
    v2 = kernel_schedule("varying", 16, 4, np.random.default_rng(5))
    np.testing.assert_array_equal(v1, v2)
    ks = [GaussianKernel.from_covariance(c) for c in v1]
    r = sigma_range(4)
    assert all(r.low * 0.999 <= k.sigma_y <= k.sigma_x <= r.high * 1.001 for k in ks)
    steps = np.sqrt(((render(v1[1:]) - render(v1[:-1])) ** 2).sum(axis=(1, 2)))
    total = np.sqrt(((render(v1[-1]) - render(v1[0])) ** 2).sum())
    assert total > 0 and steps.max() < 0.5 * total  # smooth: no single step carries the change
    assert steps[0] < steps[len(steps) // 2] and steps[-1] < steps[len(steps) // 2]  # cosine easing


def test_kernel_file_round_trip(tmp_path):
    cov = covariances([GaussianKernel(1.0, 2.0, 0.5), GaussianKernel(1.5, 1.0, 0.1)])
    save_kernels(tmp_path / "k.npz", cov, setting="consistent")
    back, setting = load_kernels(tmp_path / "k.npz")
    np.testing.assert_array_equal(back, cov)
    assert setting == "consistent"


def test_bad_kernel_inputs_raise_user_errors(tmp_path):
    with pytest.raises(SRInputError, match="sigmas must be positive"):
        GaussianKernel(0.0, 1.0, 0.0)
    with pytest.raises(SRInputError, match="positive definite"):
        render(np.array([1.0, 2.0, 1.0]))
    with pytest.raises(SRInputError, match="scale 3"):
        sigma_range(3)
    with pytest.raises(SRInputError, match="unknown"):
        kernel_schedule("wobbly", 4, 2, np.random.default_rng(0))  # type: ignore[arg-type]
    with pytest.raises(SRInputError, match="does not exist"):
        load_kernels(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(SRInputError, match="not a readable"):
        load_kernels(tmp_path / "bad.npz")
