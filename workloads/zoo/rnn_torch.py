"""Torch modules of the zoo's recurrent networks: stacked LSTM/GRU, the single LSTM benchmark, and an
encoder-attention-decoder LSTM speech model whose decoder is unrolled for a fixed number of steps.

All take sequence-major input (T, B, F), the layout of the ONNX LSTM/GRU operators, so the export needs no
transposes. Sizes are chosen in `workloads.zoo.registry` and explained in docs/zoo.md.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

Shape = Sequence[int]


class StackedRNN(nn.Module):
    """`layers` stacked LSTM or GRU layers (torch's fused nn.LSTM/nn.GRU) and an optional per-step linear head."""

    def __init__(self, cell: str = "LSTM", shape: Shape = (25, 1, 512), hidden: int = 512, layers: int = 3,
                 num_classes: int = 0):
        super().__init__()
        rnn = {"LSTM": nn.LSTM, "GRU": nn.GRU}[cell]
        self.rnn = rnn(shape[2], hidden, layers)
        self.head = nn.Linear(hidden, num_classes) if num_classes else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.rnn(x)
        return y if self.head is None else self.head(y)


class DecoderLSTMCell(nn.Module):
    """An LSTM cell (gates i, f, g, o and the two biases of torch's LSTMCell) written with Linear layers, so that
    every unrolled step of an exported decoder reads the same weight initialisers (Gemm nodes) instead of a
    per-step copy of a fused LSTM's reordered weights. The optional `extra` input enters through its own
    (extra, 4H) matrix (a MatMul), which is how the first decoder layer takes the token embedding beside the
    context. A missing state (the first step) skips the recurrent product and the forget gate, which would
    multiply zeros. Gates are sliced one by one (Slice nodes), so no unused output is left behind."""

    def __init__(self, input_size: int, hidden: int, extra: int = 0):
        super().__init__()
        self.hidden = hidden
        self.ih = nn.Linear(input_size, 4 * hidden)
        self.hh = nn.Linear(hidden, 4 * hidden)
        self.extra = nn.Parameter(torch.empty(extra, 4 * hidden)) if extra else None

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None,
                extra: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        gates = self.ih(x)
        if extra is not None:
            gates = gates + extra @ self.extra
        if state is not None:
            gates = gates + self.hh(state[0])
        gate = lambda k: gates[:, k * self.hidden:(k + 1) * self.hidden]  # noqa: E731  (i, f, g, o)
        c = torch.sigmoid(gate(0)) * torch.tanh(gate(2))
        if state is not None:
            c = c + torch.sigmoid(gate(1)) * state[1]
        return torch.sigmoid(gate(3)) * torch.tanh(c), c


class AttentionASR(nn.Module):
    """Encoder-attention-decoder LSTM speech recogniser ("listen, attend and spell" family).

    Encoder: `enc_layers` unidirectional LSTM layers (streaming-friendly, as on-device models) over the
    (T, B, features) input. Attention: Luong "general" (dot product of the top decoder state with W_k-projected
    encoder states), softmax over time, context = weighted sum of encoder states. Decoder: `dec_layers` LSTM
    cells unrolled for `steps` output tokens; the first layer reads the previous context (input feeding; the
    mean of the encoder states before step 0) and the previous token's embedding; the attentional state
    tanh(W_c [h; context]) gives the logits over `vocab` units. The token fed back is the softmax of the
    previous logits times the (vocab, embed) embedding table (a soft embedding: the graph stays static, with no
    argmax or gather); the start token's embedding is zero, so step 0 reads the context only. Every step
    depends on the input, so no exporter folds part of the decoder away. Output: logits (steps, B, vocab).
    """

    def __init__(self, shape: Shape = (64, 1, 80), hidden: int = 1024, enc_layers: int = 5, dec_layers: int = 2,
                 embed: int = 256, vocab: int = 1024, steps: int = 16):
        super().__init__()
        self.steps = steps
        self.encoder = nn.LSTM(shape[2], hidden, enc_layers)
        self.key = nn.Linear(hidden, hidden, bias=False)
        self.cells = nn.ModuleList(DecoderLSTMCell(hidden, hidden, embed if k == 0 else 0) for k in range(dec_layers))
        self.combine = nn.Linear(2 * hidden, hidden)
        self.out = nn.Linear(hidden, vocab)
        self.embedding = nn.Parameter(torch.empty(vocab, embed))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        enc, _ = self.encoder(x)                                   # (T, B, H)
        values = enc.transpose(0, 1)                               # (B, T, H)
        keys = self.key(enc).transpose(0, 1)                       # (B, T, H)
        context = enc.mean(0)                                      # (B, H)
        emb: torch.Tensor | None = None
        states: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(self.cells)
        logits = []
        for t in range(self.steps):
            h = context
            for k, cell in enumerate(self.cells):
                states[k] = cell(h, states[k], emb if k == 0 else None)
                h = states[k][0]
            scores = torch.bmm(keys, h.unsqueeze(2))               # (B, T, 1)
            weights = torch.softmax(scores, dim=1)
            context = torch.bmm(weights.transpose(1, 2), values).squeeze(1)  # (B, H)
            step_logits = self.out(torch.tanh(self.combine(torch.cat([h, context], 1))))
            logits.append(step_logits)
            if t + 1 < self.steps:
                emb = torch.softmax(step_logits, dim=1) @ self.embedding
        return torch.stack(logits, 0)
