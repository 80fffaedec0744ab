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
from torch import nn

from geo2map.models.architectures import NORMS, UPSAMPLES, Norm, Padding, Upsample

Init = Literal["normal", "xavier", "kaiming", "orthogonal"]
INITS: tuple[str, ...] = ("normal", "xavier", "kaiming", "orthogonal")
__all__ = ["INITS", "NORMS", "Init", "Norm", "Padding", "Upsample", "init_weights", "norm_layer", "up_layer"]


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
