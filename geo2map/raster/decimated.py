"""A decimated whole-scene read for statistics, in bounded memory.

A decimated ``dataset.read(out_shape=...)`` is what the statistics pass needs (scene
quantiles, input-domain checks, quicklooks), but without overviews GDAL decodes
every block of the scene for it and keeps them in its block cache, whose default
is 5% of RAM: on a 25000 x 16000 two-band GRD, RSS reached 1.3 GB right after
the read. Capping the cache instead makes GDAL decode blocks again and again
(37x slower on an 8000² scene). Here the scene is read one block row at a time,
only the rows that nearest-neighbour sampling keeps, under a cache of a few
block rows, and the kept pixels are the ones GDAL's nearest resampling picks:
the result is identical (``tests/test_decimated_read.py``) and each block is
decoded once. A raster with overviews still goes through GDAL, which reads them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasterio.windows import Window

#: most source rows in one read (a whole-image-strip TIFF has one block of the image's height)
MAX_CHUNK_ROWS = 1024


def nearest_index(n_out: int, n_in: int) -> np.ndarray:
    """The source index GDAL's nearest resampling reads for each of ``n_out`` output pixels."""
    step = n_in / n_out
    return np.minimum(np.floor((np.arange(n_out) + 0.5) * step).astype(np.int64), n_in - 1)


def read_sampled(source: Any, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``(data, valid)`` of ``source`` at ``height`` x ``width`` by nearest sampling, block row by block row.

    ``source`` reads like :class:`~geo2map.raster.open.RasterSource`
    (``read(window) -> (data, valid or None)``, ``block_shape``, ``count``, ``dtype``).
    """
    rows = nearest_index(height, source.height)
    cols = nearest_index(width, source.width)
    c0, c1 = int(cols[0]), int(cols[-1]) + 1
    data = np.empty((source.count, height, width), dtype=source.dtype)
    valid = np.empty(data.shape, dtype=bool)
    chunk = max(1, min(int(source.block_shape[0]), MAX_CHUNK_ROWS))
    start = 0
    while start < height:
        y0 = int(rows[start])
        block_end = (y0 // chunk + 1) * chunk
        stop = start + int(np.searchsorted(rows[start:], block_end))
        y1 = int(rows[stop - 1]) + 1
        d, v = source.read(Window(c0, y0, c1 - c0, y1 - y0))
        picked = (slice(None), rows[start:stop, None] - y0, cols[None, :] - c0)
        data[:, start:stop] = d[picked]
        valid[:, start:stop] = True if v is None else v[picked]
        start = stop
    return data, valid
