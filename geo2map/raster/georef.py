"""Georeferencing on open: CRS parsing, complex SAR as amplitude, GCP-only rasters warped onto a real grid."""

from __future__ import annotations

import math
from typing import Any, Literal
from xml.sax.saxutils import escape

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT

from geo2map.errors import (
    GeoreferenceError,
    InputError,
)

MaskKind = Literal["none", "nodata", "mask", "nan"]


def utm_crs_for(lon: float, lat: float) -> CRS:
    """The WGS 84 / UTM zone CRS that contains a longitude/latitude."""
    zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _gcp_warp_scale(gcps: list[Any], gcp_crs: CRS, target: CRS, width: int, height: int) -> float:
    """Destination pixels per source pixel of GDAL's default warp of a GCP-only raster.

    The source pixel area comes from a least-squares affine fit of the GCPs
    (pixel → target CRS), the destination's from GDAL's suggested output grid.
    """
    from rasterio.warp import calculate_default_transform
    from rasterio.warp import transform as warp_transform

    xs, ys = warp_transform(gcp_crs, target, [g.x for g in gcps], [g.y for g in gcps])
    pix = np.column_stack([[g.col for g in gcps], [g.row for g in gcps], np.ones(len(gcps))])
    coef_x, *_ = np.linalg.lstsq(pix, np.asarray(xs), rcond=None)
    coef_y, *_ = np.linalg.lstsq(pix, np.asarray(ys), rcond=None)
    src_area = abs(coef_x[0] * coef_y[1] - coef_x[1] * coef_y[0])
    dst_transform, _, _ = calculate_default_transform(gcp_crs, target, width, height, gcps=gcps)
    dst_area = abs(dst_transform.a * dst_transform.e - dst_transform.b * dst_transform.d)
    if not (src_area > 0 and dst_area > 0):
        return 1.0
    return float(math.sqrt(src_area / dst_area))


def complex_amplitude_vrt(ds: rasterio.io.DatasetReader, path: str) -> str:
    """VRT XML exposing ``|z|`` of each complex band as Float32, keeping GCPs/georef."""
    parts = [f'<VRTDataset rasterXSize="{ds.width}" rasterYSize="{ds.height}">']
    gcps, gcp_crs = ds.gcps
    if ds.crs is not None and not ds.transform.is_identity:
        parts.append(f"<SRS>{escape(ds.crs.to_wkt())}</SRS>")
        parts.append(f"<GeoTransform>{', '.join(repr(v) for v in ds.transform.to_gdal())}</GeoTransform>")
    elif gcps:
        proj = escape(gcp_crs.to_wkt() if gcp_crs else "", {'"': "&quot;"})
        parts.append(f'<GCPList Projection="{proj}">')
        for g in gcps:
            parts.append(
                f'<GCP Id="{escape(str(g.id))}" Pixel="{g.col!r}" Line="{g.row!r}" '
                f'X="{g.x!r}" Y="{g.y!r}" Z="{(g.z or 0.0)!r}"/>'
            )
        parts.append("</GCPList>")
    gdal_type = {
        "complex_int16": "CInt16",
        "complex_int32": "CInt32",
        "complex64": "CFloat32",
        "complex": "CFloat64",
        "complex128": "CFloat64",
    }.get(str(ds.dtypes[0]), "CFloat64")
    for b in range(1, ds.count + 1):
        # SourceTransferType keeps the samples complex until the pixel function
        # (otherwise GDAL converts to Float32 first and drops the imaginary part).
        parts.append(
            f'<VRTRasterBand dataType="Float32" band="{b}" subClass="VRTDerivedRasterBand">'
            "<PixelFunctionType>mod</PixelFunctionType>"
            f"<SourceTransferType>{gdal_type}</SourceTransferType>"
            f'<SimpleSource><SourceFilename relativeToVRT="0">{escape(path)}</SourceFilename>'
            f"<SourceBand>{b}</SourceBand></SimpleSource></VRTRasterBand>"
        )
    parts.append("</VRTDataset>")
    return "".join(parts)


def parse_crs(value: str | CRS) -> CRS:
    """A CRS from user text (``EPSG:32633``, WKT, PROJ string), or a one-line :class:`InputError`."""
    if isinstance(value, CRS):
        return value
    try:
        with rasterio.Env():  # GDAL's errors go to rasterio's handler, not as "ERROR 1: PROJ" lines on stderr
            return CRS.from_user_input(value)
    except Exception:  # noqa: BLE001 - CRSError and whatever PROJ raises
        raise InputError(f"CRS {value!r} is not one GDAL understands (try an EPSG code, e.g. EPSG:32633)") from None


def warp_gcps(
    current: Any,
    gcps: list[Any],
    gcp_crs: CRS | None,
    dst_crs: str | CRS | None,
    resampling: str,
    nodata: float | None,
    path: str,
) -> tuple[Any, str]:
    """A WarpedVRT of a GCP-only raster onto ``dst_crs`` (default: the UTM zone of its centre) and
    the provenance note; exact and window-independent (see the comments)."""
    if gcp_crs is None:
        raise GeoreferenceError(f"{path} has GCPs but no CRS for them")
    if dst_crs is None:
        lon = float(np.mean([g.x for g in gcps]))
        lat = float(np.mean([g.y for g in gcps]))
        target = utm_crs_for(lon, lat) if gcp_crs.is_geographic else gcp_crs
    else:
        target = parse_crs(dst_crs)
    vrt_kwargs: dict[str, Any] = {
        "crs": target,
        "src_crs": gcp_crs,
        "resampling": Resampling[resampling],
        # exact transformer: GDAL's default approximation (0.125 px) is fitted per
        # warped chunk, so a pixel read in two windows could come from different
        # source pixels, and overlapping tiles would disagree
        "tolerance": 0.0,
    }
    src_nodata = nodata if nodata is not None else current.nodata
    if src_nodata is not None:
        vrt_kwargs["src_nodata"] = src_nodata
        vrt_kwargs["nodata"] = src_nodata
    else:
        vrt_kwargs["add_alpha"] = True
    # one fixed resampling scale for the whole scene: GDAL otherwise estimates it
    # per warped chunk, and a pixel's value would depend on the window read
    scale = f"{_gcp_warp_scale(gcps, gcp_crs, target, current.width, current.height):.6f}"
    vrt_kwargs.update(XSCALE=scale, YSCALE=scale)
    note = f"warped from {len(gcps)} GCPs ({gcp_crs.to_string()}) to {target.to_string()} with {resampling} resampling"
    return WarpedVRT(current, **vrt_kwargs), note
