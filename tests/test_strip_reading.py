"""Tiles are read once per source row, in block-aligned chunks, and come out exactly as direct reads."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_raster
from rasterio.windows import Window

from geo2map.raster.open import open_raster
from geo2map.raster.padding import Pads, ReflectPadded, _gather, reflect_index
from geo2map.raster.tile_reader import StripBuffer, iter_tiles
from geo2map.raster.tiling import TileGrid


class CountingReader:
    """A reader that records the row windows it was asked for."""

    def __init__(self, reader) -> None:
        self.reader, self.windows = reader, []
        self.height, self.width = reader.height, reader.width
        self.block_shape = reader.block_shape
        self.row_origin = getattr(reader, "row_origin", 0)

    def read(self, window: Window):
        self.windows.append((int(window.row_off), int(window.height)))
        return self.reader.read(window)


@pytest.fixture
def scene(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 60000, (2, 700, 530)).astype(np.uint16)
    data[:, 100:180, 40:90] = 0
    path = write_raster(tmp_path / "s.tif", data, nodata=0, tiled=True, blockxsize=128, blockysize=128)
    return path, data


def _direct(source, grid: TileGrid, halo: int = 0):
    """What iter_tiles yielded before the strip buffer: one read per tile."""
    for tile in grid:
        w = Window(tile.col_off - halo, tile.row_off - halo, grid.size + 2 * halo, grid.size + 2 * halo)
        yield tile, *source.read(w)


@pytest.mark.parametrize("halo", [0, 7])
def test_tiles_equal_direct_reads_and_each_row_is_read_once(scene, halo) -> None:
    path, _ = scene
    with open_raster(path) as source:
        grid = TileGrid(source.width, source.height, 96, 48)
        counting = CountingReader(source)
        got = list(iter_tiles(counting, grid, skip_empty=False, halo=halo))
        want = list(_direct(source, grid, halo))
    assert len(got) == len(want)
    for (t1, d1, v1), (t2, d2, v2) in zip(got, want, strict=True):
        assert t1 == t2
        np.testing.assert_array_equal(d1, d2)
        np.testing.assert_array_equal(v1, v2)
    rows = [r for r0, h in counting.windows for r in range(r0, r0 + h)]
    assert len(rows) == len(set(rows)), "a row was read twice"
    inner = [(r0, h) for r0, h in counting.windows if r0 >= 0 and r0 + h <= 700]
    assert all(r0 % 128 == 0 for r0, _ in inner[1:]), f"reads not block-aligned: {counting.windows}"


def test_reflection_padded_tiles_equal_direct_reads(scene) -> None:
    path, _ = scene
    with open_raster(path) as source:
        pads = Pads(left=40, top=33, right=51, bottom=29)
        canvas = ReflectPadded(source, pads)
        grid = TileGrid(canvas.width, canvas.height, 128, 64)
        counting = CountingReader(canvas)
        got = list(iter_tiles(counting, grid, skip_empty=False))
        want = list(_direct(canvas, grid))
    for (_, d1, v1), (_, d2, v2) in zip(got, want, strict=True):
        np.testing.assert_array_equal(d1, d2)
        np.testing.assert_array_equal(v1, v2)
    assert all((r0 - 33) % 128 == 0 for r0, _ in counting.windows[1:])  # aligned to the scene's blocks


def test_strips_are_read_only_and_an_upward_read_starts_afresh(scene) -> None:
    path, data = scene
    with open_raster(path) as source:
        strips = StripBuffer(source, 0, source.width, rows=128)
        a, _ = strips.read(300, 100)
        with pytest.raises(ValueError):
            a[0, 0, 0] = 1  # shared by overlapping tiles
        b, _ = strips.read(10, 50)
        np.testing.assert_array_equal(b, data[:, 10:60])


def test_gather_equals_fancy_indexing() -> None:
    rng = np.random.default_rng(1)
    for n in (1, 2, 5, 33):
        arr = rng.integers(0, 9, (2, n, n))
        for _ in range(50):
            r0, c0 = (int(v) for v in rng.integers(-70, 70, 2))
            rows = reflect_index(np.arange(r0, r0 + int(rng.integers(1, 90))), n)
            cols = reflect_index(np.arange(c0, c0 + int(rng.integers(1, 90))), n)
            np.testing.assert_array_equal(_gather(arr, rows, cols), arr[np.ix_([0, 1], rows, cols)])
