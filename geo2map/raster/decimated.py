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

Statistics need values, not a picture: :func:`read_block_sample` decodes an even
quarter of a tiled scene's blocks, so fitting a scaling no longer decodes the whole
scene before the translation decodes it again.
"""

from __future__ import annotations

import math
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


#: a statistics sample decodes one block in this many (on diagonal lines: every block row and column)
SAMPLE_EVERY = 4
#: fewer blocks than this are all read (a small scene decodes quickly anyway)
MIN_BLOCKS = 64


def sample_windows(height: int, width: int, block: tuple[int, int]) -> list[Window] | None:
    """One block in :data:`SAMPLE_EVERY` of a tiled scene, on diagonal lines across it.

    Block ``(i, j)`` is kept when ``(i + j) % SAMPLE_EVERY == 0``: every block row and
    every block column holds kept blocks, and no 3 x 3 blocks go unsampled, so a
    statistic of one region (a valley's low heights, a city's bright returns) is still
    seen. None when the scene is not tiled (its blocks span the width: the decimated read
    decodes only the rows it keeps) or holds fewer than :data:`MIN_BLOCKS` blocks.
    """
    bh, bw = block
    rows, cols = -(-height // bh), -(-width // bw)
    if bw >= width or rows * cols < MIN_BLOCKS:
        return None
    return [
        Window(j * bw, i * bh, min(bw, width - j * bw), min(bh, height - i * bh))
        for i in range(rows)
        for j in range((-i) % SAMPLE_EVERY, cols, SAMPLE_EVERY)
    ]


def read_block_sample(source: Any, max_pixels: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``(data, valid)`` of shape (bands, 1, n): a sample of the scene's values for statistics.

    Decodes a quarter of the scene's blocks (:func:`sample_windows`) and keeps every k-th
    pixel of them so that about ``max_pixels`` remain. None where :func:`sample_windows` is.
    """
    windows = sample_windows(source.height, source.width, tuple(source.block_shape))
    if windows is None:
        return None
    decoded = sum(int(w.width) * int(w.height) for w in windows)
    step = max(1, math.ceil(math.sqrt(decoded / max_pixels)))
    data, valid = [], []
    for window in windows:
        d, v = source.read(window)
        d = d[:, ::step, ::step]
        data.append(d.reshape(d.shape[0], -1))
        valid.append(np.ones(data[-1].shape, bool) if v is None else v[:, ::step, ::step].reshape(d.shape[0], -1))
    return np.concatenate(data, axis=1)[:, None], np.concatenate(valid, axis=1)[:, None]
