"""Seeded training, fine-tuning and evaluation of `SpeechModel` on FSDD features.

Library functions only; they leave torch's global thread settings alone. Randomness comes from one
`torch.Generator` seeded by `TrainConfig.seed` (batch order, augmentation noise and shifts), so a run is
reproducible on the same machine and torch build.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from workloads.speech.data import SpeechData
from workloads.speech.model import SpeechModel, TrainConfig


@dataclass(frozen=True)
class TrainResult:
    epochs: int
    seconds: float
    final_loss: float
    train_accuracy: float


def _augment(x: torch.Tensor, cfg: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    if cfg.shift:
        s = int(torch.randint(-cfg.shift, cfg.shift + 1, (1,), generator=gen))
        if s:
            x = torch.roll(x, s, dims=1)
    if cfg.noise:
        x = x + cfg.noise * torch.randn(x.shape, generator=gen)
    return x


def train(model: SpeechModel, data: SpeechData, cfg: TrainConfig = TrainConfig(), *,
          set_normalisation: bool = True) -> TrainResult:
    """Adam with cosine learning-rate decay and cross-entropy; normalisation stats from `data` when asked."""
    if set_normalisation:
        model.set_normalisation(data.x)
    gen = torch.Generator().manual_seed(cfg.seed)
    x_all = model.normalise(data.x)
    y_all = torch.as_tensor(data.y)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = (len(data) + cfg.batch - 1) // cfg.batch
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, cfg.epochs * steps_per_epoch))
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    loss_value = float("nan")
    model.train()
    for epoch in range(cfg.epochs):
        order = torch.randperm(len(data), generator=gen)
        total = 0.0
        for k in range(steps_per_epoch):
            idx = order[k * cfg.batch:(k + 1) * cfg.batch]
            logits = model(_augment(x_all[idx], cfg, gen))
            loss = loss_fn(logits, y_all[idx])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        loss_value = total / len(data)
        cfg.log.append((epoch, loss_value))
    model.eval()
    return TrainResult(cfg.epochs, time.perf_counter() - start, loss_value, evaluate(model, data))


@torch.no_grad()
def predict(model: SpeechModel, x: np.ndarray, batch: int = 512) -> np.ndarray:
    model.eval()
    out = [model(model.normalise(x[k:k + batch])).argmax(1).numpy() for k in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def evaluate(model: SpeechModel, data: SpeechData) -> float:
    """Accuracy in percent."""
    return float(100.0 * np.mean(predict(model, data.x) == data.y))
