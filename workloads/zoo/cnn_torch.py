"""Torch modules of the zoo's image classifiers (written here: torchvision does not import beside this torch).

Every constructor takes the input shape (N, C, H, W) so the fully connected layers of AlexNet, ZFNet and
VGG-16 follow the image size; the others end in a global average pool and accept any large-enough image.
Architectures come from `workloads.zoo.configs`; `workloads.zoo.cnn_ir` builds the same networks as IR.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from workloads.zoo import configs as cfg
from workloads.zoo.torch_common import LRN

Shape = Sequence[int]


def _lrn() -> LRN:
    return LRN(*cfg.LRN_PARAMS)


def _classifier(in_features: int, num_classes: int) -> nn.Sequential:
    h = cfg.CLASSIFIER_HIDDEN
    return nn.Sequential(nn.Dropout(0.5), nn.Linear(in_features, h), nn.ReLU(inplace=True), nn.Dropout(0.5),
                         nn.Linear(h, h), nn.ReLU(inplace=True), nn.Linear(h, num_classes))


class AlexNet(nn.Module):
    """Caffe bvlc_alexnet: 5 convs (conv2/4/5 in two groups), LRN after conv1/conv2, 3 FC layers; 227x227 input."""

    def __init__(self, shape: Shape = (1, 3, 227, 227), num_classes: int = 1000):
        super().__init__()
        c, h, w = shape[1:]
        layers: list[nn.Module] = []
        for out, k, s, p, g, lrn, pool in cfg.ALEXNET_CONVS:
            layers += [nn.Conv2d(c, out, k, s, p, groups=g), nn.ReLU(inplace=True)]
            h, w = cfg.window_out(h, k, s, p), cfg.window_out(w, k, s, p)
            if lrn:
                layers.append(_lrn())
            if pool:
                layers.append(nn.MaxPool2d(3, 2, ceil_mode=True))
                h, w = cfg.window_out(h, 3, 2, ceil=True), cfg.window_out(w, 3, 2, ceil=True)
            c = out
        self.features = nn.Sequential(*layers)
        self.classifier = _classifier(c * h * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


class ZFNet(nn.Module):
    """Zeiler & Fergus 2013 (Fig. 3): 7x7/2 conv1, 5x5/2 conv2, LRN after the first two pools; 224x224 input."""

    def __init__(self, shape: Shape = (1, 3, 224, 224), num_classes: int = 1000):
        super().__init__()
        c, h, w = shape[1:]
        layers: list[nn.Module] = []
        for out, k, s, p, g, pool, lrn in cfg.ZFNET_CONVS:
            layers += [nn.Conv2d(c, out, k, s, p, groups=g), nn.ReLU(inplace=True)]
            h, w = cfg.window_out(h, k, s, p), cfg.window_out(w, k, s, p)
            if pool:
                layers.append(nn.MaxPool2d(3, 2, ceil_mode=True))
                h, w = cfg.window_out(h, 3, 2, ceil=True), cfg.window_out(w, 3, 2, ceil=True)
            if lrn:
                layers.append(_lrn())
            c = out
        self.features = nn.Sequential(*layers)
        self.classifier = _classifier(c * h * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


class VGG16(nn.Module):
    """VGG-16 (configuration D): 13 3x3 convs with ReLU, 5 max pools, 3 FC layers; 224x224 input."""

    def __init__(self, shape: Shape = (1, 3, 224, 224), num_classes: int = 1000):
        super().__init__()
        c, h, w = shape[1:]
        layers: list[nn.Module] = []
        for v in cfg.VGG16:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                h, w = h // 2, w // 2
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)
        self.classifier = _classifier(c * h * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


class ConvReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int, s: int = 1, p: int = 0):
        super().__init__(nn.Conv2d(cin, cout, k, s, p), nn.ReLU(inplace=True))


class Inception(nn.Module):
    """Inception v1 module: 1x1 | 1x1-3x3 | 1x1-5x5 | 3x3 maxpool-1x1, concatenated on channels."""

    def __init__(self, cin: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, pp: int):
        super().__init__()
        self.b1 = ConvReLU(cin, c1, 1)
        self.b2 = nn.Sequential(ConvReLU(cin, c3r, 1), ConvReLU(c3r, c3, 3, p=1))
        self.b3 = nn.Sequential(ConvReLU(cin, c5r, 1), ConvReLU(c5r, c5, 5, p=2))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), ConvReLU(cin, pp, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)


class GoogLeNet(nn.Module):
    """GoogLeNet / Inception v1 as in the paper (conv + bias + ReLU, LRN, no BN, no auxiliary heads); 224x224."""

    def __init__(self, shape: Shape = (1, 3, 224, 224), num_classes: int = 1000):
        super().__init__()
        c = shape[1]
        self.stem = nn.Sequential(
            ConvReLU(c, 64, 7, 2, 3), nn.MaxPool2d(3, 2, ceil_mode=True), _lrn(),
            ConvReLU(64, 64, 1), ConvReLU(64, 192, 3, p=1), _lrn(), nn.MaxPool2d(3, 2, ceil_mode=True))
        blocks: list[nn.Module] = []
        c = 192
        for item in cfg.GOOGLENET:
            if item == "M":
                blocks.append(nn.MaxPool2d(3, 2, ceil_mode=True))
            else:
                _, widths = item
                blocks.append(Inception(c, *widths))
                c = widths[0] + widths[2] + widths[4] + widths[5]
        self.inception = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.inception(self.stem(x)))
        return self.fc(self.dropout(torch.flatten(x, 1)))


def conv_bn(cin: int, cout: int, k: int, s: int = 1, p: int = 0, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, p, groups=groups, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, width, 3, stride, 1), nn.ReLU(inplace=True),
                                  conv_bn(width, width, 3, 1, 1))
        self.down = conv_bn(cin, width, 1, stride) if stride != 1 or cin != width else None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + (x if self.down is None else self.down(x)))


class Bottleneck(nn.Module):
    expansion = cfg.BOTTLENECK_EXPANSION

    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        out = width * self.expansion
        self.body = nn.Sequential(conv_bn(cin, width, 1), nn.ReLU(inplace=True), conv_bn(width, width, 3, stride, 1),
                                  nn.ReLU(inplace=True), conv_bn(width, out, 1))
        self.down = conv_bn(cin, out, 1, stride) if stride != 1 or cin != out else None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + (x if self.down is None else self.down(x)))


class ResNet(nn.Module):
    """ResNet-18/50/101 (He et al. 2015) with BN after every conv; 224x224 input, any size >= 32 works."""

    def __init__(self, variant: str = "resnet50", shape: Shape = (1, 3, 224, 224), num_classes: int = 1000):
        super().__init__()
        kind, depths = cfg.RESNETS[variant]
        block = BasicBlock if kind == "basic" else Bottleneck
        self.stem = nn.Sequential(conv_bn(shape[1], 64, 7, 2, 3), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        layers: list[nn.Module] = []
        c = 64
        for i, (width, n) in enumerate(zip(cfg.RESNET_WIDTHS, depths)):
            for j in range(n):
                layers.append(block(c, width, 2 if j == 0 and i > 0 else 1))
                c = width * block.expansion
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, t: int):
        super().__init__()
        hidden = cin * t
        layers: list[nn.Module] = []
        if t != 1:
            layers += [conv_bn(cin, hidden, 1), nn.ReLU6(inplace=True)]
        layers += [conv_bn(hidden, hidden, 3, stride, 1, groups=hidden), nn.ReLU6(inplace=True),
                   conv_bn(hidden, cout, 1)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    """MobileNetV2 width 1.0 (Sandler et al. 2018): inverted residuals, ReLU6, depthwise 3x3; 224x224 input."""

    def __init__(self, shape: Shape = (1, 3, 224, 224), num_classes: int = 1000):
        super().__init__()
        c = cfg.MOBILENET_V2_STEM
        layers: list[nn.Module] = [conv_bn(shape[1], c, 3, 2, 1), nn.ReLU6(inplace=True)]
        for t, cout, n, s in cfg.MOBILENET_V2:
            for j in range(n):
                layers.append(InvertedResidual(c, cout, s if j == 0 else 1, t))
                c = cout
        layers += [conv_bn(c, cfg.MOBILENET_V2_LAST, 1), nn.ReLU6(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(cfg.MOBILENET_V2_LAST, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class Fire(nn.Module):
    def __init__(self, cin: int, squeeze: int, e1: int, e3: int):
        super().__init__()
        self.squeeze = ConvReLU(cin, squeeze, 1)
        self.e1 = ConvReLU(squeeze, e1, 1)
        self.e3 = ConvReLU(squeeze, e3, 3, p=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze(x)
        return torch.cat([self.e1(s), self.e3(s)], 1)


class SqueezeNet(nn.Module):
    """SqueezeNet v1.0 / v1.1 (Iandola et al. 2016): fire modules, conv classifier, global average pool."""

    def __init__(self, variant: str = "squeezenet1_1", shape: Shape = (1, 3, 224, 224), num_classes: int = 1000):
        super().__init__()
        (stem, k, s), body = cfg.SQUEEZENETS[variant]
        layers: list[nn.Module] = [ConvReLU(shape[1], stem, k, s)]
        c = stem
        for item in body:
            if item == "M":
                layers.append(nn.MaxPool2d(3, 2, ceil_mode=True))
            else:
                layers.append(Fire(c, *item))
                c = item[1] + item[2]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(c, num_classes, 1), nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)
