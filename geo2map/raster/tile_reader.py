"""Stream ``(tile, data, valid)`` from a raster: one strip of rows per tile row, the next strip
read in a background thread, all-nodata tiles skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
from rasterio.windows import Window

from geo2map.raster.open import RasterSource
from geo2map.raster.tiling import Tile, TileGrid


class StripBuffer:
    """Strips of rows ``[y, y + h)`` over fixed columns, read downwards in block-aligned chunks.

    Tile rows overlap (by the grid's overlap, half a tile for some models), so reading
    each tile row's strip directly reads most rows twice, and GDAL decodes a block again
    for every read that cuts it. Here each row of the reader is read once, in chunks
    that start and end on the source's block rows, and the rows a later strip shares
    are kept. Reading upwards (an earlier row) starts afresh.

    Args:
        reader: Anything with ``read(window) -> (data, valid)`` and ``height``
            (:class:`~geo2map.raster.open.RasterSource`, a reflection-padded view).
        x0, x1: The columns of every strip (may reach past the reader's edges).
        rows: Rows to read at a time, at least: rounded up to whole block rows.
    """

    def __init__(self, reader: Any, x0: int, x1: int, rows: int = 256) -> None:
        self.reader, self.x0, self.x1 = reader, x0, x1
        block = max(1, int(getattr(reader, "block_shape", (1, 1))[0]))
        # a whole-image strip TIFF has one huge block: cap the chunk, memory stays bounded
        self.chunk = min(-(-max(rows, 1) // block) * block, max(rows, 1024))
        self.origin = int(getattr(reader, "row_origin", 0))  # reader row where block rows start
        self._y0 = self._y1 = 0
        self._data: np.ndarray | None = None
        self._valid: np.ndarray | None = None

    def read(self, y: int, h: int) -> tuple[np.ndarray, np.ndarray | None]:
        """``(data, valid)`` of rows ``[y, y + h)``, as ``reader.read`` gives them (read-only)."""
        if self._data is None or not self._y0 <= y <= self._y1:
            self._data, self._valid, self._y0, self._y1 = None, None, y, y
        if y + h > self._y1:
            self._extend(y, y + h)
        assert self._data is not None
        a, b = y - self._y0, y - self._y0 + h
        return self._data[:, a:b], (None if self._valid is None else self._valid[:, a:b])

    def _extend(self, keep_from: int, need: int) -> None:
        aligned = self.origin + -(-(need - self.origin) // self.chunk) * self.chunk
        end = max(need, min(aligned, self.reader.height))  # no read past the bottom unless asked
        data, valid = self.reader.read(Window(self.x0, self._y1, self.x1 - self.x0, end - self._y1))
        kept = slice(keep_from - self._y0, None)
        if self._data is not None and self._y1 > keep_from:
            old_valid = self._valid
            if (old_valid is None) != (valid is None):  # one part all valid, the other masked
                old_valid = _all_valid(self._data) if old_valid is None else old_valid
                valid = _all_valid(data) if valid is None else valid
            data = np.concatenate([self._data[:, kept], data], axis=1)
            if valid is not None:
                assert old_valid is not None
                valid = np.concatenate([old_valid[:, kept], valid], axis=1)
        for arr in (data, valid):
            if arr is not None:
                arr.setflags(write=False)  # shared by overlapping tiles: nobody may change it
        self._data, self._valid, self._y0, self._y1 = data, valid, keep_from, end


def _all_valid(data: np.ndarray) -> np.ndarray:
    return np.ones(data.shape, dtype=bool)


def iter_tiles(
    source: RasterSource,
    grid: TileGrid,
    *,
    skip_empty: bool = True,
    tile_cols: list[int] | None = None,
    halo: int = 0,
    on_skip: Callable[[Tile], None] | None = None,
) -> Iterator[tuple[Tile, np.ndarray, np.ndarray | None]]:
    """Yield ``(tile, data, valid)`` in row-major order.

    ``data`` is ``(bands, size, size)`` in the source dtype, ``valid`` a bool array
    of the same shape or None (all valid). Tiles with no valid pixel are skipped
    when ``skip_empty`` (``on_skip(tile)`` is called for each). ``tile_cols``
    restricts the tiles to those grid columns (a column stripe). ``halo`` extra
    pixels are read on every side (``size + 2 * halo`` square; pixels past the
    raster's edge are invalid); emptiness is judged on the tile itself. Each tile
    row is read as one strip; the next strip is read in a background thread while
    the caller works on the current one.
    """
    offsets = grid.row_offsets
    cols = list(range(grid.shape[1])) if tile_cols is None else list(tile_cols)
    if not cols:
        return
    x0 = grid.col_offsets[cols[0]]
    x1 = grid.col_offsets[cols[-1]] + grid.size
    span = grid.size + 2 * halo
    strips = StripBuffer(source, x0 - halo, x1 + halo, rows=max(grid.stride, 256))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="geo2map-read") as pool:
        nxt: Future[Any] = pool.submit(strips.read, offsets[0] - halo, span)
        for r in range(len(offsets)):
            data, valid = nxt.result()
            if r + 1 < len(offsets):
                nxt = pool.submit(strips.read, offsets[r + 1] - halo, span)
            for c in cols:
                tile = grid.tile(r, c)
                sl = slice(tile.col_off - x0, tile.col_off - x0 + span)
                v = None if valid is None else valid[:, :, sl]
                if skip_empty and v is not None and not v[:, halo : halo + grid.size, halo : halo + grid.size].any():
                    if on_skip:
                        on_skip(tile)
                    continue
                yield tile, data[:, :, sl], v


TileStream = Iterator[tuple[Tile, np.ndarray, "np.ndarray | None"]]
