"""What a scene holds against what a model expects: bands, pixel size, polarisation.

Each check gives a one-line error (:func:`check_bands`) or a note for the user
(``*_note``), never a silent mistranslation.
"""

from __future__ import annotations

import math
import os
import re
from typing import TYPE_CHECKING

from geo2map.errors import BandSelectionError
from geo2map.raster.open import RasterSource

if TYPE_CHECKING:
    from geo2map.models.card import ModelCard


def check_bands(card: ModelCard, source: RasterSource) -> None:
    """Raise a clear error when the scene's (selected) bands do not fit the model."""
    want = card.architecture.in_bands
    if card.task == "identity" or source.count == want:
        return
    names = ", ".join(b.name for b in card.input_bands) or f"{want} band(s)"
    have = ", ".join(f"{i}:{d}" if d else str(i) for i, d in zip(source.indexes, source.descriptions, strict=True))
    raise BandSelectionError(
        f"model {card.name or '?'} expects {want} input band{'s' if want != 1 else ''} ({names}) but "
        f"{os.path.basename(source.path)} gives {source.count} (bands {have}); choose them, "
        f"e.g. bidx={','.join(str(i) for i in source.indexes[:want]) or '1'}"
    )


def bands_by_name(card: ModelCard, source: RasterSource) -> list[int] | None:
    """The bands of ``source`` whose descriptions name the model's input bands, when the band
    counts differ (e.g. ``VH`` of a VV+VH Sentinel-1 file for sar2rgb); None otherwise."""

    def key(text: str | None) -> str:  # "VH (dB)", "vh", "VH_linear" → "vh"
        words = re.findall(r"[a-z0-9]+", (text or "").lower())
        return words[0] if words else ""

    wanted = [key(b.name) for b in card.input_bands]
    if card.task == "identity" or not wanted or source.count == len(wanted):
        return None
    names = {key(d): i for i, d in zip(source.indexes, source.descriptions, strict=True) if key(d)}
    if all(w in names for w in wanted):
        return [names[w] for w in wanted]
    return None


def pixel_size_m(source: RasterSource) -> float | None:
    """The source's pixel size in metres (geometric mean of x and y), or None without a CRS.

    Geographic CRSs: the geodesic lengths (on the CRS's ellipsoid) of one pixel step
    east and south at the scene centre.
    """
    crs, t = source.crs, source.transform
    if crs is None:
        return None
    if crs.is_geographic:
        from pyproj import CRS as ProjCRS
        from pyproj import Geod

        try:
            geod = ProjCRS.from_user_input(crs.to_wkt()).get_geod() or Geod(ellps="WGS84")
        except Exception:  # noqa: BLE001 - a CRS pyproj cannot read: WGS 84's ellipsoid
            geod = Geod(ellps="WGS84")
        cx, cy = t * (source.width / 2, source.height / 2)
        ex, ey = t * (source.width / 2 + 1, source.height / 2)
        sx, sy = t * (source.width / 2, source.height / 2 + 1)
        dx = geod.inv(cx, cy, ex, ey)[2]
        dy = geod.inv(cx, cy, sx, sy)[2]
        return float(math.sqrt(abs(dx * dy))) or None
    try:
        factor = float(crs.linear_units_factor[1])
    except Exception:  # noqa: BLE001 - unknown units: no check
        return None
    return float(math.sqrt(abs(t.a * t.e - t.b * t.d)) * factor)


def resolution_note(card: ModelCard, source: RasterSource) -> str | None:
    """A note when the scene's pixels are more than 2x off the model's training pixels.

    Finer pixels: how to average them down (in metres: a UTM zone for a geographic CRS,
    never degrees). Coarser pixels: that the scene is too coarse for the model, since
    resampling up cannot add the detail the model was trained on.
    """
    trained = card.training.get("pixel_size_m")
    px = pixel_size_m(source)
    if not trained or not px or 0.5 <= px / float(trained) <= 2.0:
        return None
    trained = float(trained)
    head = f"model {card.name} was trained on {trained:g} m pixels but this scene has {px:.3g} m pixels"
    if px > trained:
        return (
            f"{head}: it is {px / trained:.3g}x too coarse for this model, and resampling it finer cannot add "
            "the missing detail; expect poor results"
        )
    target = ""
    if source.crs is not None and source.crs.is_geographic:
        from geo2map.raster.georef import utm_crs_for

        lon, lat = source.transform * (source.width / 2, source.height / 2)
        target = f"-t_srs {utm_crs_for(lon, lat).to_string()} "
    return f"{head}: average it down first, e.g. gdalwarp {target}-tr {trained:g} {trained:g} -r average"


POLARISATIONS = ("VV", "VH", "HH", "HV")


def source_polarisations(source: RasterSource) -> set[str]:
    """The SAR polarisations a scene's bands say they hold: band descriptions, band and dataset
    metadata (``POLARISATION``, ``polarization``, ...), else the file name (``s1a-iw-grd-vv-...``)."""
    words: list[str] = [d or "" for d in source.descriptions]
    try:
        ds = source.dataset
        for tags in [ds.tags(), *(ds.tags(i) for i in source.indexes)]:
            words += [str(v) for k, v in tags.items() if "POLAR" in k.upper()]
    except Exception:  # noqa: BLE001 - no metadata to read: descriptions only
        pass
    found = {w for text in words for w in re.findall(r"[A-Za-z]+", text.upper()) if w in POLARISATIONS}
    if not found:
        name = os.path.basename(str(source.path)).upper()
        found = {p for p in POLARISATIONS if re.search(rf"(^|[^A-Z]){p}([^A-Z]|$)", name)}
    return found


def polarisation_note(card: ModelCard, source: RasterSource) -> str | None:
    """A note when the model was trained on other polarisations than the scene's bands hold."""
    trained = {b.name.upper() for b in card.input_bands} & set(POLARISATIONS)
    have = source_polarisations(source)
    if not trained or not have or have & trained:
        return None
    return (
        f"model {card.name} was trained on {'+'.join(sorted(trained))} only, but this scene holds "
        f"{'+'.join(sorted(have))}: the output will not look like the training targets"
    )
