"""The Free Spoken Digit Dataset subset shipped in `data/fsdd/` (see its README): reading, splits, features.

Splits (all deterministic, documented in docs/compression.md):
- "index" (default): FSDD's official rule, recording indices 0-4 are **test** (300 clips); of the remaining
  indices 5-24, 5-7 are the **val** quick-evaluation subset used inside searches (180 clips) and 8-24 **train**
  (1,020 clips). Every speaker appears in every part.
- "speaker": speaker-disjoint; 'theo' is test, 'lucas' is val, the other four speakers train.
"""
from __future__ import annotations

import wave
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np

from compiler.errors import UserError
from workloads.speech.features import FeatureConfig, fixed_length, log_mel

DATA_DIR = Path(__file__).parent / "data" / "fsdd" / "recordings"
SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
Split = Literal["index", "speaker"]
Part = Literal["train", "val", "test"]


class DataError(UserError):
    """A speech data file or split request that cannot be served."""


@dataclass(frozen=True)
class Recording:
    path: Path
    digit: int
    speaker: str
    index: int


def recordings(data_dir: Path = DATA_DIR) -> list[Recording]:
    """Every `{digit}_{speaker}_{index}.wav` under data_dir, sorted by (digit, speaker, index)."""
    out = []
    for p in sorted(Path(data_dir).glob("*.wav")):
        parts = p.stem.split("_")
        if len(parts) != 3 or not parts[0].isdigit() or not parts[2].isdigit():
            raise DataError(f"recording '{p.name}' is not named digit_speaker_index.wav; rename or remove it")
        out.append(Recording(p, int(parts[0]), parts[1], int(parts[2])))
    if not out:
        raise DataError(f"no .wav recordings in '{data_dir}'; point data_dir at the FSDD recordings folder")
    return sorted(out, key=lambda r: (r.digit, r.speaker, r.index))


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono 16-bit PCM WAV as float64 in [-1, 1] and its sample rate."""
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1:
                raise DataError(f"'{path}': need mono 16-bit PCM, got {w.getnchannels()} channel(s) of "
                                f"{8 * w.getsampwidth()} bits; convert it first")
            raw = w.readframes(w.getnframes())
            rate = w.getframerate()
    except (wave.Error, EOFError) as exc:
        raise DataError(f"'{path}' is not a readable WAV file ({exc})") from None
    return np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0, rate


def part_of(rec: Recording, split: Split) -> Part:
    if split == "index":
        return "test" if rec.index <= 4 else "val" if rec.index <= 7 else "train"
    if split == "speaker":
        return "test" if rec.speaker == "theo" else "val" if rec.speaker == "lucas" else "train"
    raise DataError(f"split '{split}' is unknown; use 'index' or 'speaker'")


@dataclass(frozen=True)
class SpeechData:
    """Fixed-length log-mel features x (N, T, n_mels) float32 and labels y (N,) int64 of one part."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@cache
def _features(data_dir: Path, cfg: FeatureConfig) -> tuple[tuple[Recording, ...], np.ndarray]:
    recs = tuple(recordings(data_dir))
    feats = []
    for r in recs:
        signal, rate = read_wav(r.path)
        if rate != cfg.sample_rate:
            raise DataError(f"'{r.path.name}' is sampled at {rate} Hz, the features expect {cfg.sample_rate} Hz")
        feats.append(fixed_length(log_mel(signal, cfg), cfg))
    x = np.stack(feats)
    x.setflags(write=False)
    return recs, x


def load_fsdd(part: Part, split: Split = "index", cfg: FeatureConfig = FeatureConfig(),
              data_dir: Path = DATA_DIR) -> SpeechData:
    """Features and labels of one part of a split (features are computed once per process and config)."""
    if part not in ("train", "val", "test"):
        raise DataError(f"part '{part}' is unknown; use train, val or test")
    recs, x = _features(Path(data_dir), cfg)
    keep = np.array([part_of(r, split) == part for r in recs])
    return SpeechData(x[keep], np.array([r.digit for r in recs], dtype=np.int64)[keep])
