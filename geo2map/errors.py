"""Exceptions raised by geo2map.

Every error the library raises on purpose derives from :class:`Geo2MapError`.
Subclasses are mixed with the matching builtin so callers can catch either
(``except ValueError`` still works), following rasterio's ``RasterioIOError``.
Messages are one line and say how to fix the problem; the CLI prints them as
``Error: <message>`` and exits non-zero, never with a traceback.
"""

from __future__ import annotations


class Geo2MapError(Exception):
    """Root of all geo2map errors."""


class InputError(Geo2MapError, ValueError):
    """An input (raster, option value, band selection) cannot be used."""


class RasterReadError(Geo2MapError, OSError):
    """A file could not be opened or read as a raster."""


class GeoreferenceError(InputError):
    """A raster has no usable georeference (no CRS/transform and no GCPs)."""


class BandSelectionError(InputError):
    """A band index is out of range, or the band count does not fit."""


class OutputExistsError(Geo2MapError, FileExistsError):
    """The output path exists and overwriting was not requested."""


class OutputError(Geo2MapError, OSError):
    """An output could not be written (folder missing, not writable, ...)."""


class ModelError(Geo2MapError, ValueError):
    """A model file is missing, unreadable or not a geo2map model."""


def one_line(exc: BaseException, limit: int | None = None) -> str:
    """An exception's message on one line (whitespace collapsed, at most ``limit`` characters).

    rasterio's "Read failed. See previous exception for details." hides what GDAL said
    in the exception it was raised from: that message is used instead.
    """
    seen: BaseException | None = exc
    while seen is not None and "previous exception" in str(seen) and (seen.__cause__ or seen.__context__):
        seen = seen.__cause__ or seen.__context__
    text = " ".join(str(seen if seen is not None else exc).split()) or type(exc).__name__
    return text if limit is None or len(text) <= limit else text[: limit - 3].rstrip() + "..."
