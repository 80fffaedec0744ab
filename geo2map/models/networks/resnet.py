"""ResNet generator (CycleGAN), parameter-compatible with the reference ``ResnetGenerator``.

Reflection-padded 7x7 stem, two stride-2 down-samplings, ``n_blocks`` residual
blocks (6 for 128-pixel tiles, 9 for 256), two transposed-conv up-samplings, 7x7
output and tanh. Input size must be a multiple of 4.

``upsample="resize"`` replaces the transposed convs by nearest x2 + 3x3 conv;
``padding="reflect"`` also reflection-pads the two down-sampling convs (the
stem and the residual blocks are reflection padded in the reference already).
"""

from __future__ import annotations

import torch
from torch import nn

from geo2map.models.networks.common import Norm, Padding, Upsample, conv_bias, norm_layer, up_layer


class ResnetBlock(nn.Module):
    """Residual block: x + conv-norm-relu-(dropout)-conv-norm(x), reflection padded."""

    def __init__(self, dim: int, norm: Norm, dropout: bool, bias: bool) -> None:
        super().__init__()
        make_norm = norm_layer(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3, bias=bias),
            make_norm(dim),
            nn.ReLU(True),
        ]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), make_norm(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """ResNet generator.

    Args:
        in_bands, out_bands: Channels in and out.
        ngf: Filters in the first layer.
        norm: ``batch``, ``instance`` or ``none``.
        dropout: Dropout in the residual blocks.
        n_blocks: Residual blocks (6 or 9).
        upsample: ``deconv`` (reference) or ``resize``.
        padding: ``zeros`` (reference) or ``reflect`` for the down-sampling convs.
    """

    multiple = 4

    def __init__(
        self,
        in_bands: int,
        out_bands: int,
        ngf: int = 64,
        norm: Norm = "instance",
        dropout: bool = False,
        n_blocks: int = 9,
        upsample: Upsample = "deconv",
        padding: Padding = "zeros",
    ) -> None:
        super().__init__()
        bias = conv_bias(norm)
        make_norm = norm_layer(norm)
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_bands, ngf, 7, bias=bias),
            make_norm(ngf),
            nn.ReLU(True),
        ]
        for i in range(2):
            mult = 2**i
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=bias, padding_mode=padding),
                make_norm(ngf * mult * 2),
                nn.ReLU(True),
            ]
        for _ in range(n_blocks):
            layers.append(ResnetBlock(ngf * 4, norm, dropout, bias))
        for i in range(2):
            mult = 2 ** (2 - i)
            up: nn.Module = (
                nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1, bias=bias)
                if upsample == "deconv"
                else up_layer(ngf * mult, ngf * mult // 2, bias, upsample, padding)
            )
            layers += [
                up,
                make_norm(ngf * mult // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_bands, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
