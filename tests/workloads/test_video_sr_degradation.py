"""Synthetic clips (camera motion over bundled photographs) and the degradation model."""
import numpy as np
import pytest
from scipy import ndimage

from workloads.video_sr.clips import TEST_IMAGES, TRAIN_IMAGES, CameraMotion, load_image, make_clip
from workloads.video_sr.degradation import DegradedClip, degrade_frames, synthetic_clip
from workloads.video_sr.kernels import GaussianKernel, SRInputError, render


def test_train_and_test_photographs_are_disjoint_and_local():
    assert not set(TEST_IMAGES) & set(TRAIN_IMAGES) and len(TEST_IMAGES) >= 5
    for name in TEST_IMAGES + TRAIN_IMAGES[:2]:
        img = load_image(name)
        assert img.ndim == 2 and img.dtype == np.float32 and 0 <= img.min() and img.max() <= 1
        assert min(img.shape) >= 160


def test_camera_motion_is_a_known_shift():
    img = load_image("camera")
    still = make_clip(img, frames=3, size=(40, 48), motion=CameraMotion(0.0, 0.0, 1.0))
    assert np.all(still == still[0])
    pan = make_clip(img, frames=3, size=(40, 48), motion=CameraMotion(2.0, -1.0, 1.0))
    # integer pan: frame t at (i, j) sees what frame 0 saw at (i + t*pan_y, j + t*pan_x)
    np.testing.assert_allclose(pan[2][2:, :-4], pan[0][:-2, 4:], atol=1e-5)
    sub = make_clip(img, frames=2, size=(40, 48), motion=CameraMotion(0.5, 0.0, 1.0))
    half = ndimage.shift(sub[0].astype(np.float64), (0, -0.5), order=3, mode="mirror")
    assert np.abs(sub[1] - sub[0]).mean() > 1e-3
    assert np.abs(sub[1][:, 4:-4] - half[:, 4:-4]).mean() < 0.3 * np.abs(sub[1] - sub[0])[:, 4:-4].mean()


def test_zoom_magnifies():
    img = load_image("astronaut")
    clip = make_clip(img, frames=2, size=(64, 64), motion=CameraMotion(0.0, 0.0, 1.25))
    # frame 1 at offset d from the centre shows what frame 0 shows at offset d / 1.25
    d = np.arange(64) - 31.5
    gy, gx = np.meshgrid(31.5 + d / 1.25, 31.5 + d / 1.25, indexing="ij")
    expected = ndimage.map_coordinates(clip[0].astype(np.float64), [gy, gx], order=3)
    err = np.abs(clip[1] - expected)[8:-8, 8:-8].mean()
    assert err < 0.01 and err < 0.2 * np.abs(clip[1] - clip[0])[8:-8, 8:-8].mean()


def test_degradation_is_blur_then_subsample():
    rng = np.random.default_rng(0)
    hr = rng.random((2, 32, 36)).astype(np.float32)
    cov = np.stack([GaussianKernel(1.0, 2.0, 0.4).covariance(), GaussianKernel(1.5, 1.5, 0).covariance()])
    lr = degrade_frames(hr, cov, scale=2)
    assert lr.shape == (2, 16, 18)
    k = render(cov[0])
    # pixel (5, 7) of LR frame 0 is the kernel-weighted sum around HR pixel (10, 14)
    patch = hr[0, 10 - 10:10 + 11, 14 - 10:14 + 11]
    assert lr[0, 5, 7] == pytest.approx(float((patch * k[::-1, ::-1]).sum()), abs=1e-5)
    flat = degrade_frames(np.full((1, 16, 16), 0.4, np.float32), cov[:1], scale=4)
    np.testing.assert_allclose(flat, 0.4, atol=1e-6)


def test_noise_is_seeded_and_sized():
    hr = np.full((3, 32, 32), 0.5, np.float32)
    cov = np.repeat(GaussianKernel(1.0, 1.0, 0).covariance()[None], 3, axis=0)
    a = degrade_frames(hr, cov, scale=2, noise=10.0, rng=np.random.default_rng(1))
    b = degrade_frames(hr, cov, scale=2, noise=10.0, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert np.std(a - 0.5) == pytest.approx(10 / 255, rel=0.1)


def test_synthetic_clip_round_trip(tmp_path):
    clip = synthetic_clip("coffee", schedule="varying", frames=4, size=(64, 64), scale=4, noise=2.0, seed=7)
    assert clip.hr.shape == (4, 64, 64) and clip.lr.shape == (4, 16, 16) and clip.kernels.shape == (4, 3)
    back = DegradedClip.load(clip.save(tmp_path / "c.npz"))
    np.testing.assert_array_equal(back.lr, clip.lr)
    np.testing.assert_array_equal(back.hr, clip.hr)
    np.testing.assert_array_equal(back.kernels, clip.kernels)
    assert (back.scale, back.noise, back.schedule, back.name) == (4, 2.0, "varying", "coffee-varying")
    again = synthetic_clip("coffee", schedule="varying", frames=4, size=(64, 64), scale=4, noise=2.0, seed=7)
    np.testing.assert_array_equal(again.lr, clip.lr)
    color = synthetic_clip("coffee", schedule="fixed", frames=2, size=(32, 32), scale=2, color=True)
    assert color.hr.shape == (2, 32, 32, 3) and color.lr.shape == (2, 16, 16, 3)


def test_bad_degradation_inputs_raise_user_errors(tmp_path):
    cov = GaussianKernel(1.0, 1.0, 0).covariance()[None]
    with pytest.raises(SRInputError, match="not divisible"):
        degrade_frames(np.zeros((1, 30, 30)), cov, scale=4)
    with pytest.raises(SRInputError, match="one kernel per frame"):
        degrade_frames(np.zeros((2, 32, 32)), cov, scale=2)
    with pytest.raises(SRInputError, match="negative"):
        degrade_frames(np.zeros((1, 32, 32)), cov, scale=2, noise=-1)
    with pytest.raises(SRInputError, match="scale 3"):
        degrade_frames(np.zeros((1, 30, 30)), cov, scale=3)
    with pytest.raises(SRInputError, match="does not fit"):
        make_clip(load_image("camera"), frames=200, size=(400, 400), motion=CameraMotion(1.0, 1.0))
    with pytest.raises(SRInputError, match="unknown"):
        load_image("lena")
    with pytest.raises(SRInputError, match="does not exist"):
        DegradedClip.load(tmp_path / "none.npz")
    np.savez(tmp_path / "x.npz", foo=np.zeros(2))
    with pytest.raises(SRInputError, match="lacks"):
        DegradedClip.load(tmp_path / "x.npz")
