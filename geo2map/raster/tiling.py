"""TileGrid: overlapping, full-size, georeferenced windows over a raster grid.

Edge handling: every tile has the full tile size. Along an axis longer than the
tile, the last tile is **shifted inward** so that it ends exactly on the raster's
edge (it then overlaps its neighbour by more than ``overlap``). Along an axis
shorter than the tile, the single tile starts at 0 and is **padded** past the
raster's edge: padded pixels read as nodata and are invalid, and the mosaicker
crops them away. Tiles are iterated in row-major order (all tiles of grid row 0
left to right, then row 1, ...), which the streaming mosaicker relies on.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from rasterio.crs import CRS
from rasterio.transform import Affine
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds
from rasterio.windows import transform as window_transform

from geo2map.errors import InputError


def axis_offsets(length: int, size: int, stride: int) -> list[int]:
    """Start offsets of tiles of ``size`` with ``stride`` covering ``[0, length)``.

    The last tile is shifted inward to end at ``length``; if ``length <= size``
    there is a single tile at 0 (padded past the edge).
    """
    if length <= size:
        return [0]
    offsets = list(range(0, length - size + 1, stride))
    if offsets[-1] + size < length:
        offsets.append(length - size)
    return offsets


@dataclass(frozen=True)
class Tile:
    """One tile of a :class:`TileGrid`: grid position, pixel window, georeference."""

    row: int
    col: int
    window: Window
    transform: Affine

    @property
    def row_off(self) -> int:
        """First row of the tile in the raster."""
        return int(self.window.row_off)

    @property
    def col_off(self) -> int:
        """First column of the tile in the raster."""
        return int(self.window.col_off)

    @property
    def height(self) -> int:
        """Rows of the tile (its window's height)."""
        return int(self.window.height)

    @property
    def width(self) -> int:
        """Columns of the tile (its window's width)."""
        return int(self.window.width)

    @property
    def name(self) -> str:
        """A stable file stem, e.g. ``r0003_c0012``."""
        return f"r{self.row:04d}_c{self.col:04d}"


@dataclass(frozen=True)
class TileGrid:
    """Overlapping tiles over a ``width`` x ``height`` raster grid.

    Args:
        width: Raster width in pixels.
        height: Raster height in pixels.
        size: Tile size in pixels (square).
        overlap: Pixels shared by neighbouring tiles (``0 <= overlap < size``).
        transform: The raster's affine transform (tiles get their own from it).
        crs: The raster's CRS, carried along for footprints.
        stripe_origin: Column where the first column-stripe border after 0 is
            counted from (a padded canvas's scene origin, so stripe borders fall on
            the output's block borders).
    """

    width: int
    height: int
    size: int = 256
    overlap: int = 64
    transform: Affine = field(default_factory=Affine.identity)
    crs: CRS | None = None
    stripe_origin: int = 0

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise InputError(f"raster size {self.width}x{self.height} is empty")
        if self.size < 1:
            raise InputError(f"tile size must be at least 1 pixel, got {self.size}")
        if not 0 <= self.overlap < self.size:
            raise InputError(f"overlap {self.overlap} must be >= 0 and smaller than the tile size {self.size}")

    @property
    def stride(self) -> int:
        """Pixels between the starts of neighbouring tiles (``size - overlap``)."""
        return self.size - self.overlap

    @cached_property
    def row_offsets(self) -> list[int]:
        """Row offsets of the tile rows (the last one shifted to end on the raster edge)."""
        return axis_offsets(self.height, self.size, self.stride)

    @cached_property
    def col_offsets(self) -> list[int]:
        """Column offsets of the tile columns (the last one shifted to end on the raster edge)."""
        return axis_offsets(self.width, self.size, self.stride)

    @property
    def shape(self) -> tuple[int, int]:
        """Number of tile rows and columns."""
        return len(self.row_offsets), len(self.col_offsets)

    def __len__(self) -> int:
        rows, cols = self.shape
        return rows * cols

    def tile(self, row: int, col: int) -> Tile:
        """The tile at grid ``row``, ``col``."""
        window = Window(self.col_offsets[col], self.row_offsets[row], self.size, self.size)
        return Tile(row, col, window, window_transform(window, self.transform))

    def __iter__(self) -> Iterator[Tile]:
        rows, cols = self.shape
        for r in range(rows):
            for c in range(cols):
                yield self.tile(r, c)

    def tile_rows(self) -> Iterator[list[Tile]]:
        """Tiles grouped by grid row, top to bottom."""
        rows, cols = self.shape
        for r in range(rows):
            yield [self.tile(r, c) for c in range(cols)]

    def column_stripes(self, max_width: int = 8192, align: int = 512) -> list[tuple[int, int]]:
        """Split the output columns into stripes processed one after another.

        Streaming row by row keeps memory proportional to the width mosaicked at
        once; very wide scenes are therefore mosaicked in vertical stripes of at
        most ``max_width`` columns (multiples of ``align``, the output block size),
        so memory stays flat whatever the scene's width too. Tiles straddling a
        stripe border are used by both stripes.
        """
        if self.width <= max_width:
            return [(0, self.width)]
        n = math.ceil(self.width / max_width)
        step = math.ceil(self.width / n / align) * align
        first = self.stripe_origin + step if 0 < self.stripe_origin < step else step
        edges = [0, *range(first, self.width, step), self.width]
        return list(zip(edges[:-1], edges[1:], strict=True))

    def tiles_in_columns(self, c0: int, c1: int) -> list[int]:
        """Indexes of tile columns that touch output columns ``[c0, c1)``."""
        return [i for i, off in enumerate(self.col_offsets) if off < c1 and off + self.size > c0]

    def bounds(self, tile: Tile) -> tuple[float, float, float, float]:
        """Tile footprint ``(left, bottom, right, top)`` in the raster's CRS."""
        return window_bounds(tile.window, self.transform)
