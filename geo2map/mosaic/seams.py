"""Seam metric: is there a visible step along tile borders?

``seam_metric`` = mean |gradient| across the tile borders ÷ mean |gradient|
everywhere else. A seamless mosaic scores about 1; a mosaic with steps at tile
borders scores clearly more.

Borders are the lines where, with nearest-centre assignment, ownership passes
from one tile to the next: half-way through each overlap. Gradients are
first differences between neighbouring pixels, averaged over bands; pairs that
touch an invalid pixel are ignored.
"""

from __future__ import annotations

import numpy as np

from geo2map.raster.tiling import TileGrid


def border_positions(offsets: list[int], size: int, length: int) -> list[int]:
    """Pixel index ``i`` such that the border lies between pixels ``i-1`` and ``i``."""
    out = []
    for a, b in zip(offsets[:-1], offsets[1:], strict=False):
        end = min(a + size, length)
        out.append((b + end) // 2)
    return [p for p in out if 0 < p < length]


def seam_metric(
    image: np.ndarray, grid: TileGrid, valid: np.ndarray | None = None, origin: tuple[int, int] = (0, 0)
) -> float:
    """Mean |gradient| across tile borders divided by the mean |gradient| elsewhere.

    Args:
        image: ``(bands, height, width)`` or ``(height, width)`` array on ``grid``.
        grid: The tile grid the image was mosaicked from.
        valid: Optional ``(height, width)`` bool mask.
        origin: ``(row, col)`` of the image's first pixel in the grid: the pads of a
            reflection-padded canvas (:func:`geo2map.raster.padding.padded_grid`).
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 2:
        img = img[None]
    if valid is None:
        valid = np.all(np.isfinite(img), axis=0)
    img = np.where(valid[None], img, 0.0)
    gx = np.abs(np.diff(img, axis=2)).mean(axis=0)  # between (i, j) and (i, j+1)
    gy = np.abs(np.diff(img, axis=1)).mean(axis=0)
    vx = valid[:, 1:] & valid[:, :-1]
    vy = valid[1:, :] & valid[:-1, :]
    sx = np.zeros_like(vx)
    sy = np.zeros_like(vy)
    for p in border_positions(grid.col_offsets, grid.size, grid.width):
        if 0 < p - origin[1] < img.shape[2]:
            sx[:, p - origin[1] - 1] = True
    for p in border_positions(grid.row_offsets, grid.size, grid.height):
        if 0 < p - origin[0] < img.shape[1]:
            sy[p - origin[0] - 1, :] = True
    seam = np.concatenate([gx[vx & sx], gy[vy & sy]])
    rest = np.concatenate([gx[vx & ~sx], gy[vy & ~sy]])
    if seam.size == 0 or rest.size == 0:
        raise ValueError("the grid has no interior tile border to measure")
    base = rest.mean()
    if base == 0:
        return 1.0 if seam.mean() == 0 else float("inf")
    return float(seam.mean() / base)
