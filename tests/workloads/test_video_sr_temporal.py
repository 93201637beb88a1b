"""Temporal aggregation of per-frame kernel estimates."""
import numpy as np
import pytest

from workloads.video_sr.kernels import GaussianKernel, SRInputError, covariances, kernel_error, kernel_schedule
from workloads.video_sr.temporal import (Window, _from_log, _to_log, choose_window, consistent_kernels, fit_state_space,
                                         fixed_kernel, smoother_matrix, state_space_kernels)


def _log_linear(frames: int) -> np.ndarray:
    """Sigmas changing geometrically and the angle linearly: a straight line in log-covariance only for a
    fixed angle, so keep the angle fixed."""
    return covariances([GaussianKernel(1.0 * 1.05 ** t, 2.0 * 0.97 ** t, 0.6) for t in range(frames)])


def _noisy(cov: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    return _from_log(_to_log(cov) + level * rng.standard_normal(cov.shape))


@pytest.mark.parametrize("frames,window,order", [(16, 5, 1), (16, 16, 0), (9, 3, 1), (7, 20, 1), (5, 2, 1)])
def test_smoother_rows_are_affine_weights(frames, window, order):
    h = smoother_matrix(frames, window, order)
    np.testing.assert_allclose(h.sum(axis=1), 1.0, atol=1e-12)
    if order == 1 and min(window, frames) >= 3:
        t = np.arange(frames, dtype=np.float64)
        np.testing.assert_allclose(h @ (3.0 - 0.2 * t), 3.0 - 0.2 * t, atol=1e-12)  # lines are kept exactly


def test_log_linear_tracks_are_reproduced_exactly():
    cov = _log_linear(12)
    np.testing.assert_allclose(consistent_kernels(cov, 5), cov, rtol=1e-9)
    np.testing.assert_allclose(consistent_kernels(cov, 12), cov, rtol=1e-9)
    const = np.repeat(cov[:1], 6, axis=0)
    np.testing.assert_allclose(fixed_kernel(const), const, rtol=1e-12)


def test_window_choice_keeps_one_kernel_for_static_clips_and_follows_changing_ones():
    rng = np.random.default_rng(0)
    static = np.repeat(GaussianKernel(1.5, 0.9, 1.0).covariance()[None], 16, axis=0)
    picks = [choose_window(_noisy(static, 0.05, rng)) for _ in range(20)]
    assert sum(w == Window(16, 0) for w in picks) >= 16
    changing = kernel_schedule("varying", 16, 2, np.random.default_rng(4))
    picks = [choose_window(_noisy(changing, 0.01, rng)) for _ in range(10)]
    assert all(w.order == 1 for w in picks)


def _mean_errors_on_varying_clips(smooth, rng) -> dict[str, float]:
    """Mean kernel error of independent, fixed and `smooth`ed estimates over 8 noisy varying schedules."""
    errs = {"independent": [], "fixed": [], "smoothed": []}
    for seed in range(8):
        true = kernel_schedule("varying", 16, 2, np.random.default_rng(seed))
        est = _noisy(true, 0.08, rng)
        errs["independent"].append(kernel_error(est, true))
        errs["fixed"].append(kernel_error(fixed_kernel(est), true))
        errs["smoothed"].append(kernel_error(smooth(est), true))
    return {k: float(np.mean(v)) for k, v in errs.items()}


def test_consistent_kernels_reduce_estimation_noise_on_changing_clips():
    mean = _mean_errors_on_varying_clips(consistent_kernels, np.random.default_rng(1))
    assert mean["smoothed"] < 0.8 * mean["independent"] and mean["smoothed"] < 0.8 * mean["fixed"]


def test_results_are_valid_covariances():
    rng = np.random.default_rng(2)
    est = _noisy(kernel_schedule("varying", 10, 4, np.random.default_rng(3)), 0.3, rng)
    for out in (consistent_kernels(est), consistent_kernels(est, 3), fixed_kernel(est)):
        assert np.all(out[:, 0] > 0) and np.all(out[:, 0] * out[:, 2] - out[:, 1] ** 2 > 0)


def test_bad_estimates_raise_user_errors():
    with pytest.raises(SRInputError, match="expected"):
        fixed_kernel(np.zeros((4, 2)))
    with pytest.raises(SRInputError, match="positive definite"):
        consistent_kernels(np.array([[1.0, 2.0, 1.0]] * 4))
    with pytest.raises(SRInputError, match="invalid"):
        smoother_matrix(5, 0)


def test_state_space_returns_the_clip_wide_estimate_on_a_constant_sequence():
    """White-noise estimates of one kernel: BIC keeps the constant model, so the result is the clip-wide
    log-Euclidean mean (== fixed_kernel, exactly) and closer to the truth than the per-frame estimates."""
    rng = np.random.default_rng(5)
    true = np.repeat(GaussianKernel(1.4, 0.8, 0.5).covariance()[None], 16, axis=0)
    kept = 0
    for _ in range(20):
        est = _noisy(true, 0.1, rng)
        out = state_space_kernels(est)
        fit = fit_state_space(est)
        if fit.model == "constant":
            kept += 1
            np.testing.assert_array_equal(out, fixed_kernel(est))
            np.testing.assert_allclose(_from_log(fit.smoothed), out, rtol=1e-9)
        assert kernel_error(out, true) < kernel_error(est, true)
    assert kept >= 17


def test_state_space_tracks_smoothly_varying_kernels_better_than_independent_estimates():
    def smoothed(est):
        assert fit_state_space(est).model == "irw"
        return state_space_kernels(est)

    mean = _mean_errors_on_varying_clips(smoothed, np.random.default_rng(6))
    assert mean["smoothed"] < 0.8 * mean["independent"] and mean["smoothed"] < 0.5 * mean["fixed"]


def test_state_space_fit_follows_a_noise_free_track_and_rejects_unknown_models():
    cov = _log_linear(10)
    fit = fit_state_space(cov)
    assert fit.model == "irw"
    np.testing.assert_allclose(_from_log(fit.smoothed), cov, rtol=1e-6)
    assert state_space_kernels(cov[:3]).shape == (3, 3)  # too short for the spline model: constant
    with pytest.raises(SRInputError, match="unknown"):
        fit_state_space(cov, models=("kalman",))


def test_consistent_kernels_return_the_clip_wide_estimate_on_a_constant_sequence():
    """The windowed fit: when the window choice keeps one kernel, the result is the clip-wide estimate."""
    rng = np.random.default_rng(7)
    true = np.repeat(GaussianKernel(0.9, 1.6, 2.0).covariance()[None], 16, axis=0)
    close = 0
    for _ in range(20):
        est = _noisy(true, 0.1, rng)
        close += np.allclose(consistent_kernels(est), fixed_kernel(est), rtol=1e-9)
    assert close >= 16
