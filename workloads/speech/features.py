"""Log-mel filterbank features in numpy (no audio library): framing, Hann window, power spectrum, mel bank, log.

`FeatureConfig` fixes every parameter; `log_mel(signal, cfg)` gives (frames, n_mels) float32 and `fixed_length`
brings a variable-length utterance to `cfg.frames` frames (left padding with the silence floor, so the spoken digit
ends at the last step a unidirectional LSTM sees; utterances that are too long keep their loudest window).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np


@dataclass(frozen=True)
class FeatureConfig:
    sample_rate: int = 8000
    n_fft: int = 256          # 32 ms window at 8 kHz
    hop: int = 160            # 20 ms hop
    n_mels: int = 32
    f_min: float = 0.0
    f_max: float = 4000.0
    frames: int = 48          # 0.96 s: covers 99 % of FSDD utterances (longest 2.28 s)
    floor: float = 1e-6       # power floor before the log (the value padding uses)


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: 2595 log10(1 + f / 700)."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


@cache
def mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """Triangular filters (n_mels, n_fft // 2 + 1), peaks equally spaced in mel, each peaking at 1."""
    bins = np.linspace(0.0, cfg.sample_rate / 2, cfg.n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(cfg.f_min), hz_to_mel(cfg.f_max), cfg.n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (bins[None, :] - lo) / (mid - lo)
    down = (hi - bins[None, :]) / (hi - mid)
    bank = np.clip(np.minimum(up, down), 0.0, None)
    bank.setflags(write=False)
    return bank


def frame_signal(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Frames (n, n_fft) of a 1-D signal; the tail is zero-padded to a whole frame, at least one frame."""
    n = max(1, 1 + int(np.ceil(max(len(x) - n_fft, 0) / hop)))
    padded = np.zeros((n - 1) * hop + n_fft, dtype=np.float64)
    padded[:len(x)] = x
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n)[:, None]
    return padded[idx]


def log_mel(signal: np.ndarray, cfg: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """Log-mel energies (frames, n_mels) of a float signal in [-1, 1]."""
    frames = frame_signal(np.asarray(signal, dtype=np.float64), cfg.n_fft, cfg.hop)
    spec = np.abs(np.fft.rfft(frames * np.hanning(cfg.n_fft + 1)[:-1], axis=1)) ** 2
    return np.log(spec @ mel_filterbank(cfg).T + cfg.floor).astype(np.float32)


def fixed_length(feats: np.ndarray, cfg: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """(cfg.frames, n_mels): left-pad short utterances with log(floor); crop long ones to their loudest window."""
    t = cfg.frames
    if len(feats) >= t:
        energy = np.exp(feats.astype(np.float64)).sum(axis=1)
        window = np.convolve(energy, np.ones(t), mode="valid")
        start = int(np.argmax(window))
        return np.ascontiguousarray(feats[start:start + t])
    out = np.full((t, feats.shape[1]), np.log(cfg.floor), dtype=np.float32)
    out[t - len(feats):] = feats
    return out
