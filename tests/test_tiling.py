"""TileGrid window arithmetic (hypothesis, like rasterio's test_windows)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rasterio.transform import from_origin

from geo2map.errors import InputError
from geo2map.raster.tiling import TileGrid, axis_offsets


@given(length=st.integers(1, 5000), size=st.integers(1, 600), data=st.data())
def test_axis_offsets_cover_full_size_tiles(length: int, size: int, data: st.DataObject) -> None:
    overlap = data.draw(st.integers(0, size - 1))
    stride = size - overlap
    offs = axis_offsets(length, size, stride)
    assert offs[0] == 0
    assert offs == sorted(set(offs))
    if length <= size:
        assert offs == [0]  # one padded tile
        return
    assert offs[-1] + size == length  # last tile shifted inward to the edge
    assert all(o >= 0 and o + size <= length for o in offs)  # never past the edge
    for a, b in zip(offs, offs[1:], strict=False):
        assert b - a <= stride  # neighbours overlap by at least `overlap`
        assert b > a


def test_grid_tiles_row_major_with_transforms() -> None:
    t = from_origin(1000.0, 2000.0, 2.0, 2.0)
    grid = TileGrid(width=1000, height=700, size=256, overlap=64, transform=t)
    tiles = list(grid)
    assert len(tiles) == len(grid) == grid.shape[0] * grid.shape[1]
    assert [(x.row, x.col) for x in tiles] == sorted((x.row, x.col) for x in tiles)
    for tile in tiles:
        assert tile.width == tile.height == 256
        assert tile.transform.c == 1000.0 + 2.0 * tile.col_off
        assert tile.transform.f == 2000.0 - 2.0 * tile.row_off
    assert grid.col_offsets == [0, 192, 384, 576, 744]
    assert grid.row_offsets == [0, 192, 384, 444]
    left, bottom, right, top = grid.bounds(grid.tile(0, 1))
    assert (left, top, right, bottom) == (1384.0, 2000.0, 1896.0, 1488.0)


@pytest.mark.parametrize("size,overlap", [(256, 256), (64, 100), (0, 0), (32, -1)])
def test_bad_overlap_refused(size: int, overlap: int) -> None:
    with pytest.raises(InputError):
        TileGrid(100, 100, size, overlap)
