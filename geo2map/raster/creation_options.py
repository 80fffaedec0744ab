"""Check GDAL creation options before any work: a typo must not be ignored.

GDAL warns (and goes on) on an option its driver does not know (``FOO=BAR``) or on a
value outside the option's list or range (``COMPRESS=NOPE``, ``ZLEVEL=99``); the
output is then written without it. :func:`check_creation_options` creates a tiny
dataset in memory (``/vsimem``) with the options and turns any such warning into a
one-line error.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np

from geo2map.errors import InputError, one_line


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def check_creation_options(options: Mapping[str, Any], *, cog: bool = False, dtype: str = "uint8") -> None:
    """Raise :class:`InputError` when GDAL's GTiff (or COG) driver rejects a creation option or value."""
    if not options:
        return
    import rasterio
    import rasterio.shutil

    handler = _Collect()
    log = logging.getLogger("rasterio")
    log.addHandler(handler)
    level = log.level
    log.setLevel(min(level or logging.WARNING, logging.WARNING))
    base = f"/vsimem/geo2map-co-{uuid.uuid4().hex}"
    profile: dict[str, Any] = {"driver": "GTiff", "width": 16, "height": 16, "count": 1, "dtype": dtype}
    if not cog:  # as geo2map writes: tiled (block sizes may come from the options)
        profile["tiled"] = True
        options = {k.lower(): v for k, v in options.items() if k.lower() != "tiled"}
    try:
        with rasterio.Env():
            if cog:
                with rasterio.open(base + ".tif", "w", **profile) as ds:
                    ds.write(np.zeros((1, 16, 16), dtype))
                rasterio.shutil.copy(base + ".tif", base + ".cog.tif", driver="COG", **options)
            else:
                with rasterio.open(base + ".tif", "w", **profile, **options) as ds:
                    ds.write(np.zeros((1, 16, 16), dtype))
    except Exception as exc:  # noqa: BLE001 - GDAL refusing outright is just as much a bad option
        handler.messages.append(one_line(exc))
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        for path in (base + ".tif", base + ".cog.tif"):
            try:
                rasterio.shutil.delete(path)
            except Exception:  # noqa: BLE001 - not created
                pass
    bad = [m for m in handler.messages if "creation option" in m or "not recognised" in m or "value" in m]
    if bad:
        text = bad[-1].replace("CPLE_NotSupported in ", "").replace("CPLE_IllegalArg in ", "")
        text = text.replace(", ignoring", "")
        driver = "COG" if cog else "GTiff"
        raise InputError(f"creation_options: {text.rstrip('.')} (see GDAL's {driver} driver documentation)")
