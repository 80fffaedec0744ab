"""Open any GDAL raster as a georeferenced, masked, band-selected source.

:func:`open_raster` hides three things a caller should not have to care about:

* **Band selection** (``bidx``, 1-based like rasterio and GDAL). By default every
  band except alpha bands is used; an alpha band becomes the mask.
* **Masks.** Validity comes from GDAL's mask machinery (nodata value, alpha band,
  internal/external mask) and, for floating-point data, NaN is always invalid.
* **Georeference.** A raster with a CRS and geotransform is read as it is. A
  GCP-only raster (raw Sentinel-1 GRD/SLC) is read through a GDAL warped VRT onto
  a real CRS: ``dst_crs`` if given, otherwise the UTM zone of the scene centre
  (metric pixels of about the scene's native size). A raster with no georeference
  at all is refused unless ``allow_ungeoreferenced=True``.

Complex rasters (SAR SLC I/Q) are turned into amplitude ``|z|`` by a GDAL
``mod`` pixel function *before* any warping, so I/Q are never interpolated; the
source's ``notes`` say so and end up in the output's metadata.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.transform import Affine
from rasterio.windows import Window

from geo2map.errors import (
    BandSelectionError,
    GeoreferenceError,
    RasterReadError,
    one_line,
)
from geo2map.raster.decimated import read_block_sample, read_sampled
from geo2map.raster.gdal_cache import block_cache_env
from geo2map.raster.gdal_lock import GDAL_LOCK
from geo2map.raster.georef import complex_amplitude_vrt, parse_crs, warp_gcps

MaskKind = Literal["none", "nodata", "mask", "nan"]

NOTE_COMPLEX = "GEO2MAP_COMPLEX_TO_AMPLITUDE"
NOTE_WARPED = "GEO2MAP_WARPED_FROM_GCPS"


def parse_bidx(value: str | Sequence[int] | None) -> list[int] | None:
    """Parse a band selection such as ``"3,2,1"`` into ``[3, 2, 1]``."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            out = [int(v) for v in value.replace(" ", "").split(",") if v != ""]
        except ValueError:
            raise BandSelectionError(
                f"bidx={value!r} is not a comma-separated list of band numbers (e.g. bidx=3,2,1)"
            ) from None
    else:
        out = [int(v) for v in value]
    if not out:
        raise BandSelectionError("bidx= selects no band; give band numbers such as bidx=3,2,1")
    return out


