"""A scene read on another pixel size, and a raster resampled back onto a scene's grid.

Both go through GDAL's warper on the same CRS (a change of scale only), window by
window, so memory does not grow with the scene:

* :func:`resampled_view` is a :class:`~geo2map.raster.open.RasterSource` over a
  warped VRT of the scene's own dataset at ``width`` × ``height`` pixels covering
  exactly the scene's extent. Masked pixels stay out of the resampling (GDAL's
  warper honours nodata values, NaN, alpha bands and per-dataset masks), and the
  view's alpha band says which resampled pixels hold data.
* :func:`write_back_onto` writes a raster (e.g. a translation made on such a view)
  resampled onto the scene's grid, block row by block row, valid exactly where the
  scene is valid, atomically.
"""

from __future__ import annotations

import math
import os

import numpy as np
import rasterio
from rasterio.enums import MaskFlags, Resampling
from rasterio.errors import RasterioError
from rasterio.transform import Affine
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from geo2map.errors import RasterReadError, one_line
from geo2map.raster.gdal_cache import block_cache_env
from geo2map.raster.gdal_lock import GDAL_LOCK
from geo2map.raster.open import RasterSource
from geo2map.raster.write import BLOCK, OutputSpec, RasterWriter


def resampled_view(source: RasterSource, width: int, height: int, resampling: str) -> RasterSource:
    """``source`` read at ``width`` × ``height`` pixels over the same extent and CRS.

    ``resampling`` is a GDAL warp resampling (``average`` to bring fine pixels down,
    ``bilinear`` to bring coarse ones up). Close the view before the source.
    """
    kind = source.mask_kind
    kwargs: dict[str, object] = {
        "crs": source.crs,
        "transform": source.transform * Affine.scale(source.width / width, source.height / height),
        "width": width,
        "height": height,
        "resampling": Resampling[resampling],
    }
    if kind == "nodata":
        kwargs.update(src_nodata=source.nodata, nodata=source.nodata)
    elif kind == "nan":
        kwargs.update(src_nodata=math.nan, nodata=math.nan)
    if source.alpha_band is not None:
        kwargs["src_alpha"] = source.alpha_band
    masked = kind != "none"
    vrt = _warped(source.dataset, f"cannot resample {source.path}", add_alpha=masked, **kwargs)
    return RasterSource(
        path=source.path,
        dataset=vrt,
        indexes=list(source.indexes),
        notes=dict(source.notes),
        alpha_band=vrt.count if masked else None,
        _stack=[vrt],
    )


def _warped(dataset: object, failure: str, **kwargs: object) -> WarpedVRT:
    """A WarpedVRT of ``dataset`` made under the GDAL lock; a GDAL error becomes ``failure: reason``."""
    try:
        with GDAL_LOCK:
            return WarpedVRT(dataset, **kwargs)
    except RasterioError as exc:
        raise RasterReadError(f"{failure}: {one_line(exc)}") from None


def write_back_onto(
    path: str | os.PathLike[str],
    source: RasterSource,
    dst: str | os.PathLike[str],
    spec: OutputSpec,
    resampling: str,
    overwrite: bool = False,
    stripe: int = 8192,
) -> None:
    """Write raster ``path`` resampled onto ``source``'s grid (``spec`` must lie on it) into ``dst``.

    A pixel is valid where ``source`` is valid and the resampled raster has data;
    elsewhere it is ``spec.nodata`` (or masked, as ``spec`` says). Columns go in stripes of
    at most ``stripe`` pixels, so memory does not grow with the width either.
    """
    with rasterio.open(path) as ds:
        masked = any(MaskFlags.per_dataset in f for f in ds.mask_flag_enums)
        vrt = _warped(
            ds,
            f"cannot resample onto {source.path}",
            crs=source.crs,
            transform=source.transform,
            width=source.width,
            height=source.height,
            resampling=Resampling[resampling],
            add_alpha=masked,
        )
        with vrt, block_cache_env(source, width=stripe), RasterWriter(dst, spec, overwrite) as writer:
            for col in range(0, source.width, stripe):
                for row in range(0, source.height, BLOCK):
                    window = Window(col, row, min(stripe, source.width - col), min(BLOCK, source.height - row))
                    data, valid = _block(vrt, source, spec, window)
                    writer.write_rows(row, col, data, valid)


def _block(vrt: WarpedVRT, source: RasterSource, spec: OutputSpec, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """One block row of the resampled raster with its validity (1, h, w), nodata filled in."""
    try:
        with GDAL_LOCK:
            data = vrt.read(list(range(1, spec.count + 1)), window=window)
            have = vrt.dataset_mask(window=window) > 0
    except RasterioError as exc:
        raise RasterReadError(f"cannot resample onto {source.path}: {one_line(exc)}") from None
    scene_valid = source.read(window)[1]
    valid = have if scene_valid is None else have & scene_valid.any(axis=0)
    if spec.nodata is not None and not valid.all():
        data[:, ~valid] = spec.nodata
    return data, valid[None]
