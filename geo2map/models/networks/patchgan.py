"""Discriminators: PatchGAN (``NLayerDiscriminator``) and the 1x1 pixel discriminator.

With ``n_layers=3`` the PatchGAN classifies 70x70 overlapping patches as real or
fake; its output is a map of logits, one per patch. Parameter names match the
reference implementation.
"""

from __future__ import annotations

import torch
from torch import nn

from geo2map.models.networks.common import Norm, conv_bias, norm_layer


class NLayerDiscriminator(nn.Module):
    """PatchGAN discriminator (logits, no sigmoid: the GAN loss applies it)."""

    def __init__(self, in_bands: int, ndf: int = 64, n_layers: int = 3, norm: Norm = "batch") -> None:
        super().__init__()
        bias = conv_bias(norm)
        make_norm = norm_layer(norm)
        seq: list[nn.Module] = [nn.Conv2d(in_bands, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            seq += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=bias),
                make_norm(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        prev, mult = mult, min(2**n_layers, 8)
        seq += [
            nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=bias),
            make_norm(ndf * mult),
            nn.LeakyReLU(0.2, True),
        ]
        seq.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*seq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """1x1 PatchGAN: classifies each pixel on its own (colour statistics only)."""

    def __init__(self, in_bands: int, ndf: int = 64, norm: Norm = "batch") -> None:
        super().__init__()
        bias = conv_bias(norm)
        self.net = nn.Sequential(
            nn.Conv2d(in_bands, ndf, 1),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 1, bias=bias),
            norm_layer(norm)(ndf * 2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, 1, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
