"""GDAL's block cache sized for streaming: one home for the limit every scene-wide pass runs under."""

from __future__ import annotations

from typing import Any

import numpy as np
import rasterio


def block_cache_env(*sources: Any, width: int | None = None, floor_mb: int = 16, ceiling_mb: int = 512) -> rasterio.Env:
    """A rasterio Env limiting GDAL's block cache to what streaming needs, with parallel decoding.

    GDAL's default cache is 5% of RAM and grows to it on a large scene; streaming
    one strip at a time needs only a couple of block rows of each raster over the
    columns being processed (``width``, default the whole raster), read and
    written, so peak memory stays flat whatever the scene size.
    """
    need = 0
    for src in sources:
        w = min(width or src.width, src.width)
        bh = max(src.block_shape[0], 512)  # outputs are written in 512-row blocks
        need += 3 * bh * w * src.count * np.dtype(src.dtype).itemsize
    mb = int(min(max(need / 2**20, floor_mb), ceiling_mb))
    # GDAL_NUM_THREADS: GeoTIFF reads spanning several blocks decode them in parallel
    return rasterio.Env(GDAL_CACHEMAX=mb, GDAL_NUM_THREADS="ALL_CPUS")
