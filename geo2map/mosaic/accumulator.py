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

from geo2map.mosaic.blend import BlendMethod, blend_weights, is_winner_takes_all
from geo2map.raster.tiling import Tile, TileGrid

#: ``sink(row_off, data, valid)``: finished rows, data (bands, n, width) in the
#: output dtype and valid (bands or 1, n, width) bool.
RowSink = Callable[[int, np.ndarray, np.ndarray], None]


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
    ) -> None:
        self.grid = grid
        self.count = count
        self.dtype = np.dtype(dtype)
        self.sink = sink
        self.winner = is_winner_takes_all(blend)
        self.weights = blend_weights(blend, grid.size, grid.size, grid.overlap)
        if fill is None:
            fill = np.nan if self.dtype.kind == "f" else 0
        self.fill = fill
        acc = np.float64 if self.dtype.kind == "f" and self.dtype.itemsize >= 4 else np.float32
        rows = min(grid.size, grid.height)
        self._num = np.zeros((count, rows, grid.width), dtype=acc)
        self._den = np.zeros((count if per_band else 1, rows, grid.width), dtype=np.float32)
        self._top = 0  # first output row not yet handed to the sink
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
        self._flush(y)
        h = min(tile.height, self.grid.height - y)
        w = min(tile.width, self.grid.width - x)
        b0 = y - self._top
        num = self._num[:, b0 : b0 + h, x : x + w]
        den = self._den[:, b0 : b0 + h, x : x + w]
        wt = self.weights[:h, :w]
        vals = data[:, :h, :w]
        if valid is not None:
            v = valid[..., :h, :w]
            wt = wt * v  # (h, w) or (bands, h, w)
            if wt.ndim == 3 and den.shape[0] == 1:
                wt = wt.min(axis=0, keepdims=True)  # a pixel counts only if all bands are valid
        if self.winner:
            better = wt > den  # broadcast over bands
            np.copyto(num, vals, where=better, casting="unsafe")
            np.maximum(den, wt, out=den)
        else:
            num += wt * vals
            den += wt

    def _flush(self, upto: int) -> None:
        upto = min(upto, self.grid.height)
        n = upto - self._top
        if n <= 0:
            return
        num, den = self._num[:, :n], self._den[:, :n]
        valid = den > 0
        if self.winner:
            out = np.where(valid, num, self.fill)
        else:
            out = np.divide(num, den, out=np.full(num.shape, self.fill, dtype=num.dtype), where=valid)
        self.sink(self._top, _cast(out, self.dtype), valid)
        rows = self._num.shape[1]
        keep = rows - n
        if keep > 0:
            self._num[:, :keep] = self._num[:, n:].copy()
            self._den[:, :keep] = self._den[:, n:].copy()
            self._num[:, keep:] = 0
            self._den[:, keep:] = 0
        else:
            self._num[:] = 0
            self._den[:] = 0
        self._top = upto

    def close(self) -> None:
        """Finalise all remaining rows."""
        if not self._closed:
            self._flush(self.grid.height)
            self._closed = True
