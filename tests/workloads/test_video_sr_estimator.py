"""The learned per-frame kernel estimator: features, training data, training, persistence, shipped weights."""
import numpy as np
import pytest
import torch

from workloads.video_sr.degradation import blur, synthetic_clip
from workloads.video_sr.estimator import (TrainConfig, TrainedEstimator, estimate_kernels, render_torch,
                                          shipped_estimator, spectral_features, synthetic_samples, train_estimator)
from workloads.video_sr.kernels import GaussianKernel, SRInputError, kernel_error, render


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def test_features_ignore_brightness_and_contrast():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.random((2, 48, 40)))
    f = spectral_features(x)
    assert f.shape[0] == 2 and torch.isfinite(f).all()
    torch.testing.assert_close(spectral_features(0.3 * x + 0.2), f)


def test_features_see_blur_direction():
    """Blur along x removes power at horizontal frequencies (orientation sector 0); blur along y at vertical
    ones (sector 3 of 6, around 90 degrees)."""
    from workloads.video_sr.estimator import SECTORS

    rng = np.random.default_rng(1)
    hr = rng.random((96, 96))
    bx = blur(hr, render(GaussianKernel(2.0, 0.5, 0.0).covariance()))[::2, ::2]
    by = blur(hr, render(GaussianKernel(0.5, 2.0, 0.0).covariance()))[::2, ::2]
    fx, fy = spectral_features(torch.from_numpy(np.stack([bx, by]))).reshape(2, -1, SECTORS)
    high = slice(4, 8)
    assert float((fy[high, 0] - fx[high, 0]).min()) > 1.0
    assert float((fx[high, 3] - fy[high, 3]).min()) > 1.0


def test_training_samples_match_the_degradation_model():
    g = torch.Generator().manual_seed(3)
    lr, cov = synthetic_samples(3, scale=2, lr_size=32, noise_max=0.0, g=g)
    assert lr.shape == (3, 32, 32) and cov.shape == (3, 3)
    torch.testing.assert_close(render_torch(cov), torch.from_numpy(render(cov.numpy())))
    # the FFT blur equals scipy's convolution on the same crop (valid region, subsampled)
    rng = np.random.default_rng(0)
    hr = rng.random((2 * 32 + 20, 2 * 32 + 20))
    k = render(cov[0].numpy())
    ref = blur(hr, k)[10:-10, 10:-10][::2, ::2]
    full = torch.fft.irfft2(torch.fft.rfft2(torch.from_numpy(hr), s=(90, 90)) *
                            torch.fft.rfft2(torch.from_numpy(k), s=(90, 90)), s=(90, 90))
    np.testing.assert_allclose(full[20:84:2, 20:84:2].numpy(), ref, atol=1e-12)


def test_tiny_training_learns_is_seeded_and_round_trips(tmp_path):
    cfg = TrainConfig(scale=2, samples=400, lr_size=32, hidden=32, steps=200, batch=64, seed=5)
    a = train_estimator(cfg)
    b = train_estimator(cfg)
    assert a.losses == b.losses
    assert np.mean(a.losses[-20:]) < 0.6 * np.mean(a.losses[:10])
    # on fresh samples it beats the best constant guess (the prior's geometric-mean kernel)
    lr, cov = synthetic_samples(60, scale=2, lr_size=32, noise_max=8.0, g=torch.Generator().manual_seed(99))
    guess = np.repeat(GaussianKernel(*(2 * [float(np.sqrt(0.6 * 2.0))]), 0.0).covariance()[None], 60, axis=0)
    assert kernel_error(estimate_kernels(a, lr.numpy()), cov.numpy()) < 0.9 * kernel_error(guess, cov.numpy())
    back = TrainedEstimator.load(a.save(tmp_path / "est.npz"))
    assert back.config == cfg and back.val_kernel_error == pytest.approx(a.val_kernel_error)
    lr = synthetic_clip("camera", schedule="fixed", frames=2, size=(64, 64), scale=2, seed=1).lr
    np.testing.assert_allclose(estimate_kernels(back, lr), estimate_kernels(a, lr), rtol=1e-5)


@pytest.mark.parametrize("scale", [2, 4])
def test_shipped_estimator_is_informative_on_unseen_photographs(scale):
    est = shipped_estimator(scale)
    assert est.config.scale == scale
    size = (192, 192) if scale == 2 else (256, 256)
    errs, prior_errs = [], []
    for i, image in enumerate(("astronaut", "chelsea")):
        clip = synthetic_clip(image, schedule="varying", frames=4, size=size, scale=scale, seed=20 + i)
        est_k = estimate_kernels(est, clip.lr)
        errs.append(kernel_error(est_k, clip.kernels))
        mid = GaussianKernel(*(2 * [float(np.sqrt(0.6 * 2.0)) * scale / 2]), 0.0).covariance()
        prior_errs.append(kernel_error(np.repeat(mid[None], 4, axis=0), clip.kernels))
    assert np.mean(errs) < 0.6 * np.mean(prior_errs)


def test_shipped_estimator_orders_blur_strength():
    est = shipped_estimator(2)
    clip = synthetic_clip("rocket", schedule="fixed", frames=1, size=(192, 192), scale=2, seed=0)
    from workloads.video_sr.degradation import degrade_frames

    sharp = degrade_frames(clip.hr, GaussianKernel(0.7, 0.7, 0).covariance()[None], scale=2)
    soft = degrade_frames(clip.hr, GaussianKernel(1.8, 1.8, 0).covariance()[None], scale=2)
    det = lambda c: c[0, 0] * c[0, 2] - c[0, 1] ** 2  # noqa: E731
    assert det(estimate_kernels(est, sharp)) < det(estimate_kernels(est, soft))


def test_bad_estimator_inputs_raise_user_errors(tmp_path):
    est = shipped_estimator(2)
    with pytest.raises(SRInputError, match="too small"):
        estimate_kernels(est, np.zeros((2, 16, 16)))
    with pytest.raises(SRInputError, match="does not exist"):
        TrainedEstimator.load(tmp_path / "no.npz")
    np.savez(tmp_path / "junk.npz", a=np.zeros(3))
    with pytest.raises(SRInputError, match="not a valid estimator"):
        TrainedEstimator.load(tmp_path / "junk.npz")
    with pytest.raises(SRInputError, match="scale 3"):
        shipped_estimator(3)


def test_pooled_evidence_estimates():
    """Pooling spectra with the identity is the per-frame estimate; pooling the whole clip gives one estimate."""
    clip = synthetic_clip("coffee", schedule="fixed", frames=4, size=(96, 96), scale=2, seed=2)
    est = shipped_estimator(2)
    per_frame = estimate_kernels(est, clip.lr)
    np.testing.assert_array_equal(estimate_kernels(est, clip.lr, pool=np.eye(4)), per_frame)
    pooled = estimate_kernels(est, clip.lr, pool=np.full((4, 4), 0.25))
    np.testing.assert_allclose(pooled, pooled[:1].repeat(4, axis=0), rtol=1e-12)
    with pytest.raises(SRInputError, match="pooling matrix"):
        estimate_kernels(est, clip.lr, pool=np.eye(3))
