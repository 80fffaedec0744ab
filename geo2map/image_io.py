"""Plain images (PNG, JPEG, BMP) and small rasters as arrays: which files count, reading them,
translating one in memory. One home for the extension lists the commands use."""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from geo2map.errors import InputError, one_line

if TYPE_CHECKING:
    from geo2map.models.package import ModelRef

#: pictures without georeference (read with Pillow)
PICTURE_EXT = (".png", ".jpg", ".jpeg", ".bmp")
#: rasters GDAL reads that geo2map writes or takes as single scenes
RASTER_EXT = (".tif", ".tiff", ".vrt", ".jp2", ".img")
#: what a training or evaluation folder may hold
IMAGE_EXT = PICTURE_EXT + (".tif", ".tiff")
#: what a batch archive may hold (containers GDAL opens as one scene, too)
ARCHIVE_EXT = RASTER_EXT + (".nc", ".hdf", ".h5", ".safe", ".dim")


def read_image(path: str) -> np.ndarray:
    """An image or raster file as (bands, h, w), in its own dtype."""
    return read_image_masked(path)[0]


def read_image_masked(path: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(data, valid)`` of an image or raster file, opened once.

    ``valid`` comes from the raster's GDAL mask (nodata, alpha, mask band) and NaN
    for floats; None when every pixel is valid (always for JPEG/PNG/BMP images).
    """
    if path.lower().endswith(PICTURE_EXT):
        from PIL import Image

        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB") if im.mode in ("P", "CMYK", "RGBA", "LA") else im)
        return (arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, 0)), None
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.open(path) as ds:
                data = ds.read()
                valid = None
                if any(f[0].name != "all_valid" for f in ds.mask_flag_enums):
                    valid = ds.read_masks() > 0
    except RasterioError as exc:
        raise InputError(f"cannot read training image {path}: {one_line(exc)}") from None
    if data.dtype.kind == "f":
        valid = np.isfinite(data) if valid is None else valid & np.isfinite(data)
    return data, valid


def list_images(folder: str) -> list[str]:
    """The images of ``folder`` (not recursive), sorted."""
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXT))


def translate_image(a: np.ndarray, model: ModelRef, work: str, name: str = "image", **options: Any) -> np.ndarray:
    """Translate an in-memory image with the full pipeline (through a temporary GeoTIFF).

    ``name`` (the image's file) stands for the temporary file in error messages.
    """
    import rasterio

    from geo2map.errors import Geo2MapError
    from geo2map.translate import translate_raster

    src = os.path.join(work, "in.tif")
    dst = os.path.join(work, "out.tif")
    profile = {"driver": "GTiff", "width": a.shape[2], "height": a.shape[1], "count": a.shape[0], "dtype": a.dtype}
    with warnings.catch_warnings():  # a plain image has no georeference, and needs none here
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(src, "w", **profile) as ds:
            ds.write(a)
    try:
        translate_raster(src, dst, model, allow_ungeoreferenced=True, overwrite=True, **options)
    except Geo2MapError as exc:
        text = str(exc).replace(src, name).replace("in.tif", name)
        raise type(exc)(text) from None
    with rasterio.open(dst) as ds:
        return ds.read()
