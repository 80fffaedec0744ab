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

from geo2map.models.architectures import (
    ARCHITECTURES,
    NORMS,
    PADDINGS,
    UPSAMPLES,
    ArchInfo,
    Norm,
    Padding,
    Upsample,
    context_overlap,
    generator_multiple,
    receptive_field,
)
from geo2map.models.networks.common import INITS, Init, init_weights
from geo2map.models.networks.patchgan import MultiscaleDiscriminator, NLayerDiscriminator, PixelDiscriminator
from geo2map.models.networks.resnet import ResnetGenerator
from geo2map.models.networks.unet import UnetGenerator


@dataclass(frozen=True)
class ArchSpec:
    """A buildable architecture: its :class:`~geo2map.models.architectures.ArchInfo` and a builder
    ``build(in_bands, out_bands, ngf, norm, dropout, upsample, padding)``."""

    info: ArchInfo
    build: Callable[..., nn.Module]

    @property
    def multiple(self) -> int:
        """What tile sizes must be a multiple of."""
        return self.info.multiple

    @property
    def description(self) -> str:
        """The architecture in words."""
        return self.info.description

    @property
    def receptive_field(self) -> int:
        """Input pixels (width) one output pixel depends on."""
        return self.info.receptive_field


def _builder(info: ArchInfo) -> Callable[..., nn.Module]:
    if info.family == "unet":
        return lambda i, o, ngf, norm, dropout, up, pad: UnetGenerator(i, o, info.depth, ngf, norm, dropout, up, pad)
    return lambda i, o, ngf, norm, dropout, up, pad: ResnetGenerator(i, o, ngf, norm, dropout, info.depth, up, pad)


GENERATORS: dict[str, ArchSpec] = {name: ArchSpec(info, _builder(info)) for name, info in ARCHITECTURES.items()}
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
