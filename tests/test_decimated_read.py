"""The statistics pass's decimated read: GDAL's nearest sampling, one block row at a time."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from conftest import write_raster
from rasterio.enums import Resampling

from geo2map.raster.decimated import SAMPLE_EVERY, nearest_index, read_block_sample, read_sampled, sample_windows
from geo2map.raster.open import open_raster


def _gdal_decimated(path, shape):
    """What a decimated GDAL read gives (the statistics pass's read before it was bounded)."""
    with rasterio.open(path) as ds:
        data = ds.read(out_shape=shape, resampling=Resampling.nearest)
        valid = ds.read_masks(out_shape=shape, resampling=Resampling.nearest) > 0
    if data.dtype.kind == "f":
        valid &= ~np.isnan(data)
    return data, valid


LAYOUTS = {
    "tiled 128": {"tiled": True, "blockxsize": 128, "blockysize": 128},
    "strips of 1 row": {"blockysize": 1},
    "strips of 7 rows": {"blockysize": 7},
    "one strip": {"blockysize": 523},
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("max_pixels", [40_000, 12_345, 1_000])
def test_matches_gdal_nearest(tmp_path, layout, max_pixels):
    rng = np.random.default_rng(1)
    data = rng.integers(1, 60000, (2, 523, 611)).astype(np.uint16)
    data[:, 100:180, 40:90] = 0
    path = write_raster(tmp_path / "s.tif", data, nodata=0, compress="deflate", **LAYOUTS[layout])
    with open_raster(str(path)) as src:
        got, valid = src.read_decimated(max_pixels)
    want, want_valid = _gdal_decimated(path, got.shape)
    assert got.shape[1] < data.shape[1]
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(valid, want_valid)


def test_float_nan_and_internal_mask(tmp_path):
    rng = np.random.default_rng(2)
    data = rng.normal(size=(1, 400, 300)).astype(np.float32)
    data[0, 50:60] = np.nan
    mask = np.ones((400, 300), bool)
    mask[200:, :40] = False
    path = write_raster(tmp_path / "f.tif", data, mask=mask, tiled=True, blockxsize=64, blockysize=64)
    with open_raster(str(path)) as src:
        got, valid = src.read_decimated(5_000)
    want, want_valid = _gdal_decimated(path, got.shape)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(valid, want_valid)
    assert not valid.all() and valid.any()


def test_each_block_row_read_once(tmp_path):
    data = np.arange(2 * 500 * 300, dtype=np.uint16).reshape(2, 500, 300)
    path = write_raster(tmp_path / "b.tif", data, tiled=True, blockxsize=64, blockysize=64)
    windows = []
    with open_raster(str(path)) as src:
        read = src.read

        def counting(window, **kw):
            windows.append((int(window.row_off), int(window.height)))
            return read(window, **kw)

        src.read = counting
        got, _ = read_sampled(src, 50, 30)
    rows = [(r0 // 64, (r0 + h - 1) // 64) for r0, h in windows]
    assert all(a == b for a, b in rows), "a read crosses a block row"
    assert len({a for a, _ in rows}) == len(rows), "a block row read twice"
    np.testing.assert_array_equal(got, data[:, nearest_index(50, 500)][:, :, nearest_index(30, 300)])


def test_overviews_still_read_by_gdal(tmp_path):
    data = np.random.default_rng(3).integers(0, 255, (1, 512, 512)).astype(np.uint8)
    path = write_raster(tmp_path / "o.tif", data, tiled=True)
    with rasterio.open(path, "r+") as ds:
        ds.build_overviews([4], Resampling.average)
    with open_raster(str(path)) as src:
        got, _ = src.read_decimated(128 * 128)
    np.testing.assert_array_equal(got, _gdal_decimated(path, got.shape)[0])
    assert not np.array_equal(got, data[:, nearest_index(128, 512)][:, :, nearest_index(128, 512)])


class _Counting:
    """A real RasterSource that counts the pixels it is asked to decode."""

    def __init__(self, src):
        self.src, self.pixels = src, 0
        self.height, self.width, self.block_shape = src.height, src.width, src.block_shape

    def read(self, window):
        self.pixels += int(window.width) * int(window.height)
        return self.src.read(window)


def _gradient_scene(tmp_path, size=2048, block=128):
    """A tiled uint16 scene whose values drift across it (a sample from one corner would be biased)."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:size, 0:size]
    data = (1000 + yy + 2 * xx + rng.gamma(1.0, 200.0, (size, size))).astype(np.uint16)[None]
    return write_raster(tmp_path / "g.tif", data, tiled=True, blockxsize=block, blockysize=block), data


def test_statistics_sample_decodes_a_fraction_of_a_tiled_scene(tmp_path):
    path, data = _gradient_scene(tmp_path)
    with open_raster(str(path)) as src:
        counting = _Counting(src)
        sample, valid = read_block_sample(counting, 20_000)
    assert counting.pixels == data.size // SAMPLE_EVERY  # a quarter of the 2048² scene's blocks
    assert sample.shape[:2] == (1, 1) and valid.all()
    assert 10_000 <= sample.size <= 20_000
    span = float(data.max()) - float(data.min())
    for q in (0.01, 0.02, 0.5, 0.98, 0.99):  # the extremes lie in two corners of the scene
        assert abs(np.quantile(sample, q) - np.quantile(data, q)) < 0.03 * span


def test_statistics_sample_covers_the_scene_evenly():
    windows = sample_windows(16000, 25000, (512, 512))
    kept = {(w.row_off // 512, w.col_off // 512) for w in windows}
    assert len(kept) == len(windows) and abs(len(kept) - 32 * 49 / SAMPLE_EVERY) <= 32
    assert {i for i, _ in kept} == set(range(32)) and {j for _, j in kept} == set(range(49))
    assert all(any((i + a, j + b) in kept for a in range(3) for b in range(3)) for i in range(30) for j in range(47))
    assert all(w.col_off + w.width <= 25000 and w.row_off + w.height <= 16000 for w in windows)
    assert sample_windows(8000, 8000, (1, 8000)) is None  # strips: the decimated read is cheap already
    assert sample_windows(1024, 1024, (256, 256)) is None  # 16 blocks: read them all


def test_a_mostly_empty_scene_falls_back_to_the_decimated_read(tmp_path):
    path, data = _gradient_scene(tmp_path)
    data = np.zeros_like(data)
    data[:, 0:100, 130:230] = 7  # valid only inside block (0, 1), which the lattice skips
    path = write_raster(tmp_path / "e.tif", data, nodata=0, tiled=True, blockxsize=128, blockysize=128)
    with open_raster(str(path)) as src:
        sample, valid = src.read_sample(20_000)
        expected, _ = src.read_decimated(20_000)
    assert sample.shape == expected.shape and valid.any() and (sample[valid] == 7).all()


def test_nan_in_a_masked_float_scene_is_not_a_valid_sample_value(tmp_path):
    data = np.full((1, 1024, 1024), np.nan, np.float32)
    data[:, 0:100, 130:230] = 7.0  # finite only inside block (0, 1), which the lattice skips
    mask = np.full((1024, 1024), 255, np.uint8)  # the internal mask says every pixel is valid
    path = write_raster(tmp_path / "m.tif", data, mask=mask, tiled=True, blockxsize=128, blockysize=128)
    with open_raster(str(path)) as src:
        assert src.mask_kind == "mask"
        sample, valid = src.read_sample(20_000)
    assert sample.ndim == 3 and sample.shape[1] > 1  # fell back to the decimated read
    assert valid.any() and (sample[valid] == 7).all()
