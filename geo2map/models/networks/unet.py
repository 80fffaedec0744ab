"""U-Net generator (pix2pix), parameter-compatible with the reference ``UnetGenerator``.

``depth`` down-samplings: 7 for 128-pixel tiles (``unet_128``), 8 for 256 (``unet_256``);
the bottleneck is 1x1 at that tile size. Skip connections concatenate encoder and
decoder features at every level.

Options beyond the reference (whose layout the defaults reproduce exactly):

* ``upsample="resize"``: nearest x2 + 3x3 conv instead of the 4x4 stride-2
  transposed conv (no checkerboard);
* ``padding="reflect"``: reflection instead of zero padding in every conv;
* a small ``depth`` (5 for ``unet_32``, 6 for ``unet_64``) bounds the receptive
  field (:func:`geo2map.models.architectures.unet_receptive_field`) well below the tile size, so a pixel's value
  no longer depends on where the tile grid falls.
"""

from __future__ import annotations

import torch
from torch import nn

from geo2map.models.networks.common import Norm, Padding, Upsample, conv_bias, norm_layer, up_layer


class UnetSkipConnectionBlock(nn.Module):
    """One U-Net level: down → submodule → up, with the input concatenated to the output."""

    def __init__(
        self,
        outer_nc: int,
        inner_nc: int,
        input_nc: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        norm: Norm = "batch",
        dropout: bool = False,
        upsample: Upsample = "deconv",
        padding: Padding = "zeros",
    ) -> None:
        super().__init__()
        self.outermost = outermost
        bias = conv_bias(norm)
        make_norm = norm_layer(norm)
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=bias, padding_mode=padding)
        downrelu = nn.LeakyReLU(0.2, True)
        uprelu = nn.ReLU(True)
        layers: list[nn.Module]
        if outermost:
            assert submodule is not None
            upconv = up_layer(inner_nc * 2, outer_nc, True, upsample, padding)
            layers = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = up_layer(inner_nc, outer_nc, bias, upsample, padding)
            layers = [downrelu, downconv, uprelu, upconv, make_norm(outer_nc)]
        else:
            assert submodule is not None
            upconv = up_layer(inner_nc * 2, outer_nc, bias, upsample, padding)
            layers = [downrelu, downconv, make_norm(inner_nc), submodule, uprelu, upconv, make_norm(outer_nc)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """U-Net generator.

    Args:
        in_bands: Input channels (e.g. 2 for Sentinel-1 VV+VH).
        out_bands: Output channels (e.g. 3 for RGB).
        depth: Number of down-samplings (input size must be a multiple of 2**depth).
        ngf: Filters in the first layer.
        norm: ``batch``, ``instance`` or ``none``.
        dropout: Dropout (0.5) in the inner decoder blocks, as pix2pix (depth >= 6 only:
            depth 5 has no such block).
        upsample: ``deconv`` (reference) or ``resize``.
        padding: ``zeros`` (reference) or ``reflect``.
    """

    def __init__(
        self,
        in_bands: int,
        out_bands: int,
        depth: int = 8,
        ngf: int = 64,
        norm: Norm = "batch",
        dropout: bool = False,
        upsample: Upsample = "deconv",
        padding: Padding = "zeros",
    ) -> None:
        super().__init__()
        if depth < 5:
            raise ValueError("U-Net depth must be at least 5")
        self.depth = depth
        opts = {"norm": norm, "upsample": upsample, "padding": padding}
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True, **opts)  # type: ignore[arg-type]
        for _ in range(depth - 5):
            block = UnetSkipConnectionBlock(
                ngf * 8,
                ngf * 8,
                submodule=block,
                dropout=dropout,
                **opts,  # type: ignore[arg-type]
            )
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, **opts)  # type: ignore[arg-type]
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, **opts)  # type: ignore[arg-type]
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, **opts)  # type: ignore[arg-type]
        self.model = UnetSkipConnectionBlock(
            out_bands,
            ngf,
            input_nc=in_bands,
            submodule=block,
            outermost=True,
            **opts,  # type: ignore[arg-type]
        )

    @property
    def multiple(self) -> int:
        """Input height/width must be a multiple of this."""
        return 2**self.depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
