"""Turn a generator's stride-2 transposed convolutions into resize-convolutions.

A stride-2 ``ConvTranspose2d`` gives each of the four output phases (even/odd row,
even/odd column) its own set of kernel taps; where the phases' taps differ, the output
carries the 2/4/8-px checkerboard. A :class:`~geo2map.models.networks.common.ResizeConv`
(nearest x2, then a 3x3 convolution) is also linear and shift-invariant with period 2,
so it too is fully described by what one input pixel contributes to the output around
it: for a 3x3 kernel ``K`` that is ``A @ K @ A.T`` on output rows/columns -1..2, with

    A = [[0, 0, 1],        (row -1 gets the kernel's bottom row only,
         [0, 1, 1],         row 0 its middle and bottom rows, ...)
         [1, 1, 0],
         [1, 0, 0]]

Every resize-convolution is thus a transposed convolution whose phases are tied
together, and the nearest one to a given transposed convolution (least squares over
the taps) is ``K = pinv(A) @ W @ pinv(A).T`` per input/output channel pair: the part
of ``W`` that a resize-convolution can express, with the checkerboard part dropped.

:func:`project_generator_state` applies that to a whole generator's weights, so a
trained deconvolution model (a built-in, or an imported reference checkpoint) can start
the training of the same architecture with ``upsample="resize"``
(``init_from=MODEL`` in :class:`~geo2map.train.config.TrainConfig`): the encoder is
kept exactly, and the decoder starts from what the trained network drew, less its
checkerboard, instead of from noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _taps(kernel: int, padding: int) -> np.ndarray:
    """Embedding of a stride-2 transposed convolution's ``kernel`` taps into output offsets -1..2
    around twice the input position (rows: offsets, columns: taps)."""
    embed = np.zeros((4, kernel))
    for k in range(kernel):
        offset = k - padding  # output row 2m + offset gets tap k of input row m
        if not -1 <= offset <= 2:
            raise ValueError(f"a {kernel}-tap transposed convolution with padding {padding} reaches past a 3x3 resize")
        embed[offset + 1, k] = 1.0
    return embed


#: what one input pixel contributes through nearest x2 + 3x3 conv (padding 1), rows = output offsets -1..2
_RESIZE = np.array([[0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]], dtype=np.float64)


def resize_to_deconv_taps(kernel: np.ndarray) -> np.ndarray:
    """The 4x4 stride-2 transposed-convolution taps (padding 1) equal to a 3x3 resize-convolution.

    Args:
        kernel: ``Conv2d`` weight of the resize-convolution, shape ``(out, in, 3, 3)``.

    Returns:
        ``ConvTranspose2d`` weight, shape ``(in, out, 4, 4)``: ``A K Aᵀ`` per channel pair.
    """
    k = np.asarray(kernel, dtype=np.float64)
    return np.einsum("ks,oist,lt->iokl", _RESIZE, k, _RESIZE).astype(np.asarray(kernel).dtype)


def deconv_to_resize_kernel(weight: np.ndarray, padding: int = 1) -> np.ndarray:
    """The least-squares nearest 3x3 resize-convolution kernel of a stride-2 transposed one.

    Args:
        weight: ``ConvTranspose2d`` weight, shape ``(in, out, k, k)``.
        padding: the transposed convolution's padding (1 for the U-Net's 4x4 and the ResNet's 3x3).

    Returns:
        ``Conv2d`` weight, shape ``(out, in, 3, 3)``.
    """
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 4 or w.shape[2] != w.shape[3]:
        raise ValueError(f"expected a square transposed-convolution weight (in, out, k, k), got {w.shape}")
    embed = _taps(w.shape[2], padding)
    pinv = np.linalg.pinv(_RESIZE)  # (3, 4)
    left = pinv @ embed  # (3, k): taps -> 3x3 rows
    kernel = np.einsum("sk,iokl,tl->oist", left, w, left)
    return kernel.astype(np.asarray(weight).dtype)


def project_generator_state(deconv_state: dict[str, Any], resize_net: Any) -> dict[str, Any]:
    """A state dict for ``resize_net`` (``upsample="resize"``) from the weights of the same
    generator built with ``upsample="deconv"``.

    Every transposed convolution ``P.weight`` becomes ``P.conv.weight`` (and ``P.bias``
    ``P.conv.bias``) by :func:`deconv_to_resize_kernel`; every other tensor is copied.
    Raises ``ValueError`` naming the first key that does not fit.
    """
    import torch
    from torch import nn

    modules = dict(resize_net.named_modules())
    target = resize_net.state_dict()
    out: dict[str, Any] = {}
    for key, value in deconv_state.items():
        prefix, _, leaf = key.rpartition(".")
        resize = modules.get(prefix)
        if resize is not None and hasattr(resize, "up") and isinstance(getattr(resize, "conv", None), nn.Conv2d):
            new_key = f"{prefix}.conv.{leaf}"
            if leaf == "weight":
                array = deconv_to_resize_kernel(value.detach().cpu().double().numpy())
                value = torch.from_numpy(array).to(value.dtype)
        else:
            new_key = key
        if new_key not in target:
            raise ValueError(f"{key} has no place in the resize-convolution generator")
        if tuple(target[new_key].shape) != tuple(value.shape):
            raise ValueError(f"{key}: shape {tuple(value.shape)} does not fit {tuple(target[new_key].shape)}")
        out[new_key] = value
    missing = sorted(set(target) - set(out))
    if missing:
        raise ValueError(f"the deconvolution weights lack {missing[0]}")
    return out


def resize_as_transposed(net: Any) -> Any:
    """``net`` with every resize-convolution computed as its equal transposed convolution (for
    inference: the same output up to rounding, in 4/9 of the decoder's multiply-adds).

    Returns ``net`` itself when it has none; otherwise a copy (the caller's model keeps its layout).
    """
    import copy

    from geo2map.models.networks.common import ResizeConv, TransposedResize, replace_module

    if not any(isinstance(m, ResizeConv) for m in net.modules()):
        return net
    net = copy.deepcopy(net)
    for name, module in list(net.named_modules()):
        if isinstance(module, ResizeConv):
            replace_module(net, name, TransposedResize(module.conv))
    return net
