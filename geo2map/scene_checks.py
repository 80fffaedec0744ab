"""What a scene holds against what a model expects: bands, pixel size, polarisation.

Each check gives a one-line error (:func:`check_bands`) or a note for the user
(``*_note``), never a silent mistranslation.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from geo2map.errors import BandSelectionError, InputError
from geo2map.raster.open import RasterSource

if TYPE_CHECKING:
    from geo2map.models.card import ModelCard

#: translate reads a scene at the model's pixel size when the two differ by more than this factor
RESAMPLE_TRIGGER = 1.5
#: ... but brings a coarser scene up by at most this factor (beyond it, the scene is too coarse)
MAX_UPSAMPLE = 4.0
RESAMPLE_MODES = ("auto", "off")


def check_bands(card: ModelCard, source: RasterSource) -> None:
    """Raise a clear error when the scene's (selected) bands do not fit the model."""
    want = card.architecture.in_bands
    if card.task == "identity" or source.count == want:
        return
    names = ", ".join(b.name for b in card.input_bands) or f"{want} band(s)"
    have = ", ".join(f"{i}:{d}" if d else str(i) for i, d in zip(source.indexes, source.descriptions, strict=True))
    if source.count < want:  # nothing to choose from: --bidx cannot add bands
        advice = "this model needs a scene with more bands"
    else:
        advice = f"choose them, e.g. bidx={','.join(str(i) for i in source.indexes[:want])}"
    raise BandSelectionError(
        f"model {card.name or '?'} expects {want} input band{'s' if want != 1 else ''} ({names}) but "
        f"{os.path.basename(source.path)} gives {source.count} (bands {have}); {advice}"
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


def pixel_sizes_m(source: RasterSource) -> tuple[float, float] | None:
    """The source's pixel width and height in metres, or None without a CRS (or with unknown units).

    Geographic CRSs: the geodesic lengths (on the CRS's ellipsoid) of one pixel step
    east and south at the scene centre, never degrees.
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
        dx, dy = abs(geod.inv(cx, cy, ex, ey)[2]), abs(geod.inv(cx, cy, sx, sy)[2])
        return (float(dx), float(dy)) if dx and dy else None
    try:
        factor = float(crs.linear_units_factor[1])
    except Exception:  # noqa: BLE001 - unknown units: no check
        return None
    return float(math.hypot(t.a, t.d) * factor), float(math.hypot(t.b, t.e) * factor)


def pixel_size_m(source: RasterSource) -> float | None:
    """The source's pixel size in metres (geometric mean of width and height), or None."""
    sizes = pixel_sizes_m(source)
    return float(math.sqrt(sizes[0] * sizes[1])) if sizes else None


def _off_by(card: ModelCard, source: RasterSource) -> tuple[float, float] | None:
    """(scene pixel size, training pixel size) in metres when they differ by more than
    :data:`RESAMPLE_TRIGGER`; None when they agree or either is unknown."""
    trained = card.training.get("pixel_size_m")
    px = pixel_size_m(source)
    if not trained or not px or 1 / RESAMPLE_TRIGGER <= px / float(trained) <= RESAMPLE_TRIGGER:
        return None
    return px, float(trained)


def resolution_note(card: ModelCard, source: RasterSource) -> str | None:
    """A note when the scene's pixels are more than 1.5x off the model's training pixels and
    translate keeps the scene's grid (``resample="off"``, or a scene too coarse to bring up).

    Finer pixels: how to average them down (in metres: a UTM zone for a geographic CRS,
    never degrees). Coarser pixels: that the scene is too coarse for the model, since
    resampling up cannot add the detail the model was trained on.
    """
    off = _off_by(card, source)
    if off is None:
        return None
    px, trained = off
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


@dataclass(frozen=True)
class ResamplePlan:
    """Translate on the model's pixel size: read the scene at ``width`` × ``height`` (``read``
    resampling), translate, and resample the output back onto the scene's grid (``write``)."""

    width: int
    height: int
    read: str
    write: str
    scene_m: float
    model_m: float

    def note(self, name: str) -> str:
        """What was done, for the user."""
        how = "averaged down" if self.read == "average" else "brought up bilinearly, which adds no detail"
        return (
            f"model {name} was trained on {self.model_m:g} m pixels and this scene has {self.scene_m:.3g} m "
            f"pixels: translated at {self.model_m:g} m ({how}), then resampled back onto the scene's grid "
            f"({self.write}); resample=off keeps the scene's pixels"
        )


def resample_plan(card: ModelCard, source: RasterSource, mode: str = "auto") -> ResamplePlan | None:
    """How ``resample="auto"`` brings ``source`` to the model's training pixel size, or None to
    translate on the scene's own grid: ``off``, sizes within 1.5x or unknown, or a scene more
    than :data:`MAX_UPSAMPLE` times coarser (:func:`resolution_note` then says it is too coarse)."""
    if mode not in RESAMPLE_MODES:
        raise InputError(f"resample={mode!r} is not one of {', '.join(RESAMPLE_MODES)}")
    off = _off_by(card, source) if mode == "auto" and card.task != "identity" else None
    sizes = pixel_sizes_m(source)
    if off is None or sizes is None or off[0] / off[1] > MAX_UPSAMPLE:
        return None
    px, trained = off
    width = max(1, round(source.width * sizes[0] / trained))
    height = max(1, round(source.height * sizes[1] / trained))
    finer = px < trained
    return ResamplePlan(
        width,
        height,
        read="average" if finer else "bilinear",
        write="bilinear" if finer else "average",
        scene_m=px,
        model_m=trained,
    )


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
        f"{'+'.join(sorted(have))}: it was never trained or validated on that, so its output is unverified"
    )
