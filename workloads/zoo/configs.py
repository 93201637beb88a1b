"""Architecture tables of the zoo networks, shared by the torch modules and the direct IR builders.

Pure Python (no torch), so `ovl zoo list` and the IR builders start fast. Every table names its source; the
choices this project made (sizes of the recurrent and speech models, SR input sizes) are explained in
docs/zoo.md.
"""
from __future__ import annotations

import math

# --- AlexNet (Caffe bvlc_alexnet, the one-tower form of Krizhevsky et al. 2012 with grouped conv2/4/5) ---------
# (out_channels, kernel, stride, pad, groups, lrn_after, pool_after); LRN before pooling as in bvlc_alexnet.
ALEXNET_CONVS = (
    (96, 11, 4, 0, 1, True, True),
    (256, 5, 1, 2, 2, True, True),
    (384, 3, 1, 1, 1, False, False),
    (384, 3, 1, 1, 2, False, False),
    (256, 3, 1, 1, 2, False, True),
)
# ZFNet (Zeiler & Fergus 2013, Fig. 3): 7x7/2 and 5x5/2 first layers, contrast normalisation after pools 1 and 2.
# (out_channels, kernel, stride, pad, groups, pool_after, lrn_after_pool)
ZFNET_CONVS = (
    (96, 7, 2, 1, 1, True, True),
    (256, 5, 2, 0, 1, True, True),
    (384, 3, 1, 1, 1, False, False),
    (384, 3, 1, 1, 1, False, False),
    (256, 3, 1, 1, 1, True, False),
)
CLASSIFIER_HIDDEN = 4096  # AlexNet, ZFNet and VGG-16 fully connected layers

# Caffe-style LRN of AlexNet/ZFNet/GoogLeNet: size, alpha, beta, bias (alpha is divided by size, as in ONNX/torch)
LRN_PARAMS = (5, 1e-4, 0.75, 1.0)

# --- VGG-16 (Simonyan & Zisserman 2014, configuration D) ---------------------------------------------------------
VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")

# --- GoogLeNet (Szegedy et al. 2014, Table 1; Caffe bvlc_googlenet without the auxiliary classifiers) -------------
# name -> (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj); "M" is a 3x3/2 ceil-mode max pool.
GOOGLENET = (
    ("3a", (64, 96, 128, 16, 32, 32)),
    ("3b", (128, 128, 192, 32, 96, 64)),
    "M",
    ("4a", (192, 96, 208, 16, 48, 64)),
    ("4b", (160, 112, 224, 24, 64, 64)),
    ("4c", (128, 128, 256, 24, 64, 64)),
    ("4d", (112, 144, 288, 32, 64, 64)),
    ("4e", (256, 160, 320, 32, 128, 128)),
    "M",
    ("5a", (256, 160, 320, 32, 128, 128)),
    ("5b", (384, 192, 384, 48, 128, 128)),
)

# --- ResNet (He et al. 2015, Table 1; stride on the 3x3 conv of bottlenecks, "v1.5" as in common model zoos) -----
RESNETS = {"resnet18": ("basic", (2, 2, 2, 2)), "resnet50": ("bottleneck", (3, 4, 6, 3)),
           "resnet101": ("bottleneck", (3, 4, 23, 3))}
RESNET_WIDTHS = (64, 128, 256, 512)
BOTTLENECK_EXPANSION = 4

# --- MobileNetV2 (Sandler et al. 2018, Table 2): (expansion t, channels c, repeats n, first stride s) --------------
MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1))
MOBILENET_V2_STEM = 32
MOBILENET_V2_LAST = 1280

# --- SqueezeNet (Iandola et al. 2016, Table 1 = v1.0; v1.1 from the SqueezeNet repository's v1.1 model) -----------
# stem (out, kernel, stride); then fire modules (squeeze, expand1x1, expand3x3) and "M" (3x3/2 ceil-mode max pool)
SQUEEZENETS = {
    "squeezenet1_0": ((96, 7, 2), ("M", (16, 64, 64), (16, 64, 64), (32, 128, 128), "M", (32, 128, 128),
                                   (48, 192, 192), (48, 192, 192), (64, 256, 256), "M", (64, 256, 256))),
    "squeezenet1_1": ((64, 3, 2), ("M", (16, 64, 64), (16, 64, 64), "M", (32, 128, 128), (32, 128, 128), "M",
                                   (48, 192, 192), (48, 192, 192), (64, 256, 256), (64, 256, 256))),
}


def window_out(size: int, kernel: int, stride: int, pad: int = 0, ceil: bool = False) -> int:
    """Output size of a conv/pool window (ONNX/torch rule, ceil mode drops a window starting in the right pad)."""
    num = size + 2 * pad - kernel
    if num < 0:
        return 0
    out = (math.ceil(num / stride) if ceil else num // stride) + 1
    if ceil and (out - 1) * stride >= size + pad:
        out -= 1
    return out
