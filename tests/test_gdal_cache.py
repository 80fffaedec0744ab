"""GDAL's block cache under streaming: sized in bytes, and set back afterwards (it is process-wide)."""

from __future__ import annotations

import threading
from pathlib import Path

import rasterio
from conftest import GRD, RGB
from rasterio.env import get_gdal_config, set_gdal_config

from geo2map.raster.gdal_cache import block_cache_env
from geo2map.raster.open import open_raster
from geo2map.translate import translate_raster


def test_the_streaming_cache_is_megabytes_not_bytes() -> None:
    with open_raster(RGB) as src, block_cache_env(src):
        assert get_gdal_config("GDAL_CACHEMAX") >= 16 * 2**20
    with open_raster(RGB) as src, block_cache_env(src, ceiling_mb=1, floor_mb=1):
        assert get_gdal_config("GDAL_CACHEMAX") == 2**20


def test_the_cache_size_is_set_back_after_an_env_nested_in_a_thread() -> None:
    """rasterio leaves a nested Env's cache size in place for the whole process."""
    before = get_gdal_config("GDAL_CACHEMAX")
    seen = []

    def nested() -> None:
        with rasterio.Env(), open_raster(RGB) as src:
            with block_cache_env(src):
                seen.append(get_gdal_config("GDAL_CACHEMAX"))
            seen.append(get_gdal_config("GDAL_CACHEMAX"))

    thread = threading.Thread(target=nested)
    thread.start()
    thread.join()
    assert seen[0] != before and seen[1] == before
    assert get_gdal_config("GDAL_CACHEMAX") == before


def test_a_translation_leaves_gdal_s_cache_as_it_found_it(tmp_path: Path) -> None:
    """A warped GCP scene and a scene without overviews, inside the caller's Env."""
    before = get_gdal_config("GDAL_CACHEMAX")
    set_gdal_config("GDAL_CACHEMAX", 300 * 2**20)  # whatever earlier tests left
    try:
        with rasterio.Env():
            translate_raster(GRD, tmp_path / "grd.tif", "identity", nodata=0)
            translate_raster(RGB, tmp_path / "rgb.tif", "identity")
        assert get_gdal_config("GDAL_CACHEMAX") == 300 * 2**20
    finally:
        set_gdal_config("GDAL_CACHEMAX", before)
