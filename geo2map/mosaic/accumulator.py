"""The streaming, blending mosaicker.

Tiles arrive in the grid's row-major order. The accumulator keeps ``Σ w·x`` and
``Σ w`` for a band of output rows only as tall as one tile: when a tile starting
at row ``y`` arrives, no later tile can touch rows above ``y``, so those rows are
finalised (``Σ w·x / Σ w``, nodata where ``Σ w = 0``), handed to the sink and
dropped. Peak memory is ``bands x tile height x raster width`` accumulators,
whatever the raster height.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from geo2map.mosaic import kernels
from geo2map.mosaic.blend import BlendMethod, blend_weights, is_winner_takes_all
from geo2map.raster.tiling import Tile, TileGrid

#: ``sink(row_off, col_off, data, valid)``: finished rows of one column stripe,
#: data (bands, n, stripe width) in the output dtype, valid (bands or 1, n, stripe width) bool.
RowSink = Callable[[int, int, np.ndarray, np.ndarray], None]


def _cast(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float accumulator values to the output dtype (rounded and clipped for integers)."""
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        values = np.rint(values, out=values)
        return np.clip(values, info.min, info.max, out=values).astype(dtype)
    return values.astype(dtype, copy=False)


class StreamingMosaic:
    """Blend tiles into rows of output, finalising rows as soon as they are complete.

    Args:
        grid: The tile grid the tiles come from.
        count: Number of bands of the tiles (and of the output).
        dtype: Output dtype.
        sink: Receives finished rows, top to bottom, each row exactly once.
        blend: A name from :data:`~geo2map.mosaic.blend.BLEND_METHODS` or a callable.
        per_band: Keep a weight sum per band (per-band nodata, GDAL's semantics);
            otherwise one validity per pixel for all bands.
        fill: Value written where no valid tile contributed (nodata; NaN for floats
            by default, 0 for integers).
        columns: The output columns ``(c0, c1)`` this mosaic builds (a stripe from
            :meth:`TileGrid.column_stripes`); tiles are clipped to them.
        margin: Tile-edge pixels that hardly count (see
            :func:`~geo2map.mosaic.blend.blend_weights`).
        finish: Applied to each block of finished rows ``(bands, n, width)`` (float) before the
            cast: a pointwise map of the blended values, e.g. an affine un-scaling
            (:attr:`~geo2map.sensors.Scaling.affine_inverse`: it commutes with the weighted mean,
            so it runs once per pixel instead of per tile) and a palette's snapping.
    """

    def __init__(
        self,
        grid: TileGrid,
        count: int,
        dtype: str | np.dtype,
        sink: RowSink,
        *,
        blend: str | BlendMethod = "cosine",
        per_band: bool = False,
        fill: float | None = None,
        columns: tuple[int, int] | None = None,
        margin: int = 0,
        finish: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.grid = grid
        self.finish = finish
        self.count = count
        self.dtype = np.dtype(dtype)
        self.sink = sink
        self.winner = is_winner_takes_all(blend)
        # a private, writable copy: torch's kernels take no read-only arrays
        self.weights = blend_weights(blend, grid.size, grid.size, grid.overlap, margin).copy()
        if fill is None:
            fill = np.nan if self.dtype.kind == "f" else 0
        self.fill = fill
        acc = np.float64 if self.dtype.kind == "f" and self.dtype.itemsize >= 4 else np.float32
        self.c0, self.c1 = columns or (0, grid.width)
        if not 0 <= self.c0 < self.c1 <= grid.width:
            raise ValueError(f"columns {columns} outside the grid's width {grid.width}")
        rows = min(grid.size, grid.height)
        width = self.c1 - self.c0
        # a ring of buffer rows: output row r lives in buffer row (r - top + base) % rows
        self._num = np.zeros((count, rows, width), dtype=acc)
        self._den = np.zeros((count if per_band else 1, rows, width), dtype=np.float32)
        self._base = 0
        self._top = 0  # first output row not yet handed to the sink
        self._scratch: dict[np.dtype, np.ndarray] = {}  # w·x of one tile, by dtype
        self._closed = False

    @property
    def rows_done(self) -> int:
        """Output rows already finalised and handed to the sink."""
        return self._top

    def add(self, tile: Tile, data: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Blend one tile.

        Args:
            tile: The tile (from ``grid``); tiles must come in row-major order.
            data: ``(bands, size, size)`` values.
            valid: ``(size, size)`` or ``(bands, size, size)`` bool, or None (all valid).
        """
        if self._closed:
            raise RuntimeError("mosaic already closed")
        y, x = tile.row_off, tile.col_off
        if y < self._top:
            raise ValueError(
                f"tile {tile.name} starts at row {y}, above rows already written ({self._top}); "
                "add tiles in row-major order"
            )
        if data.shape[0] != self.count:
            raise ValueError(f"tile has {data.shape[0]} bands, mosaic expects {self.count}")
        self._flush(y)  # now self._top == y: the tile starts at the ring's base
        h = min(tile.height, self.grid.height - y)
        # the tile's columns inside this mosaic's stripe, in tile and in buffer coordinates
        t0 = max(self.c0 - x, 0)
        t1 = min(tile.width, self.c1 - x)
        if t1 <= t0:
            return
        cols = slice(x + t0 - self.c0, x + t1 - self.c0)
        wt = self.weights[:h, t0:t1]
        vals = data[:, :h, t0:t1]
        if valid is not None:
            v = valid[..., :h, t0:t1]
            wt = wt * v  # (h, w) or (bands, h, w)
            if wt.ndim == 3 and self._den.shape[0] == 1:
                wt = wt.min(axis=0, keepdims=True)  # a pixel counts only if all bands are valid
        for buf, part in self._ring(h):
            num, den = self._num[:, buf, cols], self._den[:, buf, cols]
            w_part = wt[..., part, :]
            if self.winner:
                better = w_part > den  # broadcast over bands
                np.copyto(num, vals[:, part], where=better, casting="unsafe")
                np.maximum(den, w_part, out=den)
            else:
                kernels.add_product(num, vals[:, part], w_part, self._scratch_for(num.dtype, num.shape))
                kernels.add(den, w_part)

    def _scratch_for(self, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
        """A reused buffer of ``shape`` (at most a tile's) for numpy's ``w·x``."""
        scratch = self._scratch.get(dtype)
        if scratch is None:
            scratch = self._scratch[dtype] = np.empty((self.count, self.grid.size, self.grid.size), dtype)
        return scratch[: shape[0], : shape[1], : shape[2]]

    def _ring(self, n: int) -> list[tuple[slice, slice]]:
        """The first ``n`` rows from the top as (buffer rows, rows counted from the top): one or two runs."""
        rows = self._num.shape[1]
        first = min(n, rows - self._base)
        runs = [(slice(self._base, self._base + first), slice(0, first))]
        if first < n:
            runs.append((slice(0, n - first), slice(first, n)))
        return runs

    def _flush(self, upto: int) -> None:
        """Finalise rows up to ``upto``, a buffer's height at a time (tile rows with no valid tile
        leave gaps taller than the buffer: those rows are nodata)."""
        upto = min(upto, self.grid.height)
        while self._top < upto:
            self._flush_rows(min(upto - self._top, self._num.shape[1]))

    def _flush_rows(self, n: int) -> None:
        shape = (self.count, n, self._num.shape[2])
        out = np.empty(shape, dtype=self._num.dtype)
        valid = np.empty((self._den.shape[0], *shape[1:]), dtype=bool)
        complete = True
        for buf, part in self._ring(n):
            num, den, o = self._num[:, buf], self._den[:, buf], out[:, part]
            ok = np.greater(den, 0, out=valid[:, part])
            if self.winner:
                np.copyto(o, num)
            elif ok.all():
                kernels.divide(num, den, out=o)
            else:
                complete = False
                o[...] = 0
                np.divide(num, den, out=o, where=ok)
            kernels.zero(num, den)
        if self.finish is not None:
            out = np.asarray(self.finish(out), dtype=out.dtype)
        if self.winner or not complete:
            np.copyto(out, self.fill, where=~valid)
        self.sink(self._top, self.c0, _cast(out, self.dtype), valid)
        self._base = (self._base + n) % self._num.shape[1]
        self._top += n

    def close(self) -> None:
        """Finalise all remaining rows."""
        if not self._closed:
            self._flush(self.grid.height)
            self._closed = True
