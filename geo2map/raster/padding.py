"""Scene-border context: tile a reflection-padded canvas, write only the scene.

A pixel on a scene's edge sits on a tile's edge too, where the network sees its
own zero padding instead of data, and border tiles come out lighter or darker
than the rest (a frame around the output). Translating on a canvas padded by
reflection puts every border pixel as deep inside a tile as an interior pixel:

* :class:`ReflectPadded` reads any window of the canvas: inside the scene it is
  the scene, outside the scene's pixels mirrored at its edge (validity too, so
  nodata areas mirror as nodata and never turn valid);
* :func:`padded_grid` lays the tiles on the canvas so that every tile starts at
  the same phase of the network's stride (no tile shifted inward at the end);
* :class:`CroppedSink` passes on only the rows and columns of the scene,
  shifted back to the scene's own pixel grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from rasterio.transform import Affine
from rasterio.windows import Window

from geo2map.raster.tiling import TileGrid

if TYPE_CHECKING:
    from geo2map.models.card import ModelCard


def reflect_index(idx: np.ndarray, n: int) -> np.ndarray:
    """Indexes into ``[0, n)`` by reflection about the edge pixels (numpy's ``reflect``), any distance out."""
    if n == 1:
        return np.zeros_like(idx)
    period = 2 * n - 2
    m = np.mod(idx, period)
    return np.where(m < n, m, period - m)


@dataclass(frozen=True)
class Pads:
    """Canvas pixels added on each side of the scene."""

    left: int
    top: int
    right: int
    bottom: int


def _far_pad(length: int, near: int, size: int, stride: int, after: int) -> int:
    """Pad after the scene (at least ``after``) so the canvas is exactly covered by tiles ``stride`` apart
    (or one tile)."""
    canvas = length + near + after
    if canvas <= size:
        return size - length - near
    return after + (-(canvas - size)) % stride


def grid_origin(transform: Affine) -> tuple[int, int] | None:
    """``(column, row)`` of the scene's first pixel on the lattice of its CRS's pixel grid
    (the transform's origin in pixels), or None for a rotated or sheared transform.

    Crops of one raster (``gdal_translate -srcwin``, a window written with its own
    transform) share that lattice: their origins differ by whole pixels."""
    if transform.b or transform.d or not transform.a or not transform.e:
        return None
    return int(np.floor(transform.c / transform.a + 0.5)), int(np.floor(transform.f / transform.e + 0.5))


def _near_pad(pad: int, origin: int | None, period: int) -> int:
    """At least ``pad``, and such that tiles start on multiples of ``period`` of the CRS's pixel lattice."""
    if origin is None or period <= 1:
        return pad
    return pad + (origin - pad) % period


def padded_grid(
    width: int,
    height: int,
    size: int,
    overlap: int,
    pad: int,
    transform: Affine,
    crs: Any,
    anchor: int = 1,
) -> tuple[TileGrid, Pads]:
    """A grid over the scene padded by at least ``pad`` px (more after the scene, to fit whole strides).

    With ``anchor`` > 1 the padding before the scene grows (by less than ``anchor``) until
    tiles start on multiples of ``anchor`` of the CRS's pixel lattice (:func:`grid_origin`):
    a crop of a scene is then cut into the same tiles as the scene where they overlap,
    so its pixels away from the crop's edge come out as in the whole scene's translation.
    """
    stride = size - overlap
    origin = grid_origin(transform) or (None, None)
    left, top = _near_pad(pad, origin[0], anchor), _near_pad(pad, origin[1], anchor)
    pads = Pads(left, top, _far_pad(width, left, size, stride, pad), _far_pad(height, top, size, stride, pad))
    canvas_transform = transform * Affine.translation(-left, -top)
    grid = TileGrid(
        width + pads.left + pads.right,
        height + pads.top + pads.bottom,
        size,
        overlap,
        canvas_transform,
        crs,
        stripe_origin=pads.left,
    )
    return grid, pads


def grid_anchor(card: ModelCard, size: int, overlap: int) -> int:
    """The lattice period tiles start on (:func:`padded_grid`'s ``anchor``).

    A grid-independent model needs only the network's stride phase to agree (its
    multiple, 32 for U-Net-32): blending already ignores what the tile edges saw. Any
    other model sees whole tiles, so tiles must coincide: the tile stride.
    """
    if card.task == "identity":
        return 1
    if card.grid_independent:
        from geo2map.models.architectures import generator_multiple

        return generator_multiple(card.architecture.generator)
    return size - overlap


def scene_context(card: ModelCard, size: int, overlap: int) -> tuple[int, int]:
    """``(pad, margin)``: the reflection padding around the scene and the blend margin.

    The scene is padded by half the overlap, so a border pixel lies as deep inside
    a tile as an interior pixel does (identity needs no context: 0). When the
    model is grid-independent at this overlap (a receptive field that fits, no
    per-tile statistics), blending ignores the ``ceil(rf / 2)`` px at tile edges
    that saw the tile's own padding; otherwise the margin is 0.
    """
    if card.task == "identity":
        return 0, 0
    from geo2map.models.architectures import per_tile_statistics, receptive_field

    a = card.architecture
    half_rf = -(-receptive_field(a.generator) // 2)
    margin = half_rf if not per_tile_statistics(a.norm, card.inference_mode) and 2 * half_rf <= overlap else 0
    return max(-(-overlap // 2), margin), margin


def fit_tile(card: ModelCard, size: int, overlap: int, width: int, height: int) -> int:
    """A grid-independent model runs on any multiple of its stride: no larger tile than a small scene needs."""
    if card.task == "identity" or not card.grid_independent:
        return size
    from geo2map.models.architectures import generator_multiple

    mult = generator_multiple(card.architecture.generator)
    need = -(-(max(width, height) + overlap) // mult) * mult
    return max(min(size, need), -(-(overlap + 1) // mult) * mult)


class ReflectPadded:
    """A :class:`~geo2map.raster.open.RasterSource` seen through a reflection-padded canvas.

    Only :meth:`read` is offered, with canvas pixel windows; windows may reach
    past the canvas too (they keep reflecting).
    """

    def __init__(self, source: Any, pads: Pads) -> None:
        self.source = source
        self.pads = pads
        self.width = source.width + pads.left + pads.right
        self.height = source.height + pads.top + pads.bottom
        self.block_shape = source.block_shape
        self.row_origin = pads.top  # canvas row where the source's block rows start

    def read(self, window: Window) -> tuple[np.ndarray, np.ndarray | None]:
        """``(data, valid)`` of a canvas window, as :meth:`RasterSource.read` gives them."""
        src = self.source
        r0, c0 = int(window.row_off) - self.pads.top, int(window.col_off) - self.pads.left
        h, w = int(window.height), int(window.width)
        if r0 >= 0 and c0 >= 0 and r0 + h <= src.height and c0 + w <= src.width:
            return src.read(Window(c0, r0, w, h))  # type: ignore[no-any-return]
        rows = reflect_index(np.arange(r0, r0 + h), src.height)
        cols = reflect_index(np.arange(c0, c0 + w), src.width)
        y0, x0 = int(rows.min()), int(cols.min())
        box = Window(x0, y0, int(cols.max()) - x0 + 1, int(rows.max()) - y0 + 1)
        data, valid = src.read(box)
        return _gather(data, rows - y0, cols - x0), (None if valid is None else _gather(valid, rows - y0, cols - x0))


def _runs(idx: np.ndarray) -> list[tuple[slice, slice]]:
    """``idx`` as runs of consecutive indexes: (output slice, input slice with step ±1)."""
    step = np.diff(idx)
    cuts = np.flatnonzero((step != 1) & (step != -1)) + 1  # a run also ends where its direction turns
    cuts = np.union1d(cuts, np.flatnonzero(step[1:] != step[:-1]) + 1) if len(step) > 1 else cuts
    runs = []
    for a, b in zip([0, *cuts.tolist()], [*cuts.tolist(), len(idx)], strict=True):
        first, last = int(idx[a]), int(idx[b - 1])
        if b - a == 1 or last > first:
            runs.append((slice(a, b), slice(first, last + 1)))
        else:
            runs.append((slice(a, b), slice(first, last - 1 if last > 0 else None, -1)))
    return runs


def _gather(arr: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``arr[:, rows][:, :, cols]`` by slice copies (reflections are a few reversed runs)."""
    out = np.empty((arr.shape[0], len(rows), len(cols)), dtype=arr.dtype)
    col_runs = _runs(cols)
    for out_r, in_r in _runs(rows):
        for out_c, in_c in col_runs:
            out[:, out_r, out_c] = arr[:, in_r, in_c]
    return out


class CroppedSink:
    """A row sink that forwards only the scene's part of canvas rows, in scene coordinates."""

    def __init__(self, sink: Any, pads: Pads, width: int, height: int) -> None:
        self.sink = sink
        self.pads = pads
        self.width = width
        self.height = height

    def __call__(self, row_off: int, col_off: int, data: np.ndarray, valid: np.ndarray) -> None:
        p = self.pads
        y0, y1 = max(row_off, p.top), min(row_off + data.shape[1], p.top + self.height)
        x0, x1 = max(col_off, p.left), min(col_off + data.shape[2], p.left + self.width)
        if y1 <= y0 or x1 <= x0:
            return
        rows = slice(y0 - row_off, y1 - row_off)
        cols = slice(x0 - col_off, x1 - col_off)
        self.sink(y0 - p.top, x0 - p.left, data[:, rows, cols], valid[:, rows, cols])
