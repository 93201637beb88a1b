"""Latency predictors on NB201: data sources, train/validation/test splits, training of the GCN, MLP and
op-count linear regressors, and the BRP-NAS accuracy metric.

    labels = latency_labels("latbench")                       # ms by NB201 index, NaN where unmeasured
    split = split_cells(labels, n_train=900, n_valid=100, seed=0)
    pred, hist = fit_latency("gcn", split.train, labels[split.train], valid=split.valid,
                             valid_ms=labels[split.valid], seed=0)
    print(latency_metrics(pred.predict(split.test), labels[split.test]))

A source is a HELP / HW-NAS-Bench device column of nas/data/nb201_latency_ms.csv (fpga, eyeriss, raspi4, pixel3,
gpu_1080ti_b1, cpu_gold6226), `latbench` (the measured i7-7820X desktop CPU, 15,284 connected cells), or the
path of a CSV with columns `index` and `latency_ms` (e.g. the overlay table of `ovl nas latency-table`); the
same training function serves every source.

Accuracy within +-l (BRP-NAS, eagle `predictors/utils.py: valid`): a prediction p counts when the truth lies in
[(1 - l) p, (1 + l) p], i.e. the bound is relative to the prediction. `within_truth_*` gives the other
convention (|p - t| <= l t) for comparison with numbers quoted that way.
"""
from __future__ import annotations

import io
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from compiler.errors import UserError

KINDS = ("gcn", "mlp", "linear", "linear-live")
LEEWAYS = (0.01, 0.05, 0.10, 0.20)


class PredictorError(UserError):
    """A predictor input a user can fix: unknown source or kind, a bad split, an unreadable model file."""


# --- data -----------------------------------------------------------------------------------------------------------
def search_latency(source: str) -> np.ndarray:
    """Full-space latency column (ms by NB201 index) as the NB201 searches read it (`nas.strategies.space`):
    a HELP device, `overlay` (the overlay table shipped in nas/data) or a CSV covering every cell. Raises a
    UserError naming the source when it is none of those."""
    from nas.strategies.space import latency_source

    return latency_source(source)


def latency_labels(source: str) -> np.ndarray:
    """Latency in ms of every NB201 cell from `source` (NaN where the source has no value), read-only:
    a HELP device column, `latbench`, a CSV with `index, latency_ms` (cells may be missing), or another source
    the NB201 searches know (`overlay`)."""
    from nas.data import LATENCY_DEVICES, NB201_SIZE, latbench_cpu, nb201_table

    if source in LATENCY_DEVICES:
        return nb201_table().latency_ms[source]
    if source == "latbench":
        lb = latbench_cpu()
        out = np.array([lb.get(s, np.nan) for s in nb201_table().arch_str])
        out.setflags(write=False)
        return out
    path = Path(source)
    if not path.is_file():
        try:
            return search_latency(source)
        except UserError:
            raise PredictorError(f"latency source '{source}' is neither a device ({', '.join(LATENCY_DEVICES)}, "
                                 "latbench, overlay) nor a CSV file; give one of those") from None
    import csv

    out = np.full(NB201_SIZE, np.nan)
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"index", "latency_ms"} <= set(reader.fieldnames):
            raise PredictorError(f"latency table '{source}' needs columns 'index' and 'latency_ms' "
                                 "(as written by `ovl nas latency-table`)")
        try:
            for r in reader:
                out[int(r["index"])] = float(r["latency_ms"])
        except (ValueError, IndexError) as exc:
            raise PredictorError(f"latency table '{source}' line {reader.line_num}: {exc}; "
                                 "index must be 0..15624 and latency_ms a number") from None
    if not (out[~np.isnan(out)] > 0).all():
        raise PredictorError(f"latency table '{source}' has non-positive latencies; they must be > 0 ms")
    out.setflags(write=False)
    return out


def source_sources() -> tuple[str, ...]:
    from nas.data import LATENCY_DEVICES

    return LATENCY_DEVICES + ("latbench", "overlay")


