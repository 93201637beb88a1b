"""Direct IR builders of the zoo's recurrent networks (mirror `rnn_torch` layer for layer).

Weights that the unrolled decoder reuses at every step are created once and read by every step's node, as in
the exported ONNX; count parameters with `workloads.zoo.stats.count_params`, which counts a shared constant
once.
"""
from __future__ import annotations

from compiler.builder import GraphBuilder


def _squeeze_dirs(b: GraphBuilder, y: str) -> str:
    return b.op("Squeeze", [y], {"axes": [1]})[0]          # (T, 1, B, H) -> (T, B, H)


def _linear3d(b: GraphBuilder, x: str, out: int, bias: bool = True, name: str | None = None) -> str:
    """torch Linear on a (T, B, I) tensor: MatMul by the (I, out) weight, then Add the bias."""
    k = b.shape(x)[-1]
    y = b.matmul(x, b.const("w", (k, out), fan_in=k), name=name)
    return b.add(y, b.const("b", (out,), fan_in=k)) if bias else y


def stacked_rnn(b: GraphBuilder, x: str, cell: str = "LSTM", hidden: int = 512, layers: int = 3,
                num_classes: int = 0) -> str:
    for k in range(layers):
        x = _squeeze_dirs(b, b.recurrent(cell, x, hidden, name=f"{cell.lower()}{k}")[0])
    return _linear3d(b, x, num_classes, name="head") if num_classes else x


class _Cell:
    """Constants of one `DecoderLSTMCell`, created once and read at every step."""

    def __init__(self, b: GraphBuilder, input_size: int, hidden: int, name: str, extra: int = 0):
        self.b, self.hidden, self.name = b, hidden, name
        self.w_ih = b.const(f"{name}_w_ih", (4 * hidden, input_size), fan_in=input_size)
        self.b_ih = b.const(f"{name}_b_ih", (4 * hidden,), fan_in=input_size)
        self.w_hh = b.const(f"{name}_w_hh", (4 * hidden, hidden), fan_in=hidden)
        self.b_hh = b.const(f"{name}_b_hh", (4 * hidden,), fan_in=hidden)
        self.w_extra = b.const(f"{name}_w_extra", (extra, 4 * hidden), fan_in=extra) if extra else None

    def __call__(self, x: str, state: tuple[str, str] | None, step: int, extra: str | None = None
                 ) -> tuple[str, str]:
        b, n = self.b, f"{self.name}_t{step}"
        gates = b.op("FullyConnected", [x, self.w_ih, self.b_ih], name=f"{n}_ih")[0]
        if extra is not None:
            gates = b.add(gates, b.matmul(extra, self.w_extra, name=f"{n}_extra"))
        if state is not None:
            gates = b.add(gates, b.op("FullyConnected", [state[0], self.w_hh, self.b_hh], name=f"{n}_hh")[0])
        h = self.hidden
        gate = lambda k: b.op("Slice", [gates], {"starts": [k * h], "ends": [(k + 1) * h], "axes": [1],  # noqa: E731
                                                 "steps": [1]})[0]
        sig = lambda t: b.activation(t, "Sigmoid")  # noqa: E731
        c = b.mul(sig(gate(0)), b.activation(gate(2), "Tanh"))
        if state is not None:
            c = b.add(c, b.mul(sig(gate(1)), state[1]))
        return b.mul(sig(gate(3)), b.activation(c, "Tanh")), c


def attention_asr(b: GraphBuilder, x: str, hidden: int = 1024, enc_layers: int = 5, dec_layers: int = 2,
                  embed: int = 256, vocab: int = 1024, steps: int = 16) -> str:
    enc = x
    for k in range(enc_layers):
        enc = _squeeze_dirs(b, b.recurrent("LSTM", enc, hidden, name=f"encoder{k}")[0])
    values = b.op("Transpose", [enc], {"perm": [1, 0, 2]}, name="values")[0]
    keys = b.op("Transpose", [_linear3d(b, enc, hidden, bias=False, name="key")], {"perm": [1, 0, 2]},
                name="keys")[0]
    context = b.op("ReduceMean", [enc], {"axes": [0], "keepdims": 0}, name="context_init")[0]
    cells = [_Cell(b, hidden, hidden, f"dec{k}", embed if k == 0 else 0) for k in range(dec_layers)]
    w_c, b_c = b.const("combine_w", (hidden, 2 * hidden), fan_in=2 * hidden), b.const("combine_b", (hidden,))
    w_o, b_o = b.const("out_w", (vocab, hidden), fan_in=hidden), b.const("out_b", (vocab,))
    table = b.const("embedding", (vocab, embed), fan_in=vocab)
    emb: str | None = None
    states: list[tuple[str, str] | None] = [None] * dec_layers
    logits = []
    for t in range(steps):
        h = context
        for k, cell in enumerate(cells):
            states[k] = cell(h, states[k], t, emb if k == 0 else None)
            h = states[k][0]
        q = b.op("Unsqueeze", [h], {"axes": [2]})[0]
        weights = b.softmax(b.matmul(keys, q, name=f"scores_t{t}"), axis=1)
        wt = b.op("Transpose", [weights], {"perm": [0, 2, 1]})[0]
        context = b.op("Squeeze", [b.matmul(wt, values, name=f"context_t{t}")], {"axes": [1]})[0]
        att = b.activation(b.op("FullyConnected", [b.concat([h, context], axis=1), w_c, b_c],
                                name=f"combine_t{t}")[0], "Tanh")
        step_logits = b.op("FullyConnected", [att, w_o, b_o], name=f"out_t{t}")[0]
        logits.append(b.op("Unsqueeze", [step_logits], {"axes": [0]})[0])
        if t + 1 < steps:
            emb = b.matmul(b.softmax(step_logits, axis=1), table, name=f"embed_t{t}")
    return b.concat(logits, axis=0, name="logits") if steps > 1 else logits[0]
