"""What an output looks like, decided from its source: nodata value or internal mask, and the
:class:`~geo2map.raster.write.OutputSpec` on the source's grid.
"""

from __future__ import annotations

import numpy as np

from geo2map.raster.open import RasterSource
from geo2map.raster.write import (
    OutputSpec,
    Preset,
)


def _fits(value: float, dtype: str) -> bool:
    dt = np.dtype(dtype)
    if np.isnan(value):
        return dt.kind == "f"
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return float(value).is_integer() and info.min <= value <= info.max
    return True


def output_masking(source_nodata: float | None, mask_kind: str, dtype: str) -> tuple[float | None, bool]:
    """``(nodata, internal_mask)`` for an output derived from a source.

    The source's nodata value is kept when the output dtype can hold it (a float
    dtype holds any); otherwise, and for a source masked by an alpha or mask band,
    the output gets an internal mask. Float outputs without nodata carry NaN.
    """
    if source_nodata is not None and _fits(source_nodata, dtype):
        return source_nodata, False
    if mask_kind == "mask" or source_nodata is not None:
        return None, True
    return None, False


def spec_for(
    source: RasterSource,
    *,
    preset: Preset = "deflate",
    creation_options: dict[str, str] | None = None,
    count: int | None = None,
    dtype: str | None = None,
    tags: dict[str, str] | None = None,
) -> OutputSpec:
    """An :class:`OutputSpec` on exactly the source's grid."""
    dtype = dtype or source.dtype
    nodata, internal = output_masking(source.nodata, source.mask_kind, dtype)
    same_bands = count is None or count == source.count
    return OutputSpec.on_grid(
        source,
        count=count or source.count,
        dtype=dtype,
        nodata=nodata,
        internal_mask=internal,
        preset=preset,
        creation_options=creation_options,
        descriptions=tuple(source.descriptions) if same_bands else None,
        colorinterp=tuple(source.colorinterp) if same_bands else None,
        tags={**source.notes, **(tags or {})},
    )


# ---------------------------------------------------------------------------
# One streaming pass: tiles -> fn -> blend -> write
# ---------------------------------------------------------------------------
