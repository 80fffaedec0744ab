"""Pieces shared by the networks: normalisation layers and weight initialisation.

Follows the reference pix2pix/CycleGAN implementation (junyanz/pytorch-CycleGAN-and-pix2pix):
``batch`` is affine BatchNorm2d, ``instance`` is InstanceNorm2d without affine
parameters or running statistics, and convolutions carry a bias only when the
norm layer has none to absorb it (instance) — so state-dict keys match.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from geo2map.models.architectures import NORMS, UPSAMPLES, Norm, Padding, Upsample

Init = Literal["normal", "xavier", "kaiming", "orthogonal"]
INITS: tuple[str, ...] = ("normal", "xavier", "kaiming", "orthogonal")
__all__ = [
    "INITS",
    "NORMS",
    "Init",
    "Norm",
    "Padding",
    "ResizeConv",
    "TransposedResize",
    "Upsample",
    "init_weights",
    "norm_layer",
    "replace_module",
    "up_layer",
]


class ResizeConv(nn.Module):
    """Nearest-neighbour x2 up-sampling, then a 3x3 convolution (Odena et al. 2016, "Deconvolution
    and Checkerboard Artifacts"): every output pixel gets the same number of kernel taps, so the
    2/4/8-px checkerboard of a stride-2 transposed convolution cannot arise."""

    def __init__(self, in_ch: int, out_ch: int, bias: bool, padding: Padding = "zeros") -> None:
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.conv = nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=bias, padding_mode=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.up(x))


class TransposedResize(nn.Module):
    """A :class:`ResizeConv` computed as the stride-2 transposed convolution it equals (inference only).

    Nearest x2 + 3x3 conv costs 9 multiply-adds per output pixel and channel pair; the
    equal transposed convolution (taps ``A K Aᵀ``,
    :func:`geo2map.models.resize_projection.resize_to_deconv_taps`) costs 4, on the small
    input. Zero padding carries over as it is; reflection padding of the up-sampled map
    equals edge replication of the input by one pixel (its first two up-sampled rows are
    both input row 0), so the input is replicated and the transposed convolution crops 3.
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        from geo2map.models.resize_projection import resize_to_deconv_taps

        super().__init__()
        if conv.padding_mode not in ("zeros", "reflect"):
            raise ValueError(f"padding {conv.padding_mode} has no transposed-convolution equal")
        self.replicate = conv.padding_mode == "reflect"
        w = conv.weight.detach()
        self.deconv = nn.ConvTranspose2d(
            conv.in_channels, conv.out_channels, 4, stride=2, padding=3 if self.replicate else 1,
            bias=conv.bias is not None, device=w.device, dtype=w.dtype,
        )  # fmt: skip
        with torch.no_grad():
            self.deconv.weight.copy_(torch.from_numpy(resize_to_deconv_taps(w.cpu().double().numpy())))
            if conv.bias is not None and self.deconv.bias is not None:
                self.deconv.bias.copy_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.replicate:
            x = F.pad(x, (1, 1, 1, 1), mode="replicate")
        return self.deconv(x)  # type: ignore[no-any-return]


def replace_module(net: nn.Module, name: str, module: nn.Module) -> None:
    """Put ``module`` in place of ``net``'s submodule called ``name`` (a dotted path)."""
    parent_name, _, leaf = name.rpartition(".")
    setattr(net.get_submodule(parent_name) if parent_name else net, leaf, module)


def up_layer(in_ch: int, out_ch: int, bias: bool, upsample: Upsample, padding: Padding) -> nn.Module:
    """x2 up-sampling: the reference's 4x4 stride-2 transposed conv, or :class:`ResizeConv`."""
    if upsample == "resize":
        return ResizeConv(in_ch, out_ch, bias, padding)
    if upsample != "deconv":
        raise ValueError(f"unknown upsample {upsample!r}; choose one of {', '.join(UPSAMPLES)}")
    return nn.ConvTranspose2d(in_ch, out_ch, kernel_size=4, stride=2, padding=1, bias=bias)


def norm_layer(norm: Norm) -> Callable[[int], nn.Module]:
    """A factory ``channels -> module`` for a norm name."""
    if norm == "batch":
        return lambda c: nn.BatchNorm2d(c, affine=True, track_running_stats=True)
    if norm == "instance":
        return lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False)
    if norm == "none":
        return lambda c: nn.Identity()
    raise ValueError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")


def conv_bias(norm: Norm) -> bool:
    """Whether convolutions followed by this norm have a bias (the reference's rule).

    Batch norm has its own shift, so no bias; instance norm (affine=False) keeps the
    bias; with no norm at all a bias is needed too (the reference drops it there,
    which only matters for checkpoints trained without norm).
    """
    return norm != "batch"


def init_weights(net: nn.Module, init: Init = "normal", gain: float = 0.02) -> nn.Module:
    """Initialise conv/linear weights as the reference does; BatchNorm weights ~ N(1, gain)."""

    def fn(m: nn.Module) -> None:
        name = type(m).__name__
        weight = getattr(m, "weight", None)
        if isinstance(weight, torch.Tensor) and ("Conv" in name or "Linear" in name):
            if init == "normal":
                nn.init.normal_(weight, 0.0, gain)
            elif init == "xavier":
                nn.init.xavier_normal_(weight, gain=gain)
            elif init == "kaiming":
                nn.init.kaiming_normal_(weight, a=0, mode="fan_in")
            elif init == "orthogonal":
                nn.init.orthogonal_(weight, gain=gain)
            else:
                raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
            bias = getattr(m, "bias", None)
            if isinstance(bias, torch.Tensor):
                nn.init.zeros_(bias)
        elif "BatchNorm2d" in name and isinstance(weight, torch.Tensor):
            nn.init.normal_(weight, 1.0, gain)
            if isinstance(m.bias, torch.Tensor):
                nn.init.zeros_(m.bias)

    net.apply(fn)
    return net
