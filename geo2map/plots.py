"""Pictures a person would rather look at than read: quicklooks of rasters and tile grids.

Matplotlib (Agg backend) is imported only here, only when a picture is asked for.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from geo2map.raster.tiling import Tile, TileGrid

if TYPE_CHECKING:
    from geo2map.sensors import Scaling


def display_rgb(
    data: np.ndarray,
    valid: np.ndarray | None = None,
    p: tuple[float, float] = (2, 98),
    limits: tuple[float, float] | None = None,
) -> np.ndarray:
    """(bands, h, w) → (h, w, 3) floats in [0, 1]: first three bands (or one band as grey),
    each stretched between its ``p`` percentiles of valid pixels (or between fixed
    ``limits``); invalid pixels white."""
    d = np.asarray(data, dtype=np.float64)
    d = d[:3] if d.shape[0] >= 3 else np.repeat(d[:1], 3, axis=0)
    ok = np.all(np.isfinite(d), axis=0)
    if valid is not None:
        ok &= valid.all(axis=0) if valid.ndim == 3 else valid
    out = np.ones(d.shape[1:] + (3,))
    for b in range(3):
        vals = d[b][ok]
        if vals.size == 0:
            continue
        lo, hi = limits if limits is not None else np.percentile(vals, p)
        hi = hi if hi > lo else lo + 1
        out[..., b] = np.where(ok, np.clip((d[b] - lo) / (hi - lo), 0, 1), 1.0)
    return out


def pyplot() -> Any:
    """matplotlib's pyplot on the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: str | os.PathLike[str], overwrite: bool = False) -> str:
    """Save ``fig`` as a PNG at ``path`` atomically (a temporary file renamed into place)."""
    from geo2map.raster.write import atomic_path

    with atomic_path(path, overwrite) as tmp:
        fig.savefig(tmp, format="png")
    return os.fspath(path)


def grid_quicklook(
    source: Any,
    grid: TileGrid,
    written: Iterable[Tile],
    path: str | os.PathLike[str],
    max_pixels: int = 1_000_000,
    overwrite: bool = False,
) -> str:
    """A PNG of the scene with the tiles drawn on it (written tiles solid, skipped dashed)."""
    plt = pyplot()
    from matplotlib.patches import Rectangle

    data, valid = source.read_decimated(max_pixels)
    written_ids = {(t.row, t.col) for t in written}
    fig, ax = plt.subplots(figsize=(8, 8 * grid.height / max(grid.width, 1) + 0.6), dpi=110)
    ax.imshow(display_rgb(data, valid), extent=(0, grid.width, grid.height, 0), interpolation="nearest")
    # overlapping outlines in one colour read as double grid lines: alternate two colours like a
    # chessboard and inset each outline a little, so every tile shows as its own rectangle
    inset = max(1.0, grid.size * 0.015)
    for tile in grid:
        used = (tile.row, tile.col) in written_ids
        ax.add_patch(
            Rectangle(
                (tile.col_off + inset, tile.row_off + inset),
                max(tile.width - 2 * inset, 1.0),
                max(tile.height - 2 * inset, 1.0),
                fill=False,
                lw=0.9 if used else 0.5,
                ls="-" if used else "--",
                ec=("tab:red", "tab:cyan")[(tile.row + tile.col) % 2] if used else "0.5",
            )
        )
    ax.set_xlim(0, max(grid.width, grid.size))
    ax.set_ylim(max(grid.height, grid.size), 0)
    ax.set_title(
        f"{os.path.basename(str(source.path))}: {len(written_ids)} tiles of {grid.size} px, "
        f"overlap {grid.overlap} (dashed: skipped, no valid pixel)",
        fontsize=9,
    )
    ax.set_xlabel("column (px)")
    ax.set_ylabel("row (px)")
    fig.tight_layout()
    try:
        return save_png(fig, path, overwrite)
    finally:
        plt.close(fig)


def as_picture(data: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    """8-bit 3-band data as it is (no stretch); anything else stretched by :func:`display_rgb`."""
    if data.dtype == np.uint8 and data.shape[0] >= 3:
        out = np.moveaxis(data[:3], 0, -1) / 255.0
        if valid is not None:
            ok = valid.all(axis=0) if valid.ndim == 3 else valid
            out[~ok] = 1.0
        return out
    return display_rgb(data, valid)


def translate_quicklook(
    source: Any,
    output: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    title: str = "",
    max_pixels: int = 1_000_000,
    input_scaling: Scaling | None = None,
    overwrite: bool = False,
) -> str:
    """A PNG with the input (a :class:`~geo2map.raster.open.RasterSource`) and the translated
    ``output`` raster side by side, both decimated to about ``max_pixels``.

    With ``input_scaling`` (a fitted :class:`~geo2map.sensors.Scaling`), the input is drawn
    as the network sees it, [-1, 1] → black..white, instead of a 2-98% stretch."""
    from geo2map.raster.open import open_raster

    plt = pyplot()
    data_in, valid_in = source.read_decimated(max_pixels)
    stretch, limits = "2-98% stretch", None
    if input_scaling is not None:
        data_in, limits = input_scaling.forward(data_in, valid_in), (-1.0, 1.0)
        stretch = f"as the model sees it: {input_scaling.name} scaling"
    with open_raster(output, allow_ungeoreferenced=True) as out:
        data_out, valid_out = out.read_decimated(max_pixels)
        out_bands = out.count
    aspect = source.height / max(source.width, 1)
    fig, axes = plt.subplots(1, 2, figsize=(12, 6 * aspect + 0.8), dpi=110)
    for ax, pic, label in (
        (
            axes[0],
            display_rgb(data_in, valid_in, limits=limits),
            f"input: {os.path.basename(str(source.path))} "
            f"({source.count} band{'s' if source.count != 1 else ''}, {stretch})",
        ),
        (
            axes[1],
            as_picture(data_out, valid_out),
            f"output: {os.path.basename(os.fspath(output))} ({out_bands} band{'s' if out_bands != 1 else ''})",
        ),
    ):
        ax.imshow(pic, interpolation="nearest")
        ax.set_title(label, fontsize=9)
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    try:
        return save_png(fig, path, overwrite)
    finally:
        plt.close(fig)