@dataclass(frozen=True)
class Split:
    """NB201 indices of the training, validation and test cells (disjoint)."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def split_cells(labels: np.ndarray, n_train: int = 900, n_valid: int = 100, seed: int = 0) -> Split:
    """Random split of the labelled cells: `n_train` to train, `n_valid` for the LR schedule and early stopping,
    the rest to test (eagle: 900 / 100 / rest, random)."""
    cells = np.flatnonzero(~np.isnan(labels))
    if n_train < 2 or n_valid < 0 or n_train + n_valid >= len(cells):
        raise PredictorError(f"split of {n_train} training and {n_valid} validation cells does not fit the "
                             f"{len(cells)} labelled cells (need n_train >= 2 and cells left to test)")
    perm = np.random.default_rng(seed).permutation(cells)
    return Split(np.sort(perm[:n_train]), np.sort(perm[n_train:n_train + n_valid]), np.sort(perm[n_train + n_valid:]))


# --- metrics --------------------------------------------------------------------------------------------------------
def latency_metrics(pred_ms: np.ndarray, true_ms: np.ndarray) -> dict[str, float]:
    """BRP-NAS accuracies within +-1/5/10/20 % (bound relative to the prediction), the same relative to the truth,
    Spearman and Kendall rank correlations, mean absolute percentage error and R^2."""
    from scipy.stats import kendalltau, spearmanr

    p = np.asarray(pred_ms, dtype=np.float64)
    t = np.asarray(true_ms, dtype=np.float64)
    if p.shape != t.shape or p.size < 2:
        raise PredictorError(f"latency metrics need two equal-length arrays of >= 2 values, got {p.shape} and "
                             f"{t.shape}")
    out: dict[str, float] = {"n": float(p.size)}
    for l in LEEWAYS:
        out[f"within_{round(l * 100)}"] = float(np.mean((t >= (1 - l) * p) & (t <= (1 + l) * p)))
        out[f"within_truth_{round(l * 100)}"] = float(np.mean(np.abs(p - t) <= l * t))
    out["spearman"] = float(spearmanr(p, t).statistic)
    out["kendall"] = float(kendalltau(p, t).statistic)
    out["mape"] = float(np.mean(np.abs(p - t) / t))
    out["r2"] = float(1.0 - np.sum((t - p) ** 2) / np.sum((t - t.mean()) ** 2))
    return out


# --- training -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainConfig:
    """Training settings of the GCN / MLP latency regressors (ignored by the linear baselines).

    `target`: what the network regresses, `log` (standardised log latency; the L1 loss is then a relative error)
    or `minmax` (latency scaled to [0, 1] over the training set, as eagle's normalised predictors).
    `schedule`: `plateau` (ReduceLROnPlateau x0.5 after `lr_patience` epochs without 1 % improvement, from epoch
    21 on, as eagle) or `cosine` (cosine decay to 0 over `epochs`). Early stopping after `es_patience` epochs
    without improvement of the validation L1 (from epoch 21 on); the weights with the lowest validation loss
    are kept."""

    epochs: int = 120
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 5e-4
    dropout: float = 0.002
    schedule: str = "cosine"
    lr_patience: int = 10
    es_patience: int = 35
    hidden: int = 600
    layers: int = 4
    target: str = "log"

    def check(self) -> "TrainConfig":
        if self.epochs < 1 or self.batch_size < 1 or self.hidden < 1 or self.layers < 1:
            raise PredictorError(f"training settings {asdict(self)}: epochs, batch size, hidden units and layers "
                                 "must be >= 1")
        if not (self.lr > 0 and self.weight_decay >= 0 and 0 <= self.dropout < 1):
            raise PredictorError(f"training settings: lr must be > 0, weight decay >= 0 and dropout in [0, 1), "
                                 f"got {self.lr}, {self.weight_decay}, {self.dropout}")
        if self.schedule not in ("plateau", "cosine"):
            raise PredictorError(f"schedule '{self.schedule}': use plateau or cosine")
        if self.target not in ("log", "minmax"):
            raise PredictorError(f"target '{self.target}': use log or minmax")
        return self


# eagle's configs/predictors/lat_gcn_nasbench201_desktop.yaml (the published recipe; slow on a CPU)
PUBLISHED = TrainConfig(epochs=250, batch_size=1, lr=4e-4, weight_decay=5e-4, dropout=0.002, schedule="plateau",
                        lr_patience=10, es_patience=35, hidden=600, layers=4, target="minmax")
DEFAULT = TrainConfig()


@dataclass
class LatencyPredictor:
    """A trained latency regressor; `predict(cells)` returns ms for NB201 indices."""

    kind: str
    config: TrainConfig
    state: dict[str, Any]                 # torch state_dict (gcn, mlp) or {"coef": array} (linear)
    scale: tuple[float, float]            # target transform: (offset, scale)
    meta: dict[str, Any] = field(default_factory=dict)
    _net: Any = field(default=None, repr=False, compare=False)

    def network(self):
        if self._net is None and self.kind in ("gcn", "mlp"):
            net = _make_net(self.kind, self.config)
            net.load_state_dict(self.state)
            self._net = net.eval()
        return self._net

    def predict(self, cells: Sequence[int] | np.ndarray) -> np.ndarray:
        idx = np.asarray(cells, dtype=np.int64)
        if self.kind.startswith("linear"):
            from nas.predictors.encoding import op_count_features

            x = op_count_features(idx, live_only=self.kind == "linear-live")
            coef = np.asarray(self.state["coef"], dtype=np.float64)
            return x @ coef[:-1] + coef[-1]
        out = _forward(self.kind, self.network(), idx)
        return _untransform(out, self.config.target, self.scale)

    def save(self, path: Path | str) -> Path:
        import torch

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"format": "ovl-latency-predictor-1", "kind": self.kind, "config": asdict(self.config),
                    "state": self.state, "scale": list(self.scale), "meta": self.meta}, path)
        return path

    @classmethod
    def load(cls, path: Path | str) -> "LatencyPredictor":
        import torch

        path = Path(path)
        if not path.is_file():
            raise PredictorError(f"predictor file '{path}' does not exist; write one with "
                                 "`ovl predictor train --save DIR`")
        try:
            d = torch.load(path, map_location="cpu", weights_only=True)
            if d.get("format") != "ovl-latency-predictor-1":
                raise ValueError("not a latency predictor file")
            return cls(d["kind"], TrainConfig(**d["config"]).check(), d["state"], tuple(d["scale"]), d["meta"])
        except PredictorError:
            raise
        except Exception as exc:  # torch raises many types for foreign or truncated files
            raise PredictorError(f"cannot read predictor file '{path}' ({type(exc).__name__}: {str(exc)[:80]}); "
                                 "write it with `ovl predictor train --save DIR`") from None


def _make_net(kind: str, cfg: TrainConfig):
    from nas.predictors.models import GCNRegressor, MLPRegressor

    if kind == "gcn":
        return GCNRegressor(cfg.hidden, cfg.layers, cfg.dropout)
    return MLPRegressor(cfg.hidden, cfg.layers, cfg.dropout)


def _inputs(kind: str, idx: np.ndarray):
    import torch

    from nas.predictors.encoding import mlp_inputs, nb201_encodings

    if kind == "gcn":
        adj, feat = nb201_encodings()
        return torch.from_numpy(adj[idx]), torch.from_numpy(feat[idx])
    return (torch.from_numpy(mlp_inputs(idx)),)


def _forward(kind: str, net, idx: np.ndarray, chunk: int = 2048) -> np.ndarray:
    import torch

    out = []
    with torch.no_grad():
        for s in range(0, len(idx), chunk):
            out.append(net(*_inputs(kind, idx[s:s + chunk])).double().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def _transform(y: np.ndarray, target: str) -> tuple[np.ndarray, tuple[float, float]]:
    if target == "log":
        z = np.log(y)
        off, sc = float(z.mean()), float(z.std() or 1.0)
        return (z - off) / sc, (off, sc)
    lo, hi = float(y.min()), float(y.max())
    sc = hi - lo or 1.0
    return (y - lo) / sc, (lo, sc)


def _untransform(out: np.ndarray, target: str, scale: tuple[float, float]) -> np.ndarray:
    off, sc = scale
    return np.exp(out * sc + off) if target == "log" else out * sc + off


def fit_latency(kind: str, cells: Sequence[int] | np.ndarray, latency_ms: Sequence[float] | np.ndarray, *,
                valid: Sequence[int] | np.ndarray | None = None, valid_ms: Sequence[float] | np.ndarray | None = None,
                config: TrainConfig | None = None, seed: int = 0,
                progress: Callable[[int, int, float], None] | None = None) -> tuple[LatencyPredictor, dict[str, Any]]:
    """Train a latency regressor of `kind` (gcn, mlp, linear, linear-live) on NB201 `cells` with latencies in ms.

    The networks train with AdamW and an L1 loss on the transformed target; `valid`/`valid_ms` drive the LR
    schedule, early stopping and the choice of the kept weights (the training set does when they are absent).
    Deterministic given `seed` (torch generator, no global RNG) and the number of torch threads. Returns the
    predictor and a history {epochs, best_epoch, seconds, cpu_seconds, train_loss, valid_loss (per epoch)}.
    `progress(epoch, epochs, valid_loss)` is called after every epoch.
    """
    if kind not in KINDS:
        raise PredictorError(f"unknown predictor kind '{kind}'; choose one of {', '.join(KINDS)}")
    cfg = (config or DEFAULT).check()
    idx = np.asarray(cells, dtype=np.int64)
    y = np.asarray(latency_ms, dtype=np.float64)
    if idx.shape != y.shape or len(idx) < 2 or not np.isfinite(y).all() or (y <= 0).any():
        raise PredictorError(f"training data: need >= 2 cells with positive finite latencies and one latency per "
                             f"cell, got {len(idx)} cells and {y.size} latencies")
    t0 = (time.perf_counter(), time.process_time())
    if kind.startswith("linear"):
        from nas.predictors.encoding import op_count_features

        x = np.column_stack([op_count_features(idx, live_only=kind == "linear-live"), np.ones(len(idx))])
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        import torch

        pred = LatencyPredictor(kind, cfg, {"coef": torch.from_numpy(coef)}, (0.0, 1.0),
                                {"n_train": len(idx), "seed": seed})
        return pred, {"epochs": 0, "best_epoch": 0, **_elapsed(t0)}
    vidx = idx if valid is None else np.asarray(valid, dtype=np.int64)
    vy = y if valid_ms is None else np.asarray(valid_ms, dtype=np.float64)
    if vidx.shape != vy.shape or len(vidx) == 0:
        raise PredictorError("validation data: give one latency per validation cell")
    return _fit_network(kind, idx, y, vidx, vy, cfg, seed, progress, t0)


def _fit_network(kind, idx, y, vidx, vy, cfg: TrainConfig, seed, progress, t0):
    import copy

    import torch

    from nas.predictors.models import init_weights

    gen = torch.Generator().manual_seed(int(seed))
    net = init_weights(_make_net(kind, cfg), gen)
    z, scale = _transform(y, cfg.target)
    off, sc = scale
    vz = (np.log(vy) - off) / sc if cfg.target == "log" else (vy - off) / sc
    inputs, target = _inputs(kind, idx), torch.from_numpy(z.astype(np.float32))
    vinputs, vtarget = _inputs(kind, vidx), torch.from_numpy(vz.astype(np.float32))
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    if cfg.schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs, eta_min=0.0)
    else:
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=cfg.lr_patience,
                                                           threshold=0.01)
    n = len(idx)
    best, best_state, best_epoch, since = math.inf, None, -1, 0
    train_hist, valid_hist = [], []
    for epoch in range(cfg.epochs):
        net.train()
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for s in range(0, n, cfg.batch_size):
            b = perm[s:s + cfg.batch_size]
            out = net(*(t[b] for t in inputs), generator=gen)
            loss = (out - target[b]).abs().sum()
            opt.zero_grad(set_to_none=True)
            (loss / len(b)).backward()
            opt.step()
            total += float(loss.detach())
        net.eval()
        with torch.no_grad():
            vloss = float((net(*vinputs) - vtarget).abs().mean())
        train_hist.append(total / n)
        valid_hist.append(vloss)
        if vloss < best:
            best, best_state, best_epoch = vloss, copy.deepcopy(net.state_dict()), epoch
        if progress:
            progress(epoch + 1, cfg.epochs, vloss)
        if cfg.schedule == "cosine":
            sched.step()
        elif epoch > 20:
            sched.step(vloss)
        if epoch > 20:  # eagle: early stopping counts from epoch 21 on
            since = 0 if vloss <= min(valid_hist[21:] or [math.inf]) else since + 1
            if since > cfg.es_patience:
                break
    net.load_state_dict(best_state)
    pred = LatencyPredictor(kind, cfg, {k: v.clone() for k, v in net.state_dict().items()}, scale,
                            {"n_train": n, "seed": int(seed)}, net.eval())
    return pred, {"epochs": len(valid_hist), "best_epoch": best_epoch, **_elapsed(t0), "train_loss": train_hist,
                  "valid_loss": valid_hist}


def _elapsed(t0: tuple[float, float]) -> dict[str, float]:
    """Wall seconds and CPU seconds of this process (the latter is what a loaded, shared machine cannot inflate
    by time-slicing)."""
    return {"seconds": time.perf_counter() - t0[0], "cpu_seconds": time.process_time() - t0[1]}


def with_overrides(cfg: TrainConfig, **kw: Any) -> TrainConfig:
    """`cfg` with the given fields replaced (None values ignored)."""
    return replace(cfg, **{k: v for k, v in kw.items() if v is not None}).check()
