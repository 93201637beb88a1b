"""Direct IR construction without ONNX, for networks generated in bulk (search spaces) and for tests.

    b = GraphBuilder("tiny", weights="random", seed=0)
    x = b.input("x", (1, 3, 32, 32))
    y = b.relu(b.conv(x, 16, 3, pad=1))
    g = b.build([b.fc(b.global_avg_pool(y), 10)])

`weights` chooses what weight tensors hold: "none" (shapes only: fastest, enough for every cost model),
"random" (seeded, He-style scale; for numerics), or "zeros". Shapes are inferred as nodes are added, so a
builder error points at the offending call.
"""
from __future__ import annotations

from typing import Any, Literal, Sequence

import numpy as np

from compiler.ir import Graph, Node, Tensor
from compiler.ops import infer_node

WeightMode = Literal["none", "random", "zeros"]


class GraphBuilder:
    def __init__(self, name: str, *, weights: WeightMode = "none", seed: int = 0, dtype: str = "float32"):
        self.name = name
        self.weights = weights
        self.dtype = dtype
        self.rng = np.random.default_rng(seed)
        self.tensors: dict[str, Tensor] = {}
        self.nodes: list[Node] = []
        self.inputs: list[str] = []
        self._count: dict[str, int] = {}

    # --- plumbing ---------------------------------------------------------------------------------------------
    def _name(self, base: str) -> str:
        k = self._count.get(base, 0)
        name = base if k == 0 else f"{base}_{k}"
        while name in self.tensors:
            k += 1
            name = f"{base}_{k}"
        self._count[base] = k + 1
        return name

    def shape(self, t: str) -> tuple[int, ...]:
        return self.tensors[t].shape

    def input(self, name: str, shape: Sequence[int], dtype: str | None = None) -> str:
        self.tensors[name] = Tensor(name, tuple(shape), dtype or self.dtype)
        self.inputs.append(name)
        return name

    def const(self, base: str, shape: Sequence[int], data: np.ndarray | None = None, fan_in: int = 1,
              fill: float | None = None) -> str:
        name = self._name(base)
        shape = tuple(int(d) for d in shape)
        if data is None and self.weights != "none":
            if fill is not None or self.weights == "zeros":
                data = np.full(shape, 0.0 if fill is None else fill, dtype=self.dtype)
            else:
                data = (self.rng.standard_normal(shape) * np.sqrt(2.0 / max(fan_in, 1))).astype(self.dtype)
        if data is not None:
            data = np.asarray(data, dtype=self.dtype)
            if data.shape != shape:
                raise ValueError(f"constant '{name}' data shape {data.shape} != {shape}")
        self.tensors[name] = Tensor(name, shape, self.dtype, const=True, data=data)
        return name

    def op(self, op: str, inputs: Sequence[str], attrs: dict[str, Any] | None = None, *, name: str | None = None,
           n_out: int = 1) -> list[str]:
        """Add any registered operator; returns its output tensor names."""
        name = self._name(name or op.lower())
        outs = tuple(f"{name}_out{k}" if n_out > 1 else name for k in range(n_out))
        node = Node(name, op, tuple(inputs), outs, attrs or {}, (name,))
        for out, (shape, dtype) in zip(outs, infer_node(node, [self.tensors[i] if i else None for i in inputs])):
            self.tensors[out] = Tensor(out, shape, dtype)
        self.nodes.append(node)
        return list(outs)

    def build(self, outputs: Sequence[str]) -> Graph:
        return Graph(self.name, self.tensors, self.nodes, list(self.inputs), list(outputs))

    def replay(self, start: int, stop: int, rename: dict[str, str]) -> dict[str, str]:
        """Append a copy of `nodes[start:stop]` (a block built earlier), fast: shapes are copied, not re-inferred.

        `rename` maps each tensor the block reads from outside (not its own outputs, not its weights) to the
        tensor the copy reads instead; each replacement must have the same shape and dtype (checked). Weights
        become new constants with the same shapes and the same data. Returns old -> new names of every tensor
        the block produced (e.g. `replay(...)[block_output]`). Used to stack identical cells in bulk builds.
        """
        names = dict(rename)
        tensors = self.tensors
        for old, new in rename.items():
            a, b = tensors[old], tensors[new]
            if a.shape != b.shape or a.dtype != b.dtype:
                raise ValueError(f"replay: '{new}' {b.shape} {b.dtype} cannot stand for '{old}' {a.shape} {a.dtype}")
        for node in self.nodes[start:stop]:
            ins = []
            for i in node.inputs:
                if not i:
                    ins.append(i)
                elif i in names:
                    ins.append(names[i])
                else:
                    t = tensors[i]
                    if not t.const:
                        raise ValueError(f"replay: node '{node.name}' reads '{i}' from outside the block; rename it")
                    c = self._name(i.rstrip("0123456789").rstrip("_") or i)
                    tensors[c] = Tensor(c, t.shape, t.dtype, True, t.data)
                    ins.append(c)
            name = self._name(node.op.lower())
            outs = tuple(f"{name}_out{k}" if len(node.outputs) > 1 else name for k in range(len(node.outputs)))
            for o_old, o_new in zip(node.outputs, outs):
                t = tensors[o_old]
                tensors[o_new] = Tensor(o_new, t.shape, t.dtype)
                names[o_old] = o_new
            self.nodes.append(Node(name, node.op, tuple(ins), outs, dict(node.attrs), (name,)))
        return names

    # --- layers -----------------------------------------------------------------------------------------------
    def conv(self, x: str, out_channels: int, kernel: int | Sequence[int], stride: int | Sequence[int] = 1,
             pad: int | Sequence[int] = 0, dilation: int = 1, groups: int = 1, bias: bool = True,
             name: str | None = None) -> str:
        cin = self.shape(x)[1]
        k = (kernel, kernel) if isinstance(kernel, int) else tuple(kernel)
        s = (stride, stride) if isinstance(stride, int) else tuple(stride)
        if isinstance(pad, int):
            p = [pad] * 4
        elif len(pad) == 2:
            p = [pad[0], pad[1], pad[0], pad[1]]
        else:
            p = list(pad)
        fan_in = cin // groups * k[0] * k[1]
        w = self.const("w", (out_channels, cin // groups, *k), fan_in=fan_in)
        ins = [w] + ([self.const("b", (out_channels,), fill=0.0 if self.weights == "zeros" else None, fan_in=fan_in)]
                     if bias else [])
        return self.op("Conv", [x, *ins], {"kernel_shape": list(k), "strides": list(s), "pads": p,
                                          "dilations": [dilation, dilation], "group": groups}, name=name)[0]

    def batchnorm(self, x: str, eps: float = 1e-5, name: str | None = None) -> str:
        c = self.shape(x)[1]
        params = [self.const("bn_scale", (c,), fill=1.0), self.const("bn_bias", (c,), fill=0.0),
                  self.const("bn_mean", (c,), fill=0.0), self.const("bn_var", (c,), fill=1.0)]
        return self.op("BatchNormalization", [x, *params], {"epsilon": eps}, name=name)[0]

    def fc(self, x: str, out_features: int, bias: bool = True, name: str | None = None) -> str:
        k = int(np.prod(self.shape(x)[1:]))
        w = self.const("w", (out_features, k), fan_in=k)
        ins = [w] + ([self.const("b", (out_features,), fan_in=k)] if bias else [])
        return self.op("FullyConnected", [x, *ins], name=name)[0]

    def matmul(self, a: str, b: str, name: str | None = None) -> str:
        return self.op("MatMul", [a, b], name=name)[0]

    def relu(self, x: str, name: str | None = None) -> str:
        return self.op("Relu", [x], name=name)[0]

    def activation(self, x: str, op: str, name: str | None = None, **attrs: Any) -> str:
        return self.op(op, [x], attrs, name=name)[0]

    def add(self, a: str, b: str, name: str | None = None) -> str:
        return self.op("Add", [a, b], name=name)[0]

    def mul(self, a: str, b: str, name: str | None = None) -> str:
        return self.op("Mul", [a, b], name=name)[0]

    def concat(self, xs: Sequence[str], axis: int = 1, name: str | None = None) -> str:
        return self.op("Concat", list(xs), {"axis": axis}, name=name)[0]

    def _pool(self, op: str, x: str, kernel: int, stride: int | None, pad: int, ceil: bool,
              count_include_pad: bool, name: str | None) -> str:
        s = kernel if stride is None else stride
        attrs: dict[str, Any] = {"kernel_shape": [kernel, kernel], "strides": [s, s], "pads": [pad] * 4,
                                 "ceil_mode": int(ceil)}
        if op == "AveragePool":
            attrs["count_include_pad"] = int(count_include_pad)
        return self.op(op, [x], attrs, name=name)[0]

    def max_pool(self, x: str, kernel: int, stride: int | None = None, pad: int = 0, ceil: bool = False,
                 name: str | None = None) -> str:
        return self._pool("MaxPool", x, kernel, stride, pad, ceil, False, name)

    def avg_pool(self, x: str, kernel: int, stride: int | None = None, pad: int = 0, ceil: bool = False,
                 count_include_pad: bool = False, name: str | None = None) -> str:
        return self._pool("AveragePool", x, kernel, stride, pad, ceil, count_include_pad, name)

    def global_avg_pool(self, x: str, name: str | None = None) -> str:
        return self.op("GlobalAveragePool", [x], name=name)[0]

    def lrn(self, x: str, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, bias: float = 1.0,
            name: str | None = None) -> str:
        return self.op("LRN", [x], {"size": size, "alpha": alpha, "beta": beta, "bias": bias}, name=name)[0]

    def softmax(self, x: str, axis: int = -1, name: str | None = None) -> str:
        return self.op("Softmax", [x], {"axis": axis}, name=name)[0]

    def flatten(self, x: str, axis: int = 1, name: str | None = None) -> str:
        return self.op("Flatten", [x], {"axis": axis}, name=name)[0]

    def reshape(self, x: str, shape: Sequence[int], name: str | None = None) -> str:
        return self.op("Reshape", [x], {"shape": list(shape)}, name=name)[0]

    def depth_to_space(self, x: str, block: int, mode: str = "CRD", name: str | None = None) -> str:
        return self.op("DepthToSpace", [x], {"blocksize": block, "mode": mode}, name=name)[0]

    def zeros_like_op(self, x: str, name: str | None = None) -> str:
        """The NAS-Bench-201 'none' edge: Mul by a zero constant (keeps the graph connected; costs no MACs)."""
        return self.mul(x, self.const("zero", (1,), fill=0.0), name=name)

    def recurrent(self, op: str, x: str, hidden: int, direction: str = "forward", name: str | None = None,
                  initial_h: str | None = None, initial_c: str | None = None) -> list[str]:
        """LSTM/GRU/RNN over x of shape (T, B, I); returns [Y (T, D, B, H), Y_h, (Y_c)]."""
        from compiler.ops import RNN_GATES

        _, _, i = self.shape(x)
        g, d = RNN_GATES[op], 2 if direction == "bidirectional" else 1
        w = self.const("W", (d, g * hidden, i), fan_in=i)
        r = self.const("R", (d, g * hidden, hidden), fan_in=hidden)
        bias = self.const("B", (d, 2 * g * hidden), fan_in=hidden)
        ins = [x, w, r, bias, "", initial_h or ""]
        if op == "LSTM":
            ins.append(initial_c or "")
        n_out = 3 if op == "LSTM" else 2
        return self.op(op, ins, {"hidden_size": hidden, "direction": direction}, name=name, n_out=n_out)
