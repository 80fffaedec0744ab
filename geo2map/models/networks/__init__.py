"""Network architectures, one a file, built from one list of specs.

Generators: ``unet_128``, ``unet_256`` (U-Net with 7/8 down-samplings, the
reference's), ``unet_32``, ``unet_64`` (5/6 down-samplings: a bounded receptive
field), ``resnet_6blocks``, ``resnet_9blocks``; each with ``upsample`` (``deconv``
or ``resize``) and ``padding`` (``zeros`` or ``reflect``) options. Discriminators:
``basic`` (70x70 PatchGAN), ``n_layers`` (PatchGAN with ``n_layers``), ``pixel``
(1x1), each optionally multi-scale (``num_d``). Any number of input and output bands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from geo2map.models.networks.common import (
    INITS,
    NORMS,
    PADDINGS,
    UPSAMPLES,
    Init,
    Norm,
    Padding,
    Upsample,
    init_weights,
)
from geo2map.models.networks.patchgan import MultiscaleDiscriminator, NLayerDiscriminator, PixelDiscriminator
from geo2map.models.networks.resnet import ResnetGenerator, resnet_receptive_field
from geo2map.models.networks.unet import UnetGenerator, unet_receptive_field


@dataclass(frozen=True)
class ArchSpec:
    """A named architecture: how to build it, what tile sizes it accepts, what one pixel sees.

    ``build(in_bands, out_bands, ngf, norm, dropout, upsample, padding)``;
    ``receptive_field`` is the width in pixels of the input window one output pixel
    depends on (the same for both ``upsample`` options).
    """

    name: str
    build: Callable[..., nn.Module]
    multiple: int
    description: str
    receptive_field: int


def _unet(depth: int, description: str) -> ArchSpec:
    return ArchSpec(
        f"unet_{2**depth}",
        lambda i, o, ngf, norm, dropout, up, pad: UnetGenerator(i, o, depth, ngf, norm, dropout, up, pad),
        2**depth,
        description,
        unet_receptive_field(depth),
    )


def _resnet(n_blocks: int, description: str) -> ArchSpec:
    return ArchSpec(
        f"resnet_{n_blocks}blocks",
        lambda i, o, ngf, norm, dropout, up, pad: ResnetGenerator(i, o, ngf, norm, dropout, n_blocks, up, pad),
        4,
        description,
        resnet_receptive_field(n_blocks),
    )


GENERATORS: dict[str, ArchSpec] = {
    spec.name: spec
    for spec in [
        _unet(5, "U-Net, 5 down-samplings: bounded receptive field (158 px), any tile size that is a multiple of 32"),
        _unet(6, "U-Net, 6 down-samplings: bounded receptive field (318 px), tiles a multiple of 64"),
        _unet(7, "U-Net, 7 down-samplings (128 px tiles)"),
        _unet(8, "U-Net, 8 down-samplings (256 px tiles), the pix2pix generator"),
        _resnet(6, "ResNet, 6 residual blocks (128 px tiles)"),
        _resnet(9, "ResNet, 9 residual blocks (256 px tiles), the CycleGAN generator"),
    ]
}
DISCRIMINATORS: tuple[str, ...] = ("basic", "n_layers", "pixel")


def receptive_field(arch: str) -> int:
    """Width in pixels of the input window that one output pixel of ``arch`` depends on."""
    return GENERATORS[arch].receptive_field


def context_overlap(arch: str, tile_size: int) -> int | None:
    """The tile overlap that makes a tiled translation equal a whole-scene one, or None.

    Every output pixel that blending uses must see its whole receptive field inside
    its tile: the blend ignores a margin of ``ceil(rf / 2)`` px at each tile edge
    (see :func:`geo2map.mosaic.blend.blend_weights`), so neighbouring tiles must share
    twice that, rounded up to the architecture's multiple so that every tile has the
    same phase relative to the stride-2 layers. None when the receptive field does
    not fit in a tile with room to spare (then what a tile holds tints all its pixels).
    """
    spec = GENERATORS[arch]
    margin = -(-spec.receptive_field // 2)
    ov = -(-2 * margin // spec.multiple) * spec.multiple
    return ov if ov <= tile_size // 2 else None


def build_generator(
    arch: str,
    in_bands: int,
    out_bands: int,
    *,
    ngf: int = 64,
    norm: Norm = "batch",
    dropout: bool = False,
    init: Init | None = "normal",
    init_gain: float = 0.02,
    upsample: Upsample = "deconv",
    padding: Padding = "zeros",
) -> nn.Module:
    """Build a generator by architecture name (``init=None`` skips initialisation).

    The defaults ``upsample="deconv"``, ``padding="zeros"`` are the reference layout
    (reference checkpoints import exactly); see the module docstring for the options.
    """
    try:
        spec = GENERATORS[arch]
    except KeyError:
        raise ValueError(f"unknown generator {arch!r}; choose one of {', '.join(GENERATORS)}") from None
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
    if upsample not in UPSAMPLES:
        raise ValueError(f"unknown upsample {upsample!r}; choose one of {', '.join(UPSAMPLES)}")
    if padding not in PADDINGS:
        raise ValueError(f"unknown padding {padding!r}; choose one of {', '.join(PADDINGS)}")
    if in_bands < 1 or out_bands < 1:
        raise ValueError("in_bands and out_bands must be >= 1")
    net = spec.build(in_bands, out_bands, ngf, norm, dropout, upsample, padding)
    return init_weights(net, init, init_gain) if init else net


def build_discriminator(
    kind: str,
    in_bands: int,
    *,
    ndf: int = 64,
    n_layers: int = 3,
    norm: Norm = "batch",
    init: Init | None = "normal",
    init_gain: float = 0.02,
    num_d: int = 1,
) -> nn.Module:
    """Build a discriminator: ``basic`` (70x70 PatchGAN), ``n_layers`` or ``pixel``.

    ``num_d > 1`` gives pix2pixHD's multi-scale discriminator: ``num_d`` copies, the
    k-th judging the input down-sampled k times (:class:`MultiscaleDiscriminator`).
    """

    def one() -> nn.Module:
        if kind == "basic":
            return NLayerDiscriminator(in_bands, ndf, 3, norm)
        if kind == "n_layers":
            return NLayerDiscriminator(in_bands, ndf, n_layers, norm)
        if kind == "pixel":
            return PixelDiscriminator(in_bands, ndf, norm)
        raise ValueError(f"unknown discriminator {kind!r}; choose one of {', '.join(DISCRIMINATORS)}")

    if not 1 <= num_d <= 3:
        raise ValueError(f"num_d must be 1, 2 or 3, got {num_d}")
    net = one() if num_d == 1 else MultiscaleDiscriminator([one() for _ in range(num_d)])
    return init_weights(net, init, init_gain) if init else net


def generator_multiple(arch: str) -> int:
    """Tile sizes must be a multiple of this for ``arch``."""
    return GENERATORS[arch].multiple


__all__ = [
    "DISCRIMINATORS",
    "GENERATORS",
    "INITS",
    "NORMS",
    "PADDINGS",
    "UPSAMPLES",
    "ArchSpec",
    "MultiscaleDiscriminator",
    "NLayerDiscriminator",
    "PixelDiscriminator",
    "ResnetGenerator",
    "UnetGenerator",
    "build_discriminator",
    "build_generator",
    "context_overlap",
    "generator_multiple",
    "receptive_field",
]
