"""Direct IR builders of the zoo's super-resolution networks (mirror `sr_torch` layer for layer)."""
from __future__ import annotations

from compiler.builder import GraphBuilder


def srcnn(b: GraphBuilder, x: str, n1: int = 64, n2: int = 32) -> str:
    c = b.shape(x)[1]
    y = b.relu(b.conv(x, n1, 9, pad=4, name="patch"))
    y = b.relu(b.conv(y, n2, 1, name="mapping"))
    return b.conv(y, c, 5, pad=2, name="reconstruct")


def _prelu(b: GraphBuilder, x: str) -> str:
    c = b.shape(x)[1]
    return b.op("PRelu", [x, b.const("slope", (c, 1, 1), fill=0.25)])[0]


def fsrcnn(b: GraphBuilder, x: str, d: int = 56, s: int = 12, m: int = 4, scale: int = 3) -> str:
    c = b.shape(x)[1]
    y = _prelu(b, b.conv(x, d, 5, pad=2, name="extract"))
    y = _prelu(b, b.conv(y, s, 1, name="shrink"))
    for k in range(m):
        y = _prelu(b, b.conv(y, s, 3, pad=1, name=f"map{k}"))
    y = _prelu(b, b.conv(y, d, 1, name="expand"))
    fan_in = d * 81 // (scale * scale)
    w = b.const("deconv_w", (d, c, 9, 9), fan_in=fan_in)
    bias = b.const("deconv_b", (c,), fan_in=fan_in)
    return b.op("ConvTranspose", [y, w, bias], {"kernel_shape": [9, 9], "strides": [scale, scale],
                                                "pads": [4, 4, 4, 4], "output_padding": [scale - 1] * 2,
                                                "dilations": [1, 1], "group": 1}, name="deconv")[0]


def espcn(b: GraphBuilder, x: str, n1: int = 64, n2: int = 32, scale: int = 3) -> str:
    c = b.shape(x)[1]
    y = b.activation(b.conv(x, n1, 5, pad=2), "Tanh")
    y = b.activation(b.conv(y, n2, 3, pad=1), "Tanh")
    return b.depth_to_space(b.conv(y, c * scale * scale, 3, pad=1), scale, mode="CRD")


def edsr(b: GraphBuilder, x: str, blocks: int = 16, features: int = 64, scale: int = 2) -> str:
    c = b.shape(x)[1]
    h = b.conv(x, features, 3, pad=1, name="head")
    y = h
    for k in range(blocks):
        y = b.add(y, b.conv(b.relu(b.conv(y, features, 3, pad=1, name=f"res{k}_conv1")), features, 3, pad=1,
                                name=f"res{k}_conv2"))
    y = b.add(h, b.conv(y, features, 3, pad=1, name="body_end"))
    factors = [3] if scale == 3 else [2] * (scale.bit_length() - 1)
    for f in factors:
        y = b.depth_to_space(b.conv(y, f * f * features, 3, pad=1, name="upsample"), f, mode="CRD")
    return b.conv(y, c, 3, pad=1, name="tail")
