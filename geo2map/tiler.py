"""Former home of tiling, streaming and the tile-folder format, kept as aliases for old imports.

New code imports from where each piece lives:

* :mod:`geo2map.raster.tile_reader`: :func:`iter_tiles`
* :mod:`geo2map.mosaic.stream`: :func:`stream_mosaic`, :func:`write_streamed`, :func:`remosaic_raster`
* :mod:`geo2map.raster.output_policy`: :func:`output_masking`, :func:`spec_for`
* :mod:`geo2map.tile_folder`: :func:`tile_raster`, :func:`mosaic_tiles`, :func:`read_tile_index`
"""

from __future__ import annotations

from geo2map.mosaic.stream import count_tiles, remosaic_raster, stream_mosaic, write_streamed
from geo2map.raster.output_policy import output_masking, spec_for
from geo2map.raster.tile_reader import TileStream, iter_tiles
from geo2map.tile_folder import INDEX_NAME, TileResult, mosaic_tiles, read_tile_index, tile_raster

__all__ = [
    "INDEX_NAME",
    "TileResult",
    "TileStream",
    "count_tiles",
    "iter_tiles",
    "mosaic_tiles",
    "output_masking",
    "read_tile_index",
    "remosaic_raster",
    "spec_for",
    "stream_mosaic",
    "tile_raster",
    "write_streamed",
]
