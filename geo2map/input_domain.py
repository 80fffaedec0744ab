"""Does a scene's value range fit the model's input scaling? Fit it, convert it with a note, or refuse.

A model's card says how raw values become the network's [-1, 1] (its input scaling).
When a scene's data type or values do not fit that scaling, translating it anyway
gives a near-constant canvas (16-bit reflectance clipped at 255) or flat colour (a
DEM without buildings or trees). :func:`fit_input_scaling` decides, from one
decimated read of the scene:

- ``optical_u8`` (8-bit photos) and a scene that is not 8-bit (16-bit, signed, float,
  complex amplitude) with values outside 0-255, or float reflectance in 0-1: each
  band's 2-98 % range is stretched to the model's range, and a note says so;
- ``dsm`` (heights above the local ground) and a scene with no local relief: refused;
- anything else: the card's scaling, fitted on the scene as before.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from geo2map.errors import InputError
from geo2map.sensors import DSM, OpticalReflectance, OpticalU8, Scaling, scaling_from_dict

if TYPE_CHECKING:
    from geo2map.models.card import ModelCard
    from geo2map.raster.open import RasterSource

#: the stretch applied to a scene that does not fit an 8-bit model (percentiles per band)
STRETCH = (2.0, 98.0)
#: below this 99th percentile of height above the local minimum (metres), a scene has no relief to draw
MIN_RELIEF_M = 0.5


def fit_input_scaling(card: ModelCard, source: RasterSource, max_pixels: int = 1_000_000) -> tuple[Scaling, str | None]:
    """The input scaling to translate ``source`` with, fitted on it, and a note when it was converted.

    Raises:
        InputError: the scene cannot be translated by this model (one line that says why).
    """
    scaling = scaling_from_dict(card.input_scaling)
    if card.task != "identity" and isinstance(scaling, OpticalU8) and np.dtype(source.dtype) != np.uint8:
        data, valid = source.read_decimated(max_pixels)
        note = _stretch_note(card, source, data, valid)
        if note is None:
            return scaling, None
        lo, hi = STRETCH
        stretched = OpticalReflectance(params={"mode": "percentile", "p_low": lo, "p_high": hi}).fit(data, valid)
        return stretched, note
    if card.task != "identity" and isinstance(scaling, DSM) and scaling.params["method"] == "local_min":
        data, valid = source.read_decimated(max_pixels)
        _check_relief(card, source, scaling, data, valid)
    return scaling.fit_source(source, max_pixels), None


def _stretch_note(card: ModelCard, source: RasterSource, data: np.ndarray, valid: np.ndarray) -> str | None:
    """Why a non-8-bit scene needs a stretch for an 8-bit model, or None when its values fit 0-255."""
    values = data[valid & np.isfinite(data)] if data.dtype.kind == "f" else data[valid]
    if values.size == 0:
        return None  # all nodata: translate says so
    lo, hi = float(values.min()), float(values.max())
    reflectance = data.dtype.kind == "f" and hi <= 1.0
    if 0 <= lo and hi <= 255 and not reflectance:
        return None
    p_lo, p_hi = STRETCH
    return (
        f"{os.path.basename(str(source.path))} holds {source.dtype} values {lo:g} to {hi:g} but model "
        f"{card.name or '?'} expects 8-bit values (0 to 255): each band's {p_lo:g}-{p_hi:g} % range was "
        "stretched to 0-255 (to choose the stretch, convert the scene first, e.g. gdal_translate -ot Byte -scale)"
    )


def _check_relief(card: ModelCard, source: RasterSource, scaling: DSM, data: np.ndarray, valid: np.ndarray) -> None:
    """Refuse a scene whose heights barely rise above their local minimum (a flat or smoothed DEM)."""
    from scipy.ndimage import minimum_filter

    x = np.where(valid, data, np.nan).astype(np.float64)
    finite = np.isfinite(x)
    if not finite.any():
        return  # all nodata: translate says so
    step = max(source.width / data.shape[-1], 1.0)
    r = max(1, int(round(int(scaling.params["radius"]) / step)))
    ground = minimum_filter(np.where(finite, x, np.inf), size=(1, 2 * r + 1, 2 * r + 1), mode="nearest")
    relief = float(np.percentile((x - ground)[finite], 99))
    if relief < MIN_RELIEF_M:
        raise InputError(
            f"{os.path.basename(str(source.path))} has no local relief (99 % of its pixels lie within "
            f"{relief:.2g} m of the lowest point around them): model {card.name or '?'} draws buildings and "
            "trees from their height above the ground; give it a surface model (DSM), not a flat or smoothed DEM"
        )
