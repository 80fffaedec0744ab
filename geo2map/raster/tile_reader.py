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


# ---------------------------------------------------------------------------
# Reading tiles
# ---------------------------------------------------------------------------
def _read_strip(
    source: RasterSource, grid: TileGrid, y: int, x0: int, x1: int, halo: int = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    return source.read(Window(x0 - halo, y - halo, x1 - x0 + 2 * halo, grid.size + 2 * halo))


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
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="geo2map-read") as pool:
        nxt: Future[Any] = pool.submit(_read_strip, source, grid, offsets[0], x0, x1, halo)
        for r in range(len(offsets)):
            data, valid = nxt.result()
            if r + 1 < len(offsets):
                nxt = pool.submit(_read_strip, source, grid, offsets[r + 1], x0, x1, halo)
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
