"""geo2map: translate geospatial rasters with image-to-image networks.

The public API is imported lazily so that ``geo2map --help`` stays instant:
importing :mod:`geo2map` itself pulls in neither rasterio nor torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from geo2map._version import __version__

_LAZY = {
    "open_raster": "geo2map.raster.open",
    "RasterSource": "geo2map.raster.open",
    "TileGrid": "geo2map.raster.tiling",
    "Tile": "geo2map.raster.tiling",
    "OutputSpec": "geo2map.raster.write",
    "StreamingMosaic": "geo2map.mosaic.accumulator",
    "BLEND_METHODS": "geo2map.mosaic.blend",
    "seam_metric": "geo2map.mosaic.seams",
    "tile_raster": "geo2map.tile_folder",
    "mosaic_tiles": "geo2map.tile_folder",
    "translate_raster": "geo2map.translate",
    "TranslateResult": "geo2map.translate",
    "Translator": "geo2map.inference",
    "get_scaling": "geo2map.sensors",
    "load_model": "geo2map.models.package",
    "save_model": "geo2map.models.package",
    "ModelCard": "geo2map.models.card",
    "build_generator": "geo2map.models.networks",
    "export_onnx": "geo2map.models.onnx_model",
    "checker_ratio": "geo2map.artefacts",
    "crop_consistency": "geo2map.artefacts",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'geo2map' has no attribute {name!r}")
