"""The streaming engine: tiles in, blended rows out, written block row by block row.

* :func:`stream_mosaic` blends the tiles of each column stripe into rows for a sink.
* :func:`write_streamed` runs it into a file (atomically, compressed in a background thread).
* :func:`remosaic_raster` runs tile → (optional per-tile function) → blend → write in one
  pass; with no function it is the identity pipeline.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from geo2map.mosaic.accumulator import StreamingMosaic
from geo2map.mosaic.blend import BlendMethod
from geo2map.progress import Progress
from geo2map.raster.background_writer import BackgroundWriter
from geo2map.raster.gdal_cache import block_cache_env
from geo2map.raster.open import RasterSource, open_raster
from geo2map.raster.output_policy import spec_for
from geo2map.raster.padding import CroppedSink, Pads
from geo2map.raster.safety import (
    check_raster_output,
)
from geo2map.raster.tile_reader import TileStream, iter_tiles
from geo2map.raster.tiling import Tile, TileGrid
from geo2map.raster.write import OutputSpec, Preset, RasterWriter


def stream_mosaic(
    grid: TileGrid,
    spec: OutputSpec,
    sink: Callable[..., None],
    tiles: Callable[[tuple[int, int]], TileStream],
    *,
    blend: str | BlendMethod = "cosine",
    per_band: bool = False,
    max_stripe_width: int = 8192,
    margin: int = 0,
    finish: Callable[[np.ndarray], np.ndarray] | None = None,
) -> None:
    """Blend the tiles ``tiles(columns)`` yields for each column stripe and send rows to ``sink``
    (``finish``: see :class:`StreamingMosaic`).

    Scenes wider than ``max_stripe_width`` are built in vertical stripes (see
    :meth:`TileGrid.column_stripes`) so the accumulator's memory does not grow with
    the width; ``tiles((c0, c1))`` must yield, in row-major order, the tiles whose
    columns touch the stripe (:meth:`TileGrid.tiles_in_columns`).
    """
    for columns in grid.column_stripes(max_stripe_width):
        mosaic = StreamingMosaic(
            grid,
            spec.count,
            spec.dtype,
            sink,
            blend=blend,
            per_band=per_band,
            fill=spec.nodata,
            columns=columns,
            margin=margin,
            finish=finish,
        )
        for tile, data, valid in tiles(columns):
            mosaic.add(tile, data, valid)
        mosaic.close()


def count_tiles(grid: TileGrid, max_stripe_width: int = 8192) -> int:
    """Tiles a :func:`stream_mosaic` pass visits (a tile on a stripe border counts once per stripe)."""
    return sum(len(grid.tiles_in_columns(c0, c1)) for c0, c1 in grid.column_stripes(max_stripe_width)) * grid.shape[0]


def remosaic_raster(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    size: int = 256,
    overlap: int = 64,
    blend: str | BlendMethod = "cosine",
    fn: Callable[[np.ndarray], np.ndarray] | None = None,
    bidx: str | Sequence[int] | None = None,
    nodata: float | None = None,
    dst_crs: str | None = None,
    allow_ungeoreferenced: bool = False,
    preset: Preset = "deflate",
    creation_options: dict[str, str] | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    max_stripe_width: int = 8192,
) -> str:
    """Tile ``src``, pass each tile through ``fn`` (identity if None), blend, write ``dst``.

    Progress counts tiles, including empty ones that are skipped.
    """
    check_raster_output(dst, overwrite)
    with open_raster(
        src, bidx=bidx, dst_crs=dst_crs, allow_ungeoreferenced=allow_ungeoreferenced, nodata=nodata
    ) as source:
        grid = TileGrid(source.width, source.height, size, overlap, source.transform, source.crs)
        spec = spec_for(source, preset=preset, creation_options=creation_options)
        # the output has the source's bands (spec_for), so per-band nodata stays per band whatever fn does
        per_band = source.mask_kind == "nodata"
        total = count_tiles(grid, max_stripe_width)
        done = 0

        def tick(_: Tile | None = None) -> None:
            nonlocal done
            done += 1
            if progress:
                progress(done, total)

        def tiles(columns: tuple[int, int]) -> TileStream:
            cols = grid.tiles_in_columns(*columns)
            for tile, data, valid in iter_tiles(source, grid, tile_cols=cols, on_skip=tick):
                yield tile, (data if fn is None else fn(data)), valid
                tick()

        write_streamed(source, dst, spec, grid, tiles, overwrite, blend, per_band, max_stripe_width)
    return os.fspath(dst)


def write_streamed(
    source: RasterSource,
    dst: str | os.PathLike[str],
    spec: OutputSpec,
    grid: TileGrid,
    tiles: Callable[[tuple[int, int]], TileStream],
    overwrite: bool,
    blend: str | BlendMethod,
    per_band: bool,
    max_stripe_width: int,
    pads: Pads | None = None,
    margin: int = 0,
    finish: Callable[[np.ndarray], np.ndarray] | None = None,
) -> None:
    """:func:`stream_mosaic` into ``dst`` (atomically), rows compressed in a background thread,
    GDAL's block cache sized to a stripe of ``source``. With ``pads``, ``grid`` lies on a
    padded canvas (:func:`~geo2map.raster.padding.padded_grid`) and only the scene is written."""
    stripe = grid.column_stripes(max_stripe_width)[0]
    with (
        block_cache_env(source, width=stripe[1] - stripe[0]),
        RasterWriter(dst, spec, overwrite) as writer,
        BackgroundWriter(writer) as background,
    ):
        sink = CroppedSink(background, pads, spec.width, spec.height) if pads else background
        stream_mosaic(
            grid,
            spec,
            sink,
            tiles,
            blend=blend,
            per_band=per_band,
            max_stripe_width=max_stripe_width,
            margin=margin,
            finish=finish,
        )
