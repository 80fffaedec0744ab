"""Blend windows: how much each tile's pixel counts where tiles overlap.

A blend method is any callable ``method(height, width, overlap) -> ndarray``
returning a float32 ``(height, width)`` array of positive weights. The mosaicker
computes ``Σ w·x / Σ w`` per output pixel, with ``w`` = blend window x valid
mask. A method whose ``winner_takes_all`` attribute is true is used as a
*priority* instead: each output pixel takes the value of the valid tile with the
highest weight (this is how ``none`` picks the tile whose centre is nearest).

Methods live in :data:`BLEND_METHODS` (like rasterio's ``MERGE_METHODS``);
:func:`get_blend` accepts a registered name or any callable with the signature.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

BlendMethod = Callable[[int, int, int], np.ndarray]


def _ramp(n: int, overlap: int, shape: str) -> np.ndarray:
    """1-D weights: rise over ``overlap`` pixels at both ends, 1 in between.

    Sampled at pixel centres, so the weights never reach exactly 0 (a pixel that
    only one tile covers keeps its value) and two tiles overlapping by exactly
    ``overlap`` pixels have weights summing to 1 (a partition of unity).
    """
    w = np.ones(n, dtype=np.float64)
    ramp = min(overlap, n // 2)
    if ramp > 0:
        t = (np.arange(ramp) + 0.5) / ramp  # (0, 1)
        rise = np.sin(0.5 * np.pi * t) ** 2 if shape == "cosine" else t
        w[:ramp] = rise
        w[n - ramp :] = rise[::-1]
    return w


def cosine(height: int, width: int, overlap: int) -> np.ndarray:
    """Raised-cosine (Hann-edge) window: smooth, falls towards 0 at the tile border."""
    return np.outer(_ramp(height, overlap, "cosine"), _ramp(width, overlap, "cosine")).astype(np.float32)


def linear(height: int, width: int, overlap: int) -> np.ndarray:
    """Linear feather over the overlap."""
    return np.outer(_ramp(height, overlap, "linear"), _ramp(width, overlap, "linear")).astype(np.float32)


def none(height: int, width: int, overlap: int) -> np.ndarray:
    """No blending: each pixel comes from the valid tile whose centre is nearest.

    Returns a priority ``1 / (1 + d²)`` with ``d`` the Euclidean distance to the
    tile centre; the mosaicker keeps the highest priority (winner takes all).
    """
    y = np.arange(height) + 0.5 - height / 2.0
    x = np.arange(width) + 0.5 - width / 2.0
    d2 = y[:, None] ** 2 + x[None, :] ** 2
    return (1.0 / (1.0 + d2)).astype(np.float32)


none.winner_takes_all = True  # type: ignore[attr-defined]

BLEND_METHODS: dict[str, BlendMethod] = {"cosine": cosine, "linear": linear, "none": none}


def get_blend(method: str | BlendMethod) -> BlendMethod:
    """Resolve a blend name from :data:`BLEND_METHODS`, or pass a callable through."""
    if callable(method):
        return method
    try:
        return BLEND_METHODS[method]
    except KeyError:
        raise ValueError(
            f"unknown blend {method!r}; choose one of {', '.join(BLEND_METHODS)} or pass a callable"
        ) from None


#: Weight of a pixel in a tile's margin (see :func:`blend_weights`), relative to the window's.
MARGIN_WEIGHT = 1e-6


@lru_cache(maxsize=32)
def _cached(method: BlendMethod, height: int, width: int, overlap: int, margin: int) -> np.ndarray:
    h, w_, ov = height - 2 * margin, width - 2 * margin, overlap - 2 * margin
    if margin < 0 or h < 1 or w_ < 1 or ov < 0:
        raise ValueError(f"blend margin {margin} does not fit a {height}x{width} tile with overlap {overlap}")
    inner = np.ascontiguousarray(method(h, w_, ov), dtype=np.float32)
    if inner.shape != (h, w_):
        raise ValueError(f"blend method returned shape {inner.shape}, expected {(h, w_)}")
    if not np.all(np.isfinite(inner)) or np.any(inner <= 0):
        raise ValueError("blend weights must be finite and > 0")
    w = np.full((height, width), MARGIN_WEIGHT * float(inner.min()), dtype=np.float32)
    w[margin : margin + h, margin : margin + w_] = inner
    w.setflags(write=False)
    return w


def blend_weights(method: str | BlendMethod, height: int, width: int, overlap: int, margin: int = 0) -> np.ndarray:
    """The (cached, read-only) weight window of ``method`` for one tile shape.

    ``margin`` pixels along each edge get a negligible weight (``MARGIN_WEIGHT``
    times the window's smallest) and the method's window, for ``overlap - 2 *
    margin``, fills the rest. With ``margin`` = half a generator's receptive field,
    no pixel that saw the tile's edge counts where another tile saw its whole
    context: tiled output equals whole-scene output. A pixel that only margins
    cover keeps their value.
    """
    return _cached(get_blend(method), height, width, overlap, margin)


def is_winner_takes_all(method: str | BlendMethod) -> bool:
    """Whether ``method`` picks one tile per pixel (a priority) instead of averaging."""
    return bool(getattr(get_blend(method), "winner_takes_all", False))
