"""What geo2map knows about each generator architecture without building it (no torch needed).

Names, the tile-size multiple, the receptive field and the option values that model
cards use. :mod:`geo2map.models.networks` builds the networks from this list; the
card, the tiling and the ONNX runtime path only need this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Norm = Literal["batch", "instance", "none"]
Upsample = Literal["deconv", "resize"]
Padding = Literal["zeros", "reflect"]
NORMS: tuple[str, ...] = ("batch", "instance", "none")
UPSAMPLES: tuple[str, ...] = ("deconv", "resize")
PADDINGS: tuple[str, ...] = ("zeros", "reflect")


def unet_receptive_field(depth: int) -> int:
    """Width in pixels of the input window that one output pixel of a U-Net depends on.

    Along the deepest path: ``depth`` 4x4 stride-2 convs (3 * 2**i px each at level i)
    and ``depth`` up-samplings (2**i px each: a 4x4 stride-2 transposed conv and
    nearest x2 + 3x3 conv both reach 2 coarser pixels), ``5 * 2**depth - 4``, plus 2 px
    for the least favourable output phase of the stride-2 layers: ``5 * 2**depth - 2``
    (tests check it against the measured support of a linearised network).
    """
    return 5 * 2**depth - 2


def resnet_receptive_field(n_blocks: int) -> int:
    """Width in pixels of the input window one output pixel depends on: 7x7 stem, two 3x3
    stride-2 convs, ``n_blocks`` x two 3x3 convs at stride 4, two up-samplings, 7x7 head."""
    rf = 1 + 6 + 2 * 1 + 2 * 2  # stem, the two stride-2 convs (jump 1, then 2)
    rf += n_blocks * 2 * 2 * 4  # residual blocks at jump 4
    # up: a 3x3 stride-2 transposed conv reaches 2 input pixels, and so does nearest x2 + 3x3 conv
    rf += 1 * 4 + 1 * 2
    return rf + 6  # 7x7 head


@dataclass(frozen=True)
class ArchInfo:
    """A named generator: its family (``unet`` with ``depth`` levels, ``resnet`` with ``depth``
    blocks), the multiple its tile sizes must be, and its receptive field (px, width)."""

    name: str
    family: str
    depth: int
    multiple: int
    description: str

    @property
    def receptive_field(self) -> int:
        """Input pixels (width) one output pixel depends on."""
        return unet_receptive_field(self.depth) if self.family == "unet" else resnet_receptive_field(self.depth)


ARCHITECTURES: dict[str, ArchInfo] = {
    a.name: a
    for a in [
        ArchInfo("unet_32", "unet", 5, 32, "U-Net, 5 down-samplings: bounded receptive field (158 px)"),
        ArchInfo("unet_64", "unet", 6, 64, "U-Net, 6 down-samplings: bounded receptive field (318 px)"),
        ArchInfo("unet_128", "unet", 7, 128, "U-Net, 7 down-samplings (128 px tiles)"),
        ArchInfo("unet_256", "unet", 8, 256, "U-Net, 8 down-samplings (256 px tiles), the pix2pix generator"),
        ArchInfo("resnet_6blocks", "resnet", 6, 4, "ResNet, 6 residual blocks (128 px tiles)"),
        ArchInfo("resnet_9blocks", "resnet", 9, 4, "ResNet, 9 residual blocks (256 px tiles), the CycleGAN generator"),
    ]
}  # fmt: skip


def receptive_field(arch: str) -> int:
    """Width in pixels of the input window that one output pixel of ``arch`` depends on."""
    return ARCHITECTURES[arch].receptive_field


def generator_multiple(arch: str) -> int:
    """Tile sizes must be a multiple of this for ``arch``."""
    return ARCHITECTURES[arch].multiple


def per_tile_statistics(norm: str, inference_mode: str) -> bool:
    """Whether a generator normalises each tile by its own statistics (instance norm, or batch norm in
    ``train`` inference mode): then what a tile holds shifts all its pixels, whatever the receptive field."""
    return norm == "instance" or (norm == "batch" and inference_mode == "train")


def context_overlap(arch: str, tile_size: int) -> int | None:
    """The tile overlap that makes a tiled translation equal a whole-scene one, or None.

    Every output pixel that blending uses must see its whole receptive field inside
    its tile: the blend ignores a margin of ``ceil(rf / 2)`` px at each tile edge
    (see :func:`geo2map.mosaic.blend.blend_weights`), so neighbouring tiles must share
    twice that, rounded up to the architecture's multiple so that every tile has the
    same phase relative to the stride-2 layers. None when the receptive field does
    not fit in a tile with room to spare (then what a tile holds tints all its pixels).
    """
    spec = ARCHITECTURES[arch]
    margin = -(-spec.receptive_field // 2)
    ov = -(-2 * margin // spec.multiple) * spec.multiple
    return ov if ov <= tile_size // 2 else None
