"""Network architectures, one a file, built from one list of specs.

Generators: ``unet_128``, ``unet_256`` (U-Net with 7/8 down-samplings),
``resnet_6blocks``, ``resnet_9blocks``. Discriminators: ``basic`` (70x70
PatchGAN), ``n_layers`` (PatchGAN with ``n_layers``), ``pixel`` (1x1).
Any number of input and output bands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from geo2map.models.networks.common import INITS, NORMS, Init, Norm, init_weights
from geo2map.models.networks.patchgan import NLayerDiscriminator, PixelDiscriminator
from geo2map.models.networks.resnet import ResnetGenerator
from geo2map.models.networks.unet import UnetGenerator


@dataclass(frozen=True)
class ArchSpec:
    """A named architecture: how to build it and what tile sizes it accepts."""

    name: str
    build: Callable[..., nn.Module]
    multiple: int
    description: str


GENERATORS: dict[str, ArchSpec] = {
    spec.name: spec
    for spec in [
        ArchSpec(
            "unet_128",
            lambda i, o, ngf, norm, dropout: UnetGenerator(i, o, 7, ngf, norm, dropout),
            128,
            "U-Net, 7 down-samplings (128 px tiles)",
        ),
        ArchSpec(
            "unet_256",
            lambda i, o, ngf, norm, dropout: UnetGenerator(i, o, 8, ngf, norm, dropout),
            256,
            "U-Net, 8 down-samplings (256 px tiles), the pix2pix generator",
        ),
        ArchSpec(
            "resnet_6blocks",
            lambda i, o, ngf, norm, dropout: ResnetGenerator(i, o, ngf, norm, dropout, n_blocks=6),
            4,
            "ResNet, 6 residual blocks (128 px tiles)",
        ),
        ArchSpec(
            "resnet_9blocks",
            lambda i, o, ngf, norm, dropout: ResnetGenerator(i, o, ngf, norm, dropout, n_blocks=9),
            4,
            "ResNet, 9 residual blocks (256 px tiles), the CycleGAN generator",
        ),
    ]
}
DISCRIMINATORS: tuple[str, ...] = ("basic", "n_layers", "pixel")


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
) -> nn.Module:
    """Build a generator by architecture name (``init=None`` skips initialisation)."""
    try:
        spec = GENERATORS[arch]
    except KeyError:
        raise ValueError(f"unknown generator {arch!r}; choose one of {', '.join(GENERATORS)}") from None
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
    if in_bands < 1 or out_bands < 1:
        raise ValueError("in_bands and out_bands must be >= 1")
    net = spec.build(in_bands, out_bands, ngf, norm, dropout)
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
) -> nn.Module:
    """Build a discriminator: ``basic`` (70x70 PatchGAN), ``n_layers`` or ``pixel``."""
    if kind == "basic":
        net: nn.Module = NLayerDiscriminator(in_bands, ndf, 3, norm)
    elif kind == "n_layers":
        net = NLayerDiscriminator(in_bands, ndf, n_layers, norm)
    elif kind == "pixel":
        net = PixelDiscriminator(in_bands, ndf, norm)
    else:
        raise ValueError(f"unknown discriminator {kind!r}; choose one of {', '.join(DISCRIMINATORS)}")
    return init_weights(net, init, init_gain) if init else net


def generator_multiple(arch: str) -> int:
    """Tile sizes must be a multiple of this for ``arch``."""
    return GENERATORS[arch].multiple


__all__ = [
    "DISCRIMINATORS",
    "GENERATORS",
    "INITS",
    "NORMS",
    "ArchSpec",
    "NLayerDiscriminator",
    "PixelDiscriminator",
    "ResnetGenerator",
    "UnetGenerator",
    "build_discriminator",
    "build_generator",
    "generator_multiple",
]
