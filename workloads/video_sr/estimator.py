"""A small learned per-frame kernel estimator: directional spectral features and an MLP, trained on CPU.

Why spectral features: a blur with covariance Sigma multiplies the image spectrum by exp(-2 pi^2 f^T Sigma f), so
how the power of an LR frame falls off with frequency, direction by direction, carries the kernel (mixed with the
content's own spectrum and, past the LR Nyquist limit, with aliasing). The features are Welch estimates of the
power spectrum (32 x 32 tiles, half overlap, Hann window, mean removed), averaged over radial bands x orientation
sectors, as logarithms normalised to zero mean (contrast invariance). An MLP maps them to the matrix logarithm of
the kernel covariance (three numbers; any output is a valid kernel).

Training data are made on the fly from random crops of `TRAIN_IMAGES` (never the evaluation photographs), flipped,
transposed and rescaled, blurred with random kernels of the scale's range, subsampled and given random noise,
exactly as `degradation.degrade_frames` does. The loss is the squared error of the log-covariance.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from scipy.fft import next_fast_len
from torch import nn

from workloads.video_sr.clips import TRAIN_IMAGES, load_image, luminance
from workloads.video_sr.kernels import KERNEL_SIZE, SRInputError, sigma_range

TILE = 32
RADIAL_EDGES = tuple(np.linspace(1.5 / TILE, 0.5, 9).tolist()) + (0.75,)
SECTORS = 6
FEATURES = (len(RADIAL_EDGES) - 1) * SECTORS


@lru_cache(maxsize=1)
def _bins() -> tuple[torch.Tensor, torch.Tensor]:
    """Hann window (TILE, TILE) and the (TILE*TILE, FEATURES) averaging matrix of the frequency bins."""
    f = np.fft.fftfreq(TILE)
    fy, fx = np.meshgrid(f, f, indexing="ij")
    r = np.hypot(fx, fy).ravel()
    phi = (np.arctan2(fy, fx).ravel()) % math.pi
    band = np.digitize(r, RADIAL_EDGES) - 1
    sector = np.minimum((phi / math.pi * SECTORS).astype(int), SECTORS - 1)
    m = np.zeros((TILE * TILE, FEATURES))
    ok = (band >= 0) & (band < len(RADIAL_EDGES) - 1)
    m[np.flatnonzero(ok), band[ok] * SECTORS + sector[ok]] = 1.0
    m /= m.sum(axis=0, keepdims=True)
    hann = np.hanning(TILE + 2)[1:-1]
    return torch.from_numpy(np.outer(hann, hann)), torch.from_numpy(m)


def binned_power(lr: torch.Tensor) -> torch.Tensor:
    """Welch power spectra (N, FEATURES) of LR frames (N, h, w), averaged over the frequency bins, float64."""
    window, bins = _bins()
    x = lr.to(torch.float64)[:, None]
    tiles = nn.functional.unfold(x, TILE, stride=TILE // 2)
    n, _, count = tiles.shape
    tiles = tiles.transpose(1, 2).reshape(n, count, TILE, TILE)
    tiles = (tiles - tiles.mean(dim=(2, 3), keepdim=True)) * window
    power = torch.fft.fft2(tiles).abs().pow(2).mean(dim=1).reshape(n, TILE * TILE)
    return power @ bins


def features_from_power(power: torch.Tensor) -> torch.Tensor:
    """Estimator features of binned power spectra: logarithms normalised to zero mean per row."""
    feats = torch.log(power + 1e-12)
    return feats - feats.mean(dim=1, keepdim=True)


def spectral_features(lr: torch.Tensor) -> torch.Tensor:
    """Features (N, FEATURES) of LR frames (N, h, w), h and w >= TILE, float64."""
    return features_from_power(binned_power(lr))


def _log_cov(cov: torch.Tensor) -> torch.Tensor:
    m = torch.stack([torch.stack([cov[:, 0], cov[:, 1]], -1), torch.stack([cov[:, 1], cov[:, 2]], -1)], -2)
    w, v = torch.linalg.eigh(m)
    lm = v @ torch.diag_embed(torch.log(w)) @ v.transpose(1, 2)
    return torch.stack([lm[:, 0, 0], lm[:, 0, 1], lm[:, 1, 1]], -1)


def _exp_cov(lc: torch.Tensor) -> torch.Tensor:
    m = torch.stack([torch.stack([lc[:, 0], lc[:, 1]], -1), torch.stack([lc[:, 1], lc[:, 2]], -1)], -2)
    w, v = torch.linalg.eigh(m)
    e = v @ torch.diag_embed(torch.exp(w)) @ v.transpose(1, 2)
    return torch.stack([e[:, 0, 0], e[:, 0, 1], e[:, 1, 1]], -1)


@dataclass(frozen=True)
class TrainConfig:
    """Training knobs: LR sample size, number of synthetic samples, MLP width and steps, max noise (8-bit levels)."""

    scale: int = 2
    samples: int = 12000
    lr_size: int = 64
    hidden: int = 128
    steps: int = 3000
    batch: int = 256
    lr: float = 2e-3
    noise_max: float = 8.0
    seed: int = 0


class KernelEstimator(nn.Module):
    """Standardised spectral features (N, FEATURES) -> log-covariance (N, 3)."""

    def __init__(self, hidden: int = 128):
        super().__init__()
        self.register_buffer("mean", torch.zeros(FEATURES, dtype=torch.float64))
        self.register_buffer("std", torch.ones(FEATURES, dtype=torch.float64))
        self.net = nn.Sequential(nn.Linear(FEATURES, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, 3)).to(torch.float64)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.net((feats - self.mean) / self.std)


def render_torch(cov: torch.Tensor, size: int = KERNEL_SIZE) -> torch.Tensor:
    """Torch twin of `kernels.render`: (N, 3) -> (N, size, size) kernels summing to 1."""
    r = torch.arange(size, dtype=cov.dtype) - (size - 1) / 2
    y, x = torch.meshgrid(r, r, indexing="ij")
    det = cov[:, 0] * cov[:, 2] - cov[:, 1] ** 2
    ixx, ixy, iyy = cov[:, 2] / det, -cov[:, 1] / det, cov[:, 0] / det
    q = ixx[:, None, None] * x * x + 2 * ixy[:, None, None] * x * y + iyy[:, None, None] * y * y
    k = torch.exp(-0.5 * q)
    return k / k.sum(dim=(1, 2), keepdim=True)


def random_covariances(n: int, scale: int, g: torch.Generator) -> torch.Tensor:
    """(n, 3) covariances with sigmas log-uniform in the scale's range and uniform orientation."""
    r = sigma_range(scale)
    lo, hi = math.log(r.low), math.log(r.high)
    sig = torch.exp(lo + (hi - lo) * torch.rand(n, 2, generator=g, dtype=torch.float64))
    th = math.pi * torch.rand(n, generator=g, dtype=torch.float64)
    c, s = torch.cos(th), torch.sin(th)
    a, b = sig[:, 0] ** 2, sig[:, 1] ** 2
    return torch.stack([c * c * a + s * s * b, c * s * (a - b), s * s * a + c * c * b], dim=1)


