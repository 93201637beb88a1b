"""Low-rank factorisation of a `SpeechModel`: per-matrix ranks, truncated SVD, sizes, ONNX export.

A rank table maps each matrix name (`lstm{k}.W`, `lstm{k}.R`, `fc`) to a rank or None (dense). `compress`
re-factorises the model's *current* dense matrices, so compressing an already compressed model (the iterative
search) truncates its factors further. A search action is a rank *fraction* of min(m, n); a fraction whose rank
would not store fewer parameters than the dense matrix leaves the matrix dense.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

import torch
from torch import nn

from compiler.errors import UserError
from workloads.speech.model import MatrixSpec, ModelConfig, Ranks, SpeechModel, check_ranks, matrix_specs

# Action space of the rank searches: kept fraction of min(m, n); 1.0 means "leave dense".
FRACTIONS: tuple[float, ...] = (0.03125, 0.0625, 0.09375, 0.125, 0.1875, 0.25, 0.375, 0.5, 1.0)


def rank_for_fraction(spec: MatrixSpec, fraction: float) -> int | None:
    """Rank ceil(fraction * min(m, n)), or None (dense) when that would not save parameters."""
    if not 0 < fraction <= 1:
        raise UserError(f"rank fraction {fraction} for '{spec.name}': must be in (0, 1]")
    r = max(1, math.ceil(fraction * spec.max_rank))
    return r if r <= spec.break_even_rank() else None


def ranks_from_fractions(cfg: ModelConfig, fractions: Sequence[float] | dict[str, float]) -> Ranks:
    specs = matrix_specs(cfg)
    if not isinstance(fractions, dict):
        if len(fractions) != len(specs):
            raise UserError(f"{len(fractions)} rank fractions given for {len(specs)} matrices "
                            f"({', '.join(s.name for s in specs)})")
        fractions = dict(zip((s.name for s in specs), fractions))
    return check_ranks(cfg, {s.name: rank_for_fraction(s, fractions[s.name]) for s in specs if s.name in fractions})


def uniform_ranks(cfg: ModelConfig, fraction: float, *, include_fc: bool = True) -> Ranks:
    return ranks_from_fractions(cfg, {s.name: fraction if (include_fc or s.kind != "linear") else 1.0
                                      for s in matrix_specs(cfg)})


def compose(current: Ranks, new: Ranks) -> Ranks:
    """Ranks after truncating a model with `current` ranks to `new` ones (a rank never grows back)."""
    out: Ranks = {}
    for name, r in new.items():
        c = current.get(name)
        out[name] = c if r is None else (r if c is None else min(r, c))
    return out


def compress(model: SpeechModel, ranks: Ranks) -> SpeechModel:
    """A new model whose matrices are the best rank-r approximations (SVD) of `model`'s current matrices."""
    ranks = check_ranks(model.cfg, ranks)
    out = SpeechModel(model.cfg, ranks)
    with torch.no_grad():
        for s in out.specs:
            out._store(s, model.dense(s.name))
        for k, b in model.biases.items():
            out.biases[k].copy_(b)
        out.feat_mean.copy_(model.feat_mean)
        out.feat_std.copy_(model.feat_std)
    out.eval()
    return out


@dataclass(frozen=True)
class SizeReport:
    matrix_params: int
    dense_matrix_params: int
    total_params: int
    dense_total_params: int

    @property
    def compression(self) -> float:
        """Parameter compression ratio of the whole model (dense params / params)."""
        return self.dense_total_params / self.total_params

    @property
    def matrix_compression(self) -> float:
        return self.dense_matrix_params / self.matrix_params


def size_report(cfg: ModelConfig, ranks: Ranks) -> SizeReport:
    ranks = check_ranks(cfg, ranks)
    specs = matrix_specs(cfg)
    mat = sum(s.params(ranks[s.name]) for s in specs)
    dense = sum(s.full_params for s in specs)
    other = cfg.layers * 8 * cfg.hidden + cfg.classes  # biases
    return SizeReport(mat, dense, mat + other, dense + other)


# --- ONNX export --------------------------------------------------------------------------------------------------
ExportForm = Literal["auto", "native", "unrolled"]


class ExportError(UserError):
    """A model that cannot be exported in the requested form."""


class _Unrolled(nn.Module):
    def __init__(self, model: SpeechModel):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_unrolled(x)


def export_form(model: SpeechModel, form: ExportForm = "auto") -> Literal["native", "unrolled"]:
    """'native' keeps ONNX LSTM nodes (possible unless a recurrent matrix is factorised); 'auto' picks it then."""
    has_recurrent = any(r is not None for s, r in model.iter_matrices() if s.kind == "recurrent")
    if form == "native" and has_recurrent:
        raise ExportError("a factorised recurrent matrix has no ONNX LSTM form; export with form='unrolled'")
    if form == "auto":
        return "unrolled" if has_recurrent else "native"
    if form not in ("native", "unrolled"):
        raise ExportError(f"export form '{form}' is unknown; use auto, native or unrolled")
    return form


def export_onnx(model: SpeechModel, path: str | Path, *, batch: int = 1, form: ExportForm = "auto",
                opset: int = 17) -> Path:
    """Write the model as ONNX with a static input (batch, frames, n_mels) named 'features', output 'logits'.

    'native': one ONNX LSTM per layer (a factorised input matrix becomes a MatMul by V.T feeding an LSTM whose W
    is U). 'unrolled': the explicit time loop, every factorised matrix as two MatMuls.
    """
    chosen = export_form(model, form)
    model.eval()
    module: nn.Module = model if chosen == "native" else _Unrolled(model)
    x = torch.zeros(batch, model.cfg.frames, model.cfg.n_mels)
    path = Path(path)
    with torch.no_grad():
        torch.onnx.export(module, (x,), str(path), input_names=["features"], output_names=["logits"],
                          opset_version=opset, dynamo=False)
    return path
