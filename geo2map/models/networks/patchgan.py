"""Discriminators: PatchGAN (``NLayerDiscriminator``) and the 1x1 pixel discriminator.

With ``n_layers=3`` the PatchGAN classifies 70x70 overlapping patches as real or
fake; its output is a map of logits, one per patch. Parameter names match the
reference implementation.

Every discriminator also gives ``features(x)``: the activation after each
LeakyReLU, then the logits (what discriminator feature matching compares), and
:class:`MultiscaleDiscriminator` runs several of them on an image pyramid
(pix2pixHD, Wang et al. 2018).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from geo2map.models.networks.common import Norm, conv_bias, norm_layer


def _features(seq: nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    out = []
    for layer in seq:
        x = layer(x)
        if isinstance(layer, nn.LeakyReLU):
            out.append(x)
    return [*out, x]


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

    def features(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        """One scale: ``[[activation after each LeakyReLU..., logits]]``."""
        return [_features(self.model, x)]


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

    def features(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        """One scale: ``[[activation after each LeakyReLU..., logits]]``."""
        return [_features(self.net, x)]


class MultiscaleDiscriminator(nn.Module):
    """``len(nets)`` discriminators; the k-th sees the input average-pooled k times (3x3, stride 2).

    The coarse scales judge large-scale structure (a field, a coast) with the same
    small PatchGAN, the fine scale judges texture, which is where a generator's
    checkerboard shows. ``forward`` returns the finest scale's logits;
    ``features`` every scale's.
    """

    def __init__(self, nets: list[nn.Module]) -> None:
        super().__init__()
        self.scales = nn.ModuleList(nets)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scales[0](x)  # type: ignore[no-any-return]

    def features(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        out: list[list[torch.Tensor]] = []
        for k, net in enumerate(self.scales):
            if k:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            out += net.features(x)  # type: ignore[operator]
        return out