@dataclass
class RasterSource:
    """An opened raster, ready to be read window by window.

    Attributes:
        path: What the user gave.
        dataset: The rasterio dataset actually read (the file, or a warped VRT).
        indexes: 1-based band indexes of ``dataset`` that are read.
        notes: Provenance notes (complex→amplitude, GCP warp) for output metadata.
        warnings: What the user should hear about how the raster was opened (an option it ignores).

    Its grid and band properties (``width`` ... ``colorinterp``) are the dataset's, for the selected bands.
    """

    path: str
    dataset: Any
    indexes: list[int]
    notes: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    alpha_band: int | None = None
    nodata_override: float | None = None
    _stack: list[Any] = field(default_factory=list, repr=False)

    # -- grid -------------------------------------------------------------
    @property
    def width(self) -> int:
        return int(self.dataset.width)

    @property
    def height(self) -> int:
        return int(self.dataset.height)

    @property
    def count(self) -> int:
        return len(self.indexes)

    @property
    def crs(self) -> CRS | None:
        return self.dataset.crs

    @property
    def transform(self) -> Affine:
        return self.dataset.transform

    @property
    def dtype(self) -> str:
        return str(self.dataset.dtypes[self.indexes[0] - 1])

    @property
    def nodata(self) -> float | None:
        if self.nodata_override is not None:
            return self.nodata_override
        return self.dataset.nodata

    @property
    def block_shape(self) -> tuple[int, int]:
        return tuple(self.dataset.block_shapes[self.indexes[0] - 1])  # type: ignore[return-value]

    @property
    def descriptions(self) -> list[str | None]:
        return [self.dataset.descriptions[i - 1] for i in self.indexes]

    @property
    def band_names(self) -> list[str]:
        """The selected bands' descriptions, ``band<N>`` (source numbering) where a band has none."""
        return [d or f"band{i}" for i, d in zip(self.indexes, self.descriptions, strict=True)]

    @property
    def colorinterp(self) -> list[ColorInterp]:
        return [self.dataset.colorinterp[i - 1] for i in self.indexes]

    @property
    def mask_kind(self) -> MaskKind:
        """How validity is expressed: nodata value, a mask/alpha band, NaN, or not at all."""
        flags = [self.dataset.mask_flag_enums[i - 1] for i in self.indexes]
        if self.alpha_band is not None:
            return "mask"
        if self.nodata_override is not None or any(MaskFlags.nodata in f for f in flags):
            return "nodata"
        if any(MaskFlags.per_dataset in f or MaskFlags.alpha in f for f in flags):
            return "mask"
        if np.issubdtype(np.dtype(self.dtype), np.floating):
            return "nan"
        return "none"

    # -- reading ----------------------------------------------------------
    def read(self, window: Window, *, boundless: bool | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Read the selected bands in ``window``.

        Args:
            window: Pixel window; may extend past the raster (then read boundless,
                outside pixels invalid).
            boundless: Force or forbid a boundless read (default: only if needed).

        Returns:
            ``(data, valid)``: data of shape (bands, h, w) in the source dtype, and a
            boolean validity array of the same shape, or ``None`` when every pixel
            is valid (the fast path for rasters without any mask).
        """
        if boundless is None:
            boundless = not (
                window.col_off >= 0
                and window.row_off >= 0
                and window.col_off + window.width <= self.width
                and window.row_off + window.height <= self.height
            )
        kind = self.mask_kind
        if boundless:
            return self._read_padded(window)
        try:
            with GDAL_LOCK:
                data, valid = self._read_locked(window, kind)
        except RasterioError as exc:
            raise RasterReadError(f"cannot read {self.path}: {one_line(exc)}") from None
        valid = self._apply_override(data, valid)
        if kind == "nan" or (kind == "nodata" and data.dtype.kind == "f"):
            nan = np.isnan(data)
            if nan.any():
                valid = ~nan if valid is None else valid & ~nan
        return data, valid

    def _read_locked(self, window: Window, kind: str) -> tuple[np.ndarray, np.ndarray | None]:
        data = self.dataset.read(self.indexes, window=window)
        valid: np.ndarray | None = None
        if self.alpha_band is not None:
            alpha = self.dataset.read(self.alpha_band, window=window) > 0
            valid = np.broadcast_to(alpha, data.shape).copy()
        elif kind in ("nodata", "mask"):
            valid = self.dataset.read_masks(self.indexes, window=window) > 0
        return data, valid

    def _read_padded(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Read a window reaching past the raster: outside pixels are nodata/0 and invalid.

        Done by hand (read the intersection, paste it) because warped VRTs refuse
        rasterio's boundless reads and because it avoids a temporary VRT per read.
        """
        r0, c0 = int(window.row_off), int(window.col_off)
        h, w = int(window.height), int(window.width)
        fill = self.nodata if self.nodata is not None else 0
        data = np.full((self.count, h, w), fill, dtype=self.dtype)
        valid = np.zeros((self.count, h, w), dtype=bool)
        rr0, cc0 = max(r0, 0), max(c0, 0)
        rr1, cc1 = min(r0 + h, self.height), min(c0 + w, self.width)
        if rr1 > rr0 and cc1 > cc0:
            inner = Window(cc0, rr0, cc1 - cc0, rr1 - rr0)
            d, v = self.read(inner, boundless=False)
            sl = (slice(None), slice(rr0 - r0, rr1 - r0), slice(cc0 - c0, cc1 - c0))
            data[sl] = d
            valid[sl] = True if v is None else v
        return data, valid

    def read_decimated(self, max_pixels: int = 1_000_000) -> tuple[np.ndarray, np.ndarray]:
        """A decimated read of the whole scene for statistics (uses overviews when present).

        Without overviews the scene is sampled block row by block row under a small
        block cache (:mod:`geo2map.raster.decimated`), so memory stays bounded.

        Returns ``(data, valid)`` with ``valid`` always an array.
        """
        scale = max(1.0, math.sqrt(self.width * self.height / max_pixels))
        h = max(1, int(round(self.height / scale)))
        w = max(1, int(round(self.width / scale)))
        shape = (len(self.indexes), h, w)
        if (h, w) != (self.height, self.width) and not self.dataset.overviews(self.indexes[0]):
            with block_cache_env(self):
                data, valid = read_sampled(self, h, w)
            if data.dtype.kind == "f":
                valid &= ~np.isnan(data)
            return data, valid
        try:
            with GDAL_LOCK:
                data = self.dataset.read(self.indexes, out_shape=shape, resampling=Resampling.nearest)
                if self.alpha_band is not None:
                    alpha = self.dataset.read(self.alpha_band, out_shape=(h, w), resampling=Resampling.nearest)
                    valid = np.broadcast_to(alpha > 0, data.shape).copy()
                else:
                    valid = self.dataset.read_masks(self.indexes, out_shape=shape, resampling=Resampling.nearest) > 0
        except RasterioError as exc:
            raise RasterReadError(f"cannot read {self.path}: {one_line(exc)}") from None
        if data.dtype.kind == "f":
            valid &= ~np.isnan(data)
        overridden = self._apply_override(data, valid)
        assert overridden is not None
        return data, overridden

    def read_sample(self, max_pixels: int = 1_000_000) -> tuple[np.ndarray, np.ndarray]:
        """About ``max_pixels`` of the scene's values for statistics. A tiled scene without overviews
        gives whole blocks on an even lattice, (bands, 1, n) (:func:`.decimated.read_block_sample`);
        otherwise, or when those hold too few valid pixels, :meth:`read_decimated`."""
        if not self.dataset.overviews(self.indexes[0]):
            with block_cache_env(self):
                sample = read_block_sample(self, max_pixels)
            if sample is not None and sample[0].dtype.kind == "f":
                sample[1][...] &= ~np.isnan(sample[0])  # as read_decimated: NaN is never a valid value
            if sample is not None and int(sample[1].any(axis=0).sum()) >= max_pixels // 20:
                return sample
        return self.read_decimated(max_pixels)

    def _apply_override(self, data: np.ndarray, valid: np.ndarray | None) -> np.ndarray | None:
        """Mask pixels equal to a user-given nodata value (``--nodata``)."""
        if self.nodata_override is None:
            return valid
        if np.isnan(self.nodata_override):
            hit = np.isnan(data)
        else:
            hit = data == self.nodata_override
        return ~hit if valid is None else valid & ~hit

    # -- lifetime ---------------------------------------------------------
    def close(self) -> None:
        """Close the dataset and every dataset it was derived through."""
        for ds in reversed(self._stack):
            ds.close()
        self._stack.clear()

    def __enter__(self) -> RasterSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_dataset(path: str) -> Any:
    is_local = not (path.lstrip().startswith("<") or "://" in path or path.startswith("/vsi"))
    if is_local and not os.path.exists(path):
        raise RasterReadError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # checked later, with a clear message
            return rasterio.open(path)
    except RasterioError as exc:
        raise RasterReadError(f"{path} is not a raster GDAL can read ({one_line(exc)})") from None


def _check_georeference(ds: Any, path: str, allow_ungeoreferenced: bool) -> bool:
    """Whether ``ds`` has a geotransform; refuse a dataset with no bands or no georeference at all."""
    if ds.count == 0:
        raise RasterReadError(f"{path} has no raster bands (is it a vector file?)")
    has_geotransform = not ds.transform.is_identity or ds.crs is not None
    if not has_geotransform and not ds.gcps[0] and not allow_ungeoreferenced:
        raise GeoreferenceError(
            f"{path} has no georeference (no CRS, no geotransform, no GCPs); "
            "georeference it first or pass allow_ungeoreferenced=True"
        )
    return has_geotransform


def _band_indexes(ds: Any, bidx: str | Sequence[int] | None, path: str) -> list[int]:
    """The 1-based bands to read, on the original band numbering (default: all but alpha)."""
    alpha = [i + 1 for i, ci in enumerate(ds.colorinterp) if ci == ColorInterp.alpha]
    indexes = parse_bidx(bidx) or [i for i in range(1, ds.count + 1) if i not in alpha]
    if not indexes:
        raise BandSelectionError(f"{path} has only alpha bands; choose bands, e.g. bidx=1")
    bad = [i for i in indexes if i < 1 or i > ds.count]
    if bad:
        raise BandSelectionError(
            f"bidx={','.join(map(str, bad))} out of range: {path} has {ds.count} band(s) (1..{ds.count})"
        )
    return indexes


def open_raster(
    path: str | os.PathLike[str],
    *,
    bidx: str | Sequence[int] | None = None,
    dst_crs: str | CRS | None = None,
    allow_ungeoreferenced: bool = False,
    resampling: str = "bilinear",
    nodata: float | None = None,
) -> RasterSource:
    """Open a raster for tiling or translation.

    Args:
        path: Any raster GDAL reads (GeoTIFF, VRT, ...).
        bidx: 1-based bands to read ("3,2,1" or a sequence). Default: all non-alpha bands.
        dst_crs: Target CRS for GCP-only rasters (default: UTM zone of the scene centre).
            Ignored for rasters that already have a CRS and geotransform.
        allow_ungeoreferenced: Accept a raster with neither geotransform nor GCPs
            (pixel coordinates are then used as they are).
        resampling: Resampling used when warping GCP-only rasters.
        nodata: Treat this value as nodata in the source, overriding (or adding to a
            raster without) its own nodata, e.g. 0 for Sentinel-1 GRD border noise.

    Raises:
        RasterReadError: Not a raster, or unreadable.
        GeoreferenceError: No georeference and ``allow_ungeoreferenced`` is false.
        BandSelectionError: ``bidx`` names a band the raster does not have.
    """
    path = os.fspath(path)
    ds = _open_dataset(path)
    stack: list[Any] = [ds]
    notes: dict[str, str] = {}
    heard: list[str] = []
    try:
        has_geotransform = _check_georeference(ds, path, allow_ungeoreferenced)
        indexes = _band_indexes(ds, bidx, path)
        current = ds
        if str(ds.dtypes[0]).startswith("complex"):
            current = rasterio.open(complex_amplitude_vrt(ds, os.path.abspath(path)))
            stack.append(current)
            notes[NOTE_COMPLEX] = f"complex {ds.dtypes[0]} read as amplitude |z| (float32)"
        gcps, gcp_crs = ds.gcps
        if not has_geotransform and gcps:
            current, notes[NOTE_WARPED] = warp_gcps(current, gcps, gcp_crs, dst_crs, resampling, nodata, path)
            stack.append(current)
        elif dst_crs is not None:
            parse_crs(dst_crs)
            heard.append(
                f"dst_crs={dst_crs} applies to GCP-only rasters: {os.path.basename(path)} has a geotransform "
                "and keeps its own CRS (reproject it with gdalwarp -t_srs)"
            )
        # An alpha band is the mask. GDAL does not always flag it (e.g. a warped VRT
        # over a derived-band VRT), so it is read explicitly.
        alphas = [i + 1 for i, ci in enumerate(current.colorinterp) if ci == ColorInterp.alpha]
        return RasterSource(
            path=path,
            dataset=current,
            indexes=indexes,
            notes=notes,
            warnings=heard,
            alpha_band=alphas[0] if alphas else None,
            nodata_override=nodata,
            _stack=stack,
        )
    except BaseException:
        for d in reversed(stack):
            d.close()
        raise
