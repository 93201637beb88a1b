"""Non-blind restoration: the closed-form data step, bicubic alignment, and restoration quality."""
import numpy as np
import pytest

from workloads.video_sr.degradation import degrade_frames
from workloads.video_sr.kernels import GaussianKernel, SRInputError, render
from workloads.video_sr.metrics import clip_quality
from workloads.video_sr.restoration import (RestoreConfig, bicubic, data_step, psf2otf, restore_clip,
                                            restore_frame, upsample)


@pytest.mark.parametrize("scale", [2, 4])
def test_data_step_solves_the_normal_equations(scale):
    rng = np.random.default_rng(scale)
    n = 4 * scale
    k = render(GaussianKernel(1.3, 0.7, 0.4).covariance(), 7)
    otf = psf2otf(k, (n, n))

    def blur_sub(x):
        return np.real(np.fft.ifft2(otf * np.fft.fft2(x.reshape(n, n))))[::scale, ::scale].ravel()

    a = np.stack([blur_sub(e) for e in np.eye(n * n)], axis=1)  # dense (n/s)^2 x n^2 operator
    y, z, mu = rng.random((n // scale, n // scale)), rng.random((n, n)), 0.07
    expected = np.linalg.solve(a.T @ a + mu * np.eye(n * n), a.T @ y.ravel() + mu * z.ravel())
    np.testing.assert_allclose(data_step(y, otf, z, mu, scale).ravel(), expected, atol=1e-9)


def test_psf2otf_is_circular_convolution_with_the_centred_kernel():
    rng = np.random.default_rng(0)
    x = rng.random((12, 12))
    k = render(GaussianKernel(1.0, 2.0, 0.3).covariance(), 5)
    via_fft = np.real(np.fft.ifft2(psf2otf(k, x.shape) * np.fft.fft2(x)))
    direct = sum(k[a, b] * np.roll(x, (a - 2, b - 2), axis=(0, 1)) for a in range(5) for b in range(5))
    np.testing.assert_allclose(via_fft, direct, atol=1e-12)


@pytest.mark.parametrize("scale", [2, 4])
def test_upsample_puts_lr_pixel_j_on_hr_pixel_sj(scale):
    n, b = 24 * scale, 4 * scale
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    ramp = 0.01 * yy + 0.005 * xx
    up = upsample(ramp[::scale, ::scale], scale)
    np.testing.assert_allclose(up[b:-b, b:-b], ramp[b:-b, b:-b], atol=1e-4)  # half a pixel off would be 5e-3


def test_restoration_with_the_true_kernel_beats_bicubic_and_a_wrong_kernel(tmp_path):
    from workloads.video_sr.clips import load_image

    hr = load_image("camera")[None, 160:256, 200:296].copy()
    true = GaussianKernel(1.6, 1.0, 0.5).covariance()
    wrong = GaussianKernel(0.7, 0.7, 0.0).covariance()
    lr = degrade_frames(hr, true[None], scale=2)
    q_true = clip_quality(restore_clip(lr, true[None], scale=2), hr, border=8)
    q_wrong = clip_quality(restore_clip(lr, wrong[None], scale=2), hr, border=8)
    q_bic = clip_quality(bicubic(lr, 2), hr, border=8)
    assert q_true.psnr > q_bic.psnr + 1.0 and q_true.psnr > q_wrong.psnr + 0.5
    assert q_true.ssim > q_bic.ssim


def test_colour_frames_are_restored_per_channel():
    rng = np.random.default_rng(1)
    lr = rng.random((10, 12, 3))
    cov = GaussianKernel(1.0, 1.0, 0.0).covariance()
    cfg = RestoreConfig(iterations=2)
    out = restore_frame(lr, cov, scale=2, config=cfg)
    assert out.shape == (20, 24, 3)
    np.testing.assert_allclose(out[..., 1], restore_frame(lr[..., 1], cov, scale=2, config=cfg), atol=1e-6)


def test_bad_restoration_inputs_raise_user_errors():
    cov = GaussianKernel(1.0, 1.0, 0.0).covariance()
    with pytest.raises(SRInputError, match="one kernel per frame"):
        restore_clip(np.zeros((3, 8, 8)), np.stack([cov, cov]), scale=2)
    with pytest.raises(SRInputError, match="expected"):
        restore_frame(np.zeros(8), cov, scale=2)
    with pytest.raises(SRInputError, match="differ in shape"):
        clip_quality(np.zeros((1, 40, 40)), np.zeros((1, 40, 41)), border=4)
