"""Translate every image or raster of a folder: synthetic variants for a training library.

GeoTIFFs and other georeferenced rasters go through :func:`translate_raster` and keep
their grid (CRS, transform, size); plain images (PNG, JPEG, BMP, un-georeferenced
TIFFs) are translated the same way and written back in their own format when the
output fits it (8-bit, 1 or 3 bands), else as a GeoTIFF beside the same name.
File names and sub-folders are kept.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from geo2map.errors import Geo2MapError, InputError, one_line
from geo2map.image_io import IMAGE_EXT, PICTURE_EXT, RASTER_EXT
from geo2map.raster.safety import same_or_inside

if TYPE_CHECKING:
    from geo2map.models.package import ModelRef


@dataclass
class AugmentResult:
    """What :func:`augment_folder` did: files written, skipped and failed."""

    written: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def _is_georeferenced(path: str) -> bool:
    import rasterio

    with rasterio.open(path) as ds:
        return ds.crs is not None or bool(ds.gcps[0]) or not ds.transform.is_identity


def augment_folder(
    in_dir: str,
    out_dir: str,
    model: ModelRef,
    *,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    **translate_options: Any,
) -> AugmentResult:
    """Translate every image/raster under ``in_dir`` into the same relative path under ``out_dir``."""
    from geo2map.models.package import LoadedModel, load_model
    from geo2map.models.registry import IDENTITY, resolve
    from geo2map.translate import translate_raster

    if not os.path.isdir(in_dir):
        raise InputError(f"{in_dir} is not a folder")
    if same_or_inside(out_dir, in_dir) or same_or_inside(in_dir, out_dir):
        raise InputError(
            f"the output folder {out_dir} must lie outside the input folder {in_dir} (and not contain it): "
            "a later run would translate its own outputs"
        )
    files = sorted(
        os.path.relpath(os.path.join(d, f), in_dir)
        for d, _, names in os.walk(in_dir)
        for f in names
        if f.lower().endswith(PICTURE_EXT + RASTER_EXT) and not f.startswith(".")
    )
    if not files:
        raise InputError(f"{in_dir} holds no image or raster")
    loaded = model if isinstance(model, LoadedModel) or model == IDENTITY else load_model(resolve(model))
    result = AugmentResult()
    with tempfile.TemporaryDirectory(prefix="geo2map-augment-") as work:
        for i, rel in enumerate(files, 1):
            src = os.path.join(in_dir, rel)
            dst = os.path.join(out_dir, rel)
            try:
                os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
                if rel.lower().endswith(RASTER_EXT) and _is_georeferenced(src):
                    translate_raster(src, dst, loaded, overwrite=overwrite, **translate_options)
                    result.written.append(dst)
                else:
                    result.written.append(_augment_image(src, dst, loaded, work, overwrite, translate_options))
            except (Geo2MapError, OSError, ValueError) as exc:
                result.failed[rel] = one_line(exc)
            if progress:
                progress(i, len(files))
    return result


def _augment_image(src: str, dst: str, model: ModelRef, work: str, overwrite: bool, options: dict[str, Any]) -> str:
    from PIL import Image

    from geo2map.image_io import read_image, translate_image
    from geo2map.raster.write import atomic_path, check_output_path

    check_output_path(dst, overwrite)  # before translating: a rerun must not redo the work to refuse it
    a = read_image(src)
    out = translate_image(a, model, work, name=os.path.basename(src), **options)
    fits = out.dtype == np.uint8 and out.shape[0] in (1, 3) and dst.lower().endswith(IMAGE_EXT)
    if not fits:
        dst = os.path.splitext(dst)[0] + ".tif"  # atomic_path checks this name too
    if fits:
        img = Image.fromarray(out[0] if out.shape[0] == 1 else np.moveaxis(out, 0, -1))
        fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP"}.get(
            os.path.splitext(dst)[1].lower(), "TIFF"
        )
        with atomic_path(dst, overwrite) as tmp:
            img.save(tmp, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
        return dst
    import rasterio

    with atomic_path(dst, overwrite) as tmp:
        profile = {
            "driver": "GTiff",
            "width": out.shape[2],
            "height": out.shape[1],
            "count": out.shape[0],
            "dtype": out.dtype,
            "compress": "deflate",
        }
        with rasterio.open(tmp, "w", **profile) as ds:
            ds.write(out)
    return dst
