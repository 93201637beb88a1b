"""The seed model of the compression searches: trained from a fixed seed, cached outside the repository.

The weights (3.3 MB at the default size) are not shipped; `trained_model()` trains them (about a minute on an
idle 2-core machine) and caches the checkpoint under `$OVL_CACHE` (default `~/.cache/ovl`) keyed by a hash of
the model, training and split settings and the torch version, so every later call loads it.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import asdict
from pathlib import Path

import torch

from compiler.errors import UserError
from workloads.speech.data import Split, load_fsdd
from workloads.speech.model import ModelConfig, SpeechModel, TrainConfig
from workloads.speech.train import train

DEFAULT_TRAIN = TrainConfig(epochs=40, seed=0)


def cache_dir() -> Path:
    return Path(os.environ.get("OVL_CACHE", Path.home() / ".cache" / "ovl")) / "speech"


def model_key(cfg: ModelConfig, tcfg: TrainConfig, split: Split) -> str:
    t = {k: v for k, v in asdict(tcfg).items() if k != "log"}
    text = json.dumps({"model": asdict(cfg), "train": t, "split": split, "torch": torch.__version__}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def trained_model(cfg: ModelConfig = ModelConfig(), tcfg: TrainConfig = DEFAULT_TRAIN, *, split: Split = "index",
                  cache: bool = True, seed: int = 0) -> SpeechModel:
    """The model trained on the split's train part (loaded from the cache when present)."""
    path = cache_dir() / f"fsdd_lstm_{model_key(cfg, tcfg, split)}_s{seed}.pt"
    if cache and path.is_file():
        return load_checkpoint(path)
    model = SpeechModel(cfg, seed=seed)
    train(model, load_fsdd("train", split), TrainConfig(**{**asdict(tcfg), "log": []}))
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(model.checkpoint(), tmp)
        tmp.replace(path)
    return model


def load_checkpoint(path: str | Path) -> SpeechModel:
    """A model saved with `torch.save(model.checkpoint(), path)`."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        return SpeechModel.from_checkpoint(ckpt).eval()
    except (OSError, RuntimeError, KeyError, TypeError, ValueError, pickle.UnpicklingError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise UserError(f"model checkpoint '{path}' cannot be read ({type(exc).__name__}: {first[:120]}); give a "
                        f"file saved with torch.save(model.checkpoint(), path), or --model fsdd-lstm") from None
