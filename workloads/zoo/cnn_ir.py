"""Direct IR builders of the zoo's image classifiers: the same layers as `cnn_torch`, without torch or ONNX.

Each builder takes a `GraphBuilder` whose input is already declared and returns the output tensor name. The
graphs use the ONNX form the importer produces (Conv with bias input, BatchNormalization kept unfolded,
Relu6 for ReLU6, FullyConnected for flatten + Linear), so MACs and parameters equal the imported ONNX model's.
"""
from __future__ import annotations

from compiler.builder import GraphBuilder
from workloads.zoo import configs as cfg


def _lrn(b: GraphBuilder, x: str) -> str:
    size, alpha, beta, bias = cfg.LRN_PARAMS
    return b.lrn(x, size, alpha, beta, bias)


def _classifier(b: GraphBuilder, x: str, num_classes: int) -> str:
    h = cfg.CLASSIFIER_HIDDEN
    x = b.relu(b.fc(x, h, name="fc6"))
    x = b.relu(b.fc(x, h, name="fc7"))
    return b.fc(x, num_classes, name="fc8")


def alexnet(b: GraphBuilder, x: str, num_classes: int = 1000) -> str:
    for i, (out, k, s, p, g, lrn, pool) in enumerate(cfg.ALEXNET_CONVS, 1):
        x = b.relu(b.conv(x, out, k, s, p, groups=g, name=f"conv{i}"))
        if lrn:
            x = _lrn(b, x)
        if pool:
            x = b.max_pool(x, 3, 2, ceil=True)
    return _classifier(b, x, num_classes)


def zfnet(b: GraphBuilder, x: str, num_classes: int = 1000) -> str:
    for i, (out, k, s, p, g, pool, lrn) in enumerate(cfg.ZFNET_CONVS, 1):
        x = b.relu(b.conv(x, out, k, s, p, groups=g, name=f"conv{i}"))
        if pool:
            x = b.max_pool(x, 3, 2, ceil=True)
        if lrn:
            x = _lrn(b, x)
    return _classifier(b, x, num_classes)


def vgg16(b: GraphBuilder, x: str, num_classes: int = 1000) -> str:
    for v in cfg.VGG16:
        x = b.max_pool(x, 2, 2) if v == "M" else b.relu(b.conv(x, v, 3, 1, 1))
    return _classifier(b, x, num_classes)


def _conv_relu(b: GraphBuilder, x: str, out: int, k: int, s: int = 1, p: int = 0, name: str | None = None) -> str:
    return b.relu(b.conv(x, out, k, s, p, name=name))


def _inception(b: GraphBuilder, x: str, name: str, widths: tuple[int, ...]) -> str:
    c1, c3r, c3, c5r, c5, pp = widths
    y1 = _conv_relu(b, x, c1, 1, name=f"inception_{name}_1x1")
    y2 = _conv_relu(b, _conv_relu(b, x, c3r, 1, name=f"inception_{name}_3x3_reduce"), c3, 3, p=1,
                    name=f"inception_{name}_3x3")
    y3 = _conv_relu(b, _conv_relu(b, x, c5r, 1, name=f"inception_{name}_5x5_reduce"), c5, 5, p=2,
                    name=f"inception_{name}_5x5")
    y4 = _conv_relu(b, b.max_pool(x, 3, 1, pad=1, ceil=True), pp, 1, name=f"inception_{name}_pool_proj")
    return b.concat([y1, y2, y3, y4], name=f"inception_{name}_output")


def googlenet(b: GraphBuilder, x: str, num_classes: int = 1000) -> str:
    x = _conv_relu(b, x, 64, 7, 2, 3, name="conv1_7x7_s2")
    x = _lrn(b, b.max_pool(x, 3, 2, ceil=True))
    x = _conv_relu(b, x, 64, 1, name="conv2_3x3_reduce")
    x = _conv_relu(b, x, 192, 3, p=1, name="conv2_3x3")
    x = b.max_pool(_lrn(b, x), 3, 2, ceil=True)
    for item in cfg.GOOGLENET:
        x = b.max_pool(x, 3, 2, ceil=True) if item == "M" else _inception(b, x, *item)
    return b.fc(b.global_avg_pool(x), num_classes, name="loss3_classifier")


def _conv_bn(b: GraphBuilder, x: str, out: int, k: int, s: int = 1, p: int = 0, groups: int = 1) -> str:
    return b.batchnorm(b.conv(x, out, k, s, p, groups=groups, bias=False))


def resnet(b: GraphBuilder, x: str, variant: str = "resnet50", num_classes: int = 1000) -> str:
    kind, depths = cfg.RESNETS[variant]
    expansion = 1 if kind == "basic" else cfg.BOTTLENECK_EXPANSION
    x = b.max_pool(b.relu(_conv_bn(b, x, 64, 7, 2, 3)), 3, 2, pad=1)
    c = 64
    for i, (width, n) in enumerate(zip(cfg.RESNET_WIDTHS, depths)):
        for j in range(n):
            stride = 2 if j == 0 and i > 0 else 1
            out = width * expansion
            if kind == "basic":
                y = _conv_bn(b, b.relu(_conv_bn(b, x, width, 3, stride, 1)), width, 3, 1, 1)
            else:
                y = b.relu(_conv_bn(b, x, width, 1))
                y = b.relu(_conv_bn(b, y, width, 3, stride, 1))
                y = _conv_bn(b, y, out, 1)
            shortcut = _conv_bn(b, x, out, 1, stride) if stride != 1 or c != out else x
            x = b.relu(b.add(y, shortcut))
            c = out
    return b.fc(b.global_avg_pool(x), num_classes, name="fc")


def mobilenet_v2(b: GraphBuilder, x: str, num_classes: int = 1000) -> str:
    relu6 = lambda t: b.activation(t, "Relu6")  # noqa: E731
    c = cfg.MOBILENET_V2_STEM
    x = relu6(_conv_bn(b, x, c, 3, 2, 1))
    for t, cout, n, s in cfg.MOBILENET_V2:
        for j in range(n):
            stride = s if j == 0 else 1
            hidden = c * t
            y = relu6(_conv_bn(b, x, hidden, 1)) if t != 1 else x
            y = relu6(_conv_bn(b, y, hidden, 3, stride, 1, groups=hidden))
            y = _conv_bn(b, y, cout, 1)
            x = b.add(x, y) if stride == 1 and c == cout else y
            c = cout
    x = relu6(_conv_bn(b, x, cfg.MOBILENET_V2_LAST, 1))
    return b.fc(b.global_avg_pool(x), num_classes, name="classifier")


def squeezenet(b: GraphBuilder, x: str, variant: str = "squeezenet1_1", num_classes: int = 1000) -> str:
    (stem, k, s), body = cfg.SQUEEZENETS[variant]
    x = _conv_relu(b, x, stem, k, s, name="conv1")
    for i, item in enumerate(body):
        if item == "M":
            x = b.max_pool(x, 3, 2, ceil=True)
        else:
            sq, e1, e3 = item
            y = _conv_relu(b, x, sq, 1, name=f"fire{i}_squeeze")
            x = b.concat([_conv_relu(b, y, e1, 1, name=f"fire{i}_expand1x1"),
                          _conv_relu(b, y, e3, 3, p=1, name=f"fire{i}_expand3x3")])
    x = _conv_relu(b, x, num_classes, 1, name="conv10")
    return b.flatten(b.global_avg_pool(x))
