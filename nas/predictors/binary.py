"""The BRP-NAS binary-relation accuracy predictor: a GCN that, given two cells, predicts which is better.

Training (eagle `predictors/__main__.py`, `acc_gcn_nasbench201_bin.yaml`): every ordered pair (a, b) of distinct
training cells is a sample; the target is softmax([acc_a, acc_b]) (accuracies in %), the loss the KL divergence
to the predicted log-softmax; AdamW (lr 3.5e-4, weight decay 5e-4), cosine schedule, dropout 0.2, the weights
with the lowest training loss are kept, and a later `fit` continues from the current weights (iterative
selection).

CPU adaptation: eagle iterates minibatches of pairs, each pair re-encoding both graphs. Here one step encodes
every training cell once and takes the loss over all |T|(|T|-1) ordered pairs at once (the pair logits are
u.e_a + v.e_b + c, see `BinaryGCN.pair_logits`), so a step costs |T| graph encodings instead of 2 x batch; the
step counts and learning rate are set for that (docs/predictors.md).

Ranking: score(a) = (u - v).e_a orders cells exactly as the antisymmetrised comparator d(a, b) - d(b, a)
(eagle sorts with the raw comparator d(a, b), which need not be transitive).
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from nas.predictors.latency import PredictorError


@dataclass(frozen=True)
class BinaryConfig:
    hidden: int = 600
    layers: int = 4
    dropout: float = 0.2
    lr: float = 1e-3
    weight_decay: float = 5e-4
    temperature: float = 1.0       # target = softmax([acc_a, acc_b] / temperature), accuracies in %

    def check(self) -> "BinaryConfig":
        if self.hidden < 1 or self.layers < 1 or not 0 <= self.dropout < 1 or self.lr <= 0 or self.temperature <= 0:
            raise PredictorError(f"binary predictor settings {asdict(self)}: hidden and layers >= 1, dropout in "
                                 "[0, 1), lr and temperature > 0")
        return self


class BinaryPredictor:
    """Binary-relation GCN over NB201 cells (by NB201 index)."""

    def __init__(self, config: BinaryConfig | None = None, seed: int = 0):
        import torch

        from nas.predictors.models import BinaryGCN, init_weights

        self.config = (config or BinaryConfig()).check()
        self.generator = torch.Generator().manual_seed(int(seed))
        self.net = init_weights(BinaryGCN(self.config.hidden, self.config.layers, self.config.dropout),
                                self.generator)
        self.steps_done = 0

    # -- training --------------------------------------------------------------------------------------------
    def fit(self, cells: Sequence[int] | np.ndarray, values: Sequence[float] | np.ndarray,
            steps: int) -> dict[str, Any]:
        """`steps` full-batch AdamW steps on all ordered pairs of `cells` (continuing from the current weights,
        a fresh optimiser and cosine schedule per call as eagle's per-iteration `train`); keeps the weights
        with the lowest loss. Returns {"steps", "seconds", "loss" (first, best, last)}."""
        import torch
        from torch.nn import functional as F

        from nas.predictors.encoding import nb201_encodings

        idx = np.asarray(cells, dtype=np.int64)
        v = np.asarray(values, dtype=np.float64)
        if idx.shape != v.shape or len(idx) < 2 or not np.isfinite(v).all():
            raise PredictorError(f"binary predictor training needs >= 2 cells with finite values, got {len(idx)}")
        if steps < 1:
            raise PredictorError(f"binary predictor training needs >= 1 step, got {steps}")
        t0 = time.perf_counter()
        adj, feat = nb201_encodings()
        a, x = torch.from_numpy(adj[idx]), torch.from_numpy(feat[idx])
        vt = torch.from_numpy(v / self.config.temperature)
        target = torch.stack([torch.sigmoid(vt[:, None] - vt[None, :]), torch.sigmoid(vt[None, :] - vt[:, None])],
                             dim=-1).float()
        off = ~torch.eye(len(idx), dtype=torch.bool)
        target = target[off]
        opt = torch.optim.AdamW(self.net.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=0.0)
        best, best_state, losses = math.inf, None, []
        self.net.train()
        for _ in range(steps):
            e = self.net.encoder(a, x, self.generator)
            logp = F.log_softmax(self.net.pair_logits(e, e)[off], dim=-1)
            loss = F.kl_div(logp, target, reduction="batchmean")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            if losses[-1] < best:
                best, best_state = losses[-1], copy.deepcopy(self.net.state_dict())
        self.net.load_state_dict(best_state)
        self.net.eval()
        self.steps_done += steps
        return {"steps": steps, "seconds": time.perf_counter() - t0, "loss_first": losses[0], "loss_best": best,
                "loss_last": losses[-1]}

    # -- inference -------------------------------------------------------------------------------------------
    def embeddings(self, cells: Sequence[int] | np.ndarray, chunk: int = 4096):
        """Global-node embeddings (n, hidden) of `cells` in eval mode; identical encodings are computed once."""
        import torch

        from nas.predictors.encoding import distinct_graphs, nb201_encodings

        idx = np.asarray(cells, dtype=np.int64)
        first, inverse = distinct_graphs()
        reps, pos = np.unique(inverse[idx], return_inverse=True)
        cells_r = first[reps]
        adj, feat = nb201_encodings()
        self.net.eval()
        out = []
        with torch.no_grad():
            for s in range(0, len(cells_r), chunk):
                c = cells_r[s:s + chunk]
                out.append(self.net.encoder(torch.from_numpy(adj[c]), torch.from_numpy(feat[c])))
        emb = torch.cat(out) if out else torch.zeros(0, self.config.hidden)
        return emb[torch.from_numpy(pos.reshape(-1))]

    def scores(self, cells: Sequence[int] | np.ndarray) -> np.ndarray:
        """Ranking score of each cell (higher = predicted better; see the module docstring)."""
        import torch

        with torch.no_grad():
            return (self.embeddings(cells) @ self.net.score_direction()).double().numpy()

    def prob_better(self, first: Sequence[int] | np.ndarray, second: Sequence[int] | np.ndarray) -> np.ndarray:
        """P(first[k] better than second[k]) from the raw (not antisymmetrised) binary head."""
        import torch

        with torch.no_grad():
            e1, e2 = self.embeddings(first), self.embeddings(second)
            logits = self.net.fc(torch.cat([e1, e2], dim=1))
            return torch.softmax(logits, dim=1)[:, 0].double().numpy()

    # -- snapshots -------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"config": asdict(self.config), "net": copy.deepcopy(self.net.state_dict()),
                "generator": self.generator.get_state(), "steps_done": self.steps_done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if BinaryConfig(**state["config"]) != self.config:
            raise PredictorError("binary predictor snapshot was taken with other settings")
        self.net.load_state_dict(state["net"])
        self.generator.set_state(state["generator"])
        self.steps_done = int(state["steps_done"])


def ranking_metrics(scores: np.ndarray, values: np.ndarray, *, pairs: int = 20000, seed: int = 0,
                    top: Sequence[int] = (10, 50, 100)) -> dict[str, float]:
    """How well `scores` rank cells with true `values`: Spearman and Kendall, pairwise ordering accuracy on
    `pairs` random pairs with different values, and for each k in `top` the best true value among the top-k
    predicted cells and how many of the true top-k are in the predicted top-k."""
    from scipy.stats import kendalltau, spearmanr

    s = np.asarray(scores, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    i, j = rng.integers(len(v), size=pairs), rng.integers(len(v), size=pairs)
    ok = v[i] != v[j]
    out = {"n": float(len(v)), "spearman": float(spearmanr(s, v).statistic),
           "kendall": float(kendalltau(s, v).statistic),
           "pairwise_accuracy": float(np.mean((s[i[ok]] > s[j[ok]]) == (v[i[ok]] > v[j[ok]])))}
    order_p, order_t = np.argsort(-s, kind="stable"), np.argsort(-v, kind="stable")
    for k in top:
        if k <= len(v):
            out[f"best_in_top{k}"] = float(v[order_p[:k]].max())
            out[f"hits_top{k}"] = float(len(set(order_p[:k]) & set(order_t[:k])))
    return out