@lru_cache(maxsize=64)
def _pyramid(name: str) -> tuple[torch.Tensor, ...]:
    """A training photograph at magnifications 1, 0.8 and 0.64 (anti-aliased), for content at several scales."""
    from skimage.transform import rescale

    img = load_image(name).astype(np.float64)
    h, w = img.shape
    m = 640  # large photographs (retina, hubble) are centre-cropped: cheaper, and enough content
    img = img[max(0, (h - m) // 2):max(0, (h - m) // 2) + m, max(0, (w - m) // 2):max(0, (w - m) // 2) + m]
    return tuple(torch.from_numpy(img if z == 1 else rescale(img, z, order=3, anti_aliasing=True))
                 for z in (1.0, 0.8, 0.64))


def synthetic_samples(n: int, *, scale: int, lr_size: int, noise_max: float, g: torch.Generator,
                      images: tuple[str, ...] = TRAIN_IMAGES) -> tuple[torch.Tensor, torch.Tensor]:
    """n pairs (LR crop (n, lr_size, lr_size), true covariance (n, 3)) degraded like `degrade_frames`."""
    k = KERNEL_SIZE
    hr_size = lr_size * scale + k - 1
    pool = [img for name in images for img in _pyramid(name) if min(img.shape) >= hr_size]
    if not pool:
        raise SRInputError(f"no training image is as large as a {hr_size}-pixel HR crop; use a smaller lr_size")
    crops = []
    for i in torch.randint(len(pool), (n,), generator=g).tolist():
        img = pool[i]
        y0 = int(torch.randint(img.shape[0] - hr_size + 1, (1,), generator=g))
        x0 = int(torch.randint(img.shape[1] - hr_size + 1, (1,), generator=g))
        c = img[y0:y0 + hr_size, x0:x0 + hr_size]
        flips = torch.randint(2, (3,), generator=g).tolist()
        c = c.flip(0) if flips[0] else c
        c = c.flip(1) if flips[1] else c
        crops.append(c.T if flips[2] else c)
    hr = torch.stack(crops)
    cov = random_covariances(n, scale, g)
    m = next_fast_len(hr_size)
    kern = render_torch(cov, k)
    # circular convolution by FFT; rows/columns k-1 .. hr_size-1 never wrap: they are the 'valid' convolution
    full = torch.fft.irfft2(torch.fft.rfft2(hr, s=(m, m)) * torch.fft.rfft2(kern, s=(m, m)), s=(m, m))
    lr = full[:, k - 1:hr_size:scale, k - 1:hr_size:scale]
    sigma = noise_max / 255.0 * torch.rand(n, 1, 1, generator=g, dtype=torch.float64)
    lr = (lr + sigma * torch.randn(lr.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    return lr, cov


@dataclass
class TrainedEstimator:
    """A trained estimator with its configuration and training log (loss per step, held-out kernel error)."""

    model: KernelEstimator
    config: TrainConfig
    losses: list[float]
    seconds: float
    val_kernel_error: float

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # float32 halves the file; the model computes in float64 after loading
        arrays = {f"w.{k}": v.detach().numpy().astype(np.float32) for k, v in self.model.state_dict().items()}
        arrays.update({f"c.{k}": np.asarray(v) for k, v in asdict(self.config).items()})
        np.savez_compressed(path, losses=np.asarray(self.losses), seconds=np.float64(self.seconds),
                            val_kernel_error=np.float64(self.val_kernel_error), **arrays)
        return path

    @staticmethod
    def load(path: str | Path) -> "TrainedEstimator":
        path = Path(path)
        if not path.is_file():
            raise SRInputError(f"estimator file '{path}' does not exist; train one with `ovl sr train`")
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
            defaults = TrainConfig()
            config = TrainConfig(**{k: type(getattr(defaults, k))(data[f"c.{k}"].item())
                                    for k in TrainConfig.__dataclass_fields__})
            model = KernelEstimator(config.hidden)
            model.load_state_dict({k[2:]: torch.from_numpy(v) for k, v in data.items() if k.startswith("w.")})
            return TrainedEstimator(model.eval(), config, data["losses"].tolist(), float(data["seconds"]),
                                    float(data["val_kernel_error"]))
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise SRInputError(f"estimator file '{path}' is not a valid estimator ({exc}); "
                               "retrain it with `ovl sr train`") from None


SHIPPED_DIR = Path(__file__).parent / "data"


def shipped_estimator(scale: int) -> TrainedEstimator:
    """The estimator shipped for `scale` (trained by `ovl sr train` with the default settings, see data/README.md)."""
    sigma_range(scale)
    path = SHIPPED_DIR / f"estimator_x{scale}.npz"
    if not path.is_file():
        raise SRInputError(f"no shipped estimator for x{scale} ({path}); train one with `ovl sr train` and pass "
                           "--model")
    return TrainedEstimator.load(path)


def _kernel_l2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (render_torch(a) - render_torch(b)).pow(2).sum(dim=(1, 2)).sqrt()


def train_estimator(config: TrainConfig = TrainConfig()) -> TrainedEstimator:
    """Train a `KernelEstimator` for `config.scale` (Adam, cosine learning-rate decay, everything seeded).

    One tenth of the samples is held out; `val_kernel_error` is their mean kernel L2 error after training."""
    sigma_range(config.scale)
    if config.lr_size < TILE or config.samples < 20:
        raise SRInputError(f"training needs LR samples of >= {TILE} pixels and >= 20 samples")
    start = time.perf_counter()
    g = torch.Generator().manual_seed(config.seed)
    feats, targets, covs = [], [], []
    for lo in range(0, config.samples, 500):
        lr, cov = synthetic_samples(min(500, config.samples - lo), scale=config.scale, lr_size=config.lr_size,
                                    noise_max=config.noise_max, g=g)
        feats.append(spectral_features(lr))
        targets.append(_log_cov(cov))
        covs.append(cov)
    x, y, c = torch.cat(feats), torch.cat(targets), torch.cat(covs)
    n_val = max(config.samples // 10, 1)
    with torch.random.fork_rng():  # seeded initial weights without touching the caller's global RNG
        torch.manual_seed(config.seed)
        model = KernelEstimator(config.hidden)
    model.mean.copy_(x[n_val:].mean(dim=0))
    model.std.copy_(x[n_val:].std(dim=0) + 1e-6)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.steps)
    losses: list[float] = []
    n_train = len(x) - n_val
    for _ in range(config.steps):
        idx = n_val + torch.randint(n_train, (config.batch,), generator=g)
        loss = (model(x[idx]) - y[idx]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    model.eval()
    with torch.no_grad():
        val = float(_kernel_l2(_exp_cov(model(x[:n_val])), c[:n_val]).mean())
    return TrainedEstimator(model, config, losses, time.perf_counter() - start, val)


def estimate_kernels(estimator: TrainedEstimator, lr: np.ndarray, *, pool: np.ndarray | None = None) -> np.ndarray:
    """Independent per-frame covariance estimates (T, 3) for an LR clip (T, h, w[, 3]) (colour uses luminance).

    `pool` (T, T), optional: pools evidence instead of estimates: the estimate of frame t is made from the power
    spectra of all frames weighted by row t (e.g. a window mean), so the estimator sees more tiles."""
    lr = np.asarray(lr, dtype=np.float64)
    if lr.ndim == 4 and lr.shape[-1] == 3:
        lr = luminance(lr)
    if lr.ndim != 3:
        raise SRInputError(f"LR clip has shape {lr.shape}; expected (T, h, w) or (T, h, w, 3)")
    if min(lr.shape[1:]) < TILE:
        raise SRInputError(f"LR frames of {lr.shape[1]}x{lr.shape[2]} are too small for the kernel estimator; "
                           f"it needs at least {TILE}x{TILE}")
    if pool is not None and np.shape(pool) != (len(lr), len(lr)):
        raise SRInputError(f"pooling matrix has shape {np.shape(pool)}; expected ({len(lr)}, {len(lr)})")
    with torch.no_grad():
        if pool is None:
            feats = spectral_features(torch.from_numpy(lr))
        else:
            feats = features_from_power(torch.from_numpy(np.asarray(pool, dtype=np.float64)) @
                                        binned_power(torch.from_numpy(lr)))
        return _exp_cov(estimator.model(feats)).numpy()
