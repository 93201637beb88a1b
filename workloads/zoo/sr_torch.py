"""Torch modules of the zoo's super-resolution networks: SRCNN, FSRCNN (ConvTranspose upsampling), ESPCN
(PixelShuffle, exported as DepthToSpace CRD) and EDSR-baseline (residual blocks + PixelShuffle).

Inputs are (N, C, H, W); SRCNN takes the image already upscaled (bicubic) to the output size, the others take
the low-resolution image and upscale by `scale`.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

Shape = Sequence[int]


class SRCNN(nn.Module):
    """Dong et al. 2014, the 9-1-5 network: patch extraction, non-linear mapping, reconstruction ('same' pads)."""

    def __init__(self, shape: Shape = (1, 1, 192, 192), n1: int = 64, n2: int = 32):
        super().__init__()
        c = shape[1]
        self.body = nn.Sequential(nn.Conv2d(c, n1, 9, padding=4), nn.ReLU(inplace=True),
                                  nn.Conv2d(n1, n2, 1), nn.ReLU(inplace=True), nn.Conv2d(n2, c, 5, padding=2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class FSRCNN(nn.Module):
    """Dong et al. 2016, FSRCNN(d, s, m): feature extraction 5x5, shrink 1x1, m mapping 3x3, expand 1x1 (all with
    PReLU), then a 9x9 transposed convolution with stride `scale`."""

    def __init__(self, shape: Shape = (1, 1, 64, 64), d: int = 56, s: int = 12, m: int = 4, scale: int = 3):
        super().__init__()
        c = shape[1]
        layers: list[nn.Module] = [nn.Conv2d(c, d, 5, padding=2), nn.PReLU(d), nn.Conv2d(d, s, 1), nn.PReLU(s)]
        for _ in range(m):
            layers += [nn.Conv2d(s, s, 3, padding=1), nn.PReLU(s)]
        layers += [nn.Conv2d(s, d, 1), nn.PReLU(d)]
        self.body = nn.Sequential(*layers)
        self.deconv = nn.ConvTranspose2d(d, c, 9, stride=scale, padding=4, output_padding=scale - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.body(x))


class ESPCN(nn.Module):
    """Shi et al. 2016: 5x5 (64) tanh, 3x3 (32) tanh, 3x3 to C*r^2 channels, then PixelShuffle(r)."""

    def __init__(self, shape: Shape = (1, 1, 64, 64), n1: int = 64, n2: int = 32, scale: int = 3):
        super().__init__()
        c = shape[1]
        self.body = nn.Sequential(nn.Conv2d(c, n1, 5, padding=2), nn.Tanh(), nn.Conv2d(n1, n2, 3, padding=1),
                                  nn.Tanh(), nn.Conv2d(n2, c * scale * scale, 3, padding=1))
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.body(x))


class ResBlock(nn.Module):
    def __init__(self, features: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(features, features, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(features, features, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class EDSR(nn.Module):
    """Lim et al. 2017, EDSR-baseline: head conv, `blocks` residual blocks without BN (residual scale 1), body
    conv with a global skip, sub-pixel upsampler (conv to 4F channels + PixelShuffle(2), once per factor 2),
    tail conv. The fixed RGB mean shift of the reference code is left out (inputs are taken mean-free)."""

    def __init__(self, shape: Shape = (1, 3, 64, 64), blocks: int = 16, features: int = 64, scale: int = 2):
        super().__init__()
        c = shape[1]
        self.head = nn.Conv2d(c, features, 3, padding=1)
        self.body = nn.Sequential(*[ResBlock(features) for _ in range(blocks)],
                                  nn.Conv2d(features, features, 3, padding=1))
        up: list[nn.Module] = []
        if scale == 3:
            up += [nn.Conv2d(features, 9 * features, 3, padding=1), nn.PixelShuffle(3)]
        else:
            for _ in range(scale.bit_length() - 1):
                up += [nn.Conv2d(features, 4 * features, 3, padding=1), nn.PixelShuffle(2)]
        self.upsample = nn.Sequential(*up)
        self.tail = nn.Conv2d(features, c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        return self.tail(self.upsample(h + self.body(h)))
