"""GDAL's block cache sized for streaming: one home for the limit every scene-wide pass runs under."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import rasterio
from rasterio.env import get_gdal_config, set_gdal_config


def block_cache_bytes(*sources: Any, width: int | None = None, floor_mb: int = 16, ceiling_mb: int = 512) -> int:
    """The block cache streaming needs: a couple of block rows of each raster, read and written.

    Over the columns being processed (``width``, default the whole raster), clamped to
    ``floor_mb``..``ceiling_mb`` MiB. Returned in bytes, the unit rasterio passes to
    GDAL for an integer ``GDAL_CACHEMAX``.
    """
    need = 0
    for src in sources:
        w = min(width or src.width, src.width)
        bh = max(src.block_shape[0], 512)  # outputs are written in 512-row blocks
        need += 3 * bh * w * src.count * np.dtype(src.dtype).itemsize
    return int(min(max(need, floor_mb * 2**20), ceiling_mb * 2**20))


@contextmanager
def block_cache_env(*sources: Any, **limits: Any) -> Iterator[rasterio.Env]:
    """A rasterio Env limiting GDAL's block cache to what streaming needs, with parallel decoding.

    GDAL's default cache is 5% of RAM and grows to it on a large scene; streaming one
    strip at a time needs only :func:`block_cache_bytes`, so peak memory stays flat
    whatever the scene size.

    The cache size is process-wide in GDAL, and rasterio does not set it back when an
    Env nested in another one exits: it is restored here, else every later read of the
    process (a warped VRT above all) would run under this small cache.
    """
    before = get_gdal_config("GDAL_CACHEMAX")
    try:
        # an integer GDAL_CACHEMAX is bytes to rasterio; GDAL_NUM_THREADS: GeoTIFF reads
        # spanning several blocks decode them in parallel
        with rasterio.Env(GDAL_CACHEMAX=block_cache_bytes(*sources, **limits), GDAL_NUM_THREADS="ALL_CPUS") as env:
            yield env
    finally:
        if before is not None and get_gdal_config("GDAL_CACHEMAX") != before:
            set_gdal_config("GDAL_CACHEMAX", before)
