"""Writing rasters: named output presets, atomic writes, block-aligned row writing.

Presets (like rio-cogeo's ``cog_profiles``):

* ``deflate`` / ``zstd``: tiled GeoTIFF, 512x512 blocks, predictor 2 (integers)
  or 3 (floats), BIGTIFF=IF_SAFER, multi-threaded compression; DEFLATE at level 1
  (:data:`DEFLATE_LEVEL`; ``--co ZLEVEL=6`` gives GDAL's default).
* ``cog``: a Cloud Optimized GeoTIFF made by GDAL's COG driver (DEFLATE at
  :data:`DEFLATE_LEVEL` too, ``--co LEVEL=6`` for GDAL's default; 512 blocks,
  overviews) from a tiled GeoTIFF written first.

Every output is written to a temporary file in the destination folder and
renamed over the destination only when complete, so the path the user asked for
never holds a half-written raster, even after Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.crs import CRS
from rasterio.enums import ColorInterp
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.transform import Affine
from rasterio.windows import Window

from geo2map.errors import InputError, OutputError, OutputExistsError, one_line
from geo2map.raster.gdal_lock import GDAL_LOCK
from geo2map.raster.safety import TMP_SUFFIX, remove_stale_temps, remove_written, verify_written, write_error

Preset = Literal["deflate", "zstd", "cog"]
PRESETS: tuple[str, ...] = ("deflate", "zstd", "cog")
BLOCK = 512
#: DEFLATE level of the ``deflate`` preset (GDAL's default is 6). Measured on a network output and on
#: imagery (README, Benchmarks): level 1 compresses 1.6-2.5x faster for files 4-5 % larger. The COG
#: preset uses it too: on a 25000 x 16000 RGB output its COG pass took 13.7 s instead of 37.1 s, for
#: files 0-19 % larger (docs/benchmarks.md).
DEFLATE_LEVEL = 1


RGB = (ColorInterp.red, ColorInterp.green, ColorInterp.blue)


def photometric_for(colorinterp: tuple[ColorInterp, ...] | list[ColorInterp] | None, count: int) -> str:
    """GeoTIFF PHOTOMETRIC for band interpretations: RGB for exactly red, green, blue.

    Anything else is MINISBLACK, so GDAL never turns a 4th data band into alpha.
    """
    if count == 3 and colorinterp is not None and tuple(colorinterp) == RGB:
        return "RGB"
    return "MINISBLACK"


def gtiff_layout(
    colorinterp: tuple[ColorInterp, ...] | list[ColorInterp] | None, count: int, internal_mask: bool
) -> dict[str, Any]:
    """GeoTIFF ``PHOTOMETRIC`` (:func:`photometric_for`) and ``NUM_THREADS`` for writing.

    All cores compress, except for several MINISBLACK bands, some beyond RGB (NIR, ...),
    with an internal mask: the mask's compression jobs then print 'ERROR 1: ... Bad value
    2 for "ExtraSamples" tag' (GDAL 3.10, either interleave). 1, not absent:
    GDAL_NUM_THREADS, set for the reads, would apply.
    """
    photometric = photometric_for(colorinterp, count)
    threads = photometric == "RGB" or count == 1 or not internal_mask
    return {"photometric": photometric, "num_threads": "ALL_CPUS" if threads else 1}


def parse_creation_options(items: list[str] | tuple[str, ...] | None) -> dict[str, str]:
    """``["COMPRESS=ZSTD", "ZLEVEL=9"]`` → ``{"compress": "ZSTD", "zlevel": "9"}``."""
    out: dict[str, str] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"creation option {item!r} is not NAME=VALUE")
        out[name.strip().lower()] = value.strip()
    return out


def check_output_path(path: str | os.PathLike[str], overwrite: bool) -> str:
    """Refuse an existing output without ``overwrite`` and an unwritable folder, up front."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise OutputError(f"output {path} is a folder; give a file name such as out.tif")
    if os.path.exists(path) and not overwrite:
        raise OutputExistsError(f"output {path} exists; pass overwrite=True to replace it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OutputError(f"output folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {folder} is not writable")
    return path


def usual_mode(path: str, directory: bool = False) -> None:
    """Give ``path`` the mode a plain ``open``/``mkdir`` would (0666/0777 less the umask): temporary
    files and folders, which become the user's outputs on rename, are created 0600/0700."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if directory else 0o666) & ~umask)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], overwrite: bool = False) -> Iterator[str]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    On any exception (KeyboardInterrupt included) the temporary file is removed
    and ``path`` is left as it was.
    """
    path = check_output_path(path, overwrite)
    folder = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    remove_stale_temps(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.{os.getpid()}.", suffix=TMP_SUFFIX, dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write in output folder {folder}: {exc.strerror}") from None
    os.close(fd)
    os.unlink(tmp)  # GDAL creates the file itself
    try:
        yield tmp
        if os.path.exists(path) and not overwrite:
            raise OutputExistsError(f"output {path} appeared while writing; pass overwrite=True")
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp + ".aux.xml", tmp + ".msk", tmp + ".gtiff.tif"):
            if os.path.exists(leftover):
                os.unlink(leftover)


@dataclass(frozen=True)
class OutputSpec:
    """What to write: the grid, bands, masks and format of an output raster.

    Attributes:
        width, height, transform, crs: The output grid (normally the source's, exactly).
        count, dtype: Bands and data type.
        nodata: Nodata value written where no valid data is, or None.
        internal_mask: Write a GDAL internal mask band instead of (or besides) nodata.
        preset: ``deflate``, ``zstd`` or ``cog``.
        creation_options: Extra GDAL creation options (override the preset's).
        descriptions, colorinterp: Per-band metadata.
        tags: Dataset metadata items.
    """

    width: int
    height: int
    transform: Affine
    crs: CRS | None
    count: int
    dtype: str
    nodata: float | None = None
    internal_mask: bool = False
    preset: Preset = "deflate"
    creation_options: Mapping[str, str] = field(default_factory=dict)
    descriptions: tuple[str | None, ...] | None = None
    colorinterp: tuple[ColorInterp, ...] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise InputError(f"unknown output preset {self.preset!r}; choose {', '.join(PRESETS)}")
        from geo2map.raster.creation_options import check_creation_options

        check_creation_options(self.creation_options, cog=self.preset == "cog", dtype=self.dtype)

    @classmethod
    def on_grid(cls, grid: Any, **fields: Any) -> OutputSpec:
        """A spec on exactly ``grid``'s pixels.

        Args:
            grid: Anything with ``width``, ``height``, ``transform`` and ``crs`` (a
                :class:`~geo2map.raster.open.RasterSource`, a :class:`~geo2map.raster.tiling.TileGrid`).
            **fields: The other fields; ``creation_options=None`` means none.
        """
        fields["creation_options"] = fields.get("creation_options") or {}
        return cls(width=grid.width, height=grid.height, transform=grid.transform, crs=grid.crs, **fields)

    def gtiff_profile(self) -> dict[str, Any]:
        """The rasterio profile of the tiled GeoTIFF written first."""
        floating = np.dtype(self.dtype).kind == "f"
        profile: dict[str, Any] = {
            "driver": "GTiff",
            "width": self.width,
            "height": self.height,
            "count": self.count,
            "dtype": self.dtype,
            "crs": self.crs,
            "transform": self.transform,
            "nodata": self.nodata,
            "tiled": True,
            "blockxsize": BLOCK,
            "blockysize": BLOCK,
            "compress": "zstd" if self.preset == "zstd" else "deflate",
            "predictor": 3 if floating else 2,
            "bigtiff": "IF_SAFER",
        }
        profile.update(gtiff_layout(self.colorinterp, self.count, self.internal_mask))
        # band interleave, but pixel with an internal mask: libtiff's compression threads then print
        # 'ERROR 1: ... Bad value 2 for "ExtraSamples" tag' for partial edge tiles of MINISBLACK bands
        pixel = profile["photometric"] == "RGB" or (self.internal_mask and self.count > 1)
        profile["interleave"] = "pixel" if pixel else "band"
        if self.preset == "cog":
            # Intermediate file: fast compression, the COG driver recompresses.
            profile.update(compress="zstd", zstd_level=1)
        else:
            profile.update(self.creation_options)
            if str(profile["compress"]).lower() == "deflate" and "zlevel" not in self.creation_options:
                profile["zlevel"] = DEFLATE_LEVEL
        return profile

    def cog_options(self) -> dict[str, Any]:
        """The COG driver's creation options for this spec."""
        floating = np.dtype(self.dtype).kind == "f"
        opts: dict[str, Any] = {
            "compress": "deflate",
            "predictor": "FLOATING_POINT" if floating else "YES",
            "blocksize": BLOCK,
            "overviews": "AUTO",
            "overview_resampling": "average",
            "bigtiff": "IF_SAFER",
            "num_threads": gtiff_layout(self.colorinterp, self.count, self.internal_mask)["num_threads"],
        }
        opts.update(self.creation_options)
        if str(opts["compress"]).lower() == "deflate" and "level" not in self.creation_options:
            opts["level"] = DEFLATE_LEVEL
        return opts


class RasterWriter:
    """Write finished rows to an output raster, atomically.

    Rows arrive top to bottom for each column stripe (``col_off`` = the stripe's
    first column; one stripe covering the full width in the common case). They are
    buffered to whole 512-pixel block rows so each GeoTIFF block is compressed
    exactly once and the GDAL block cache never holds partial blocks.

    Use as a context manager: the output appears at ``path`` only if the block
    exits without an exception and every pixel was written.
    """

    def __init__(self, path: str | os.PathLike[str], spec: OutputSpec, overwrite: bool = False):
        self.path = os.fspath(path)
        self.spec = spec
        self.overwrite = overwrite
        self._atomic: contextlib.AbstractContextManager[str] | None = None
        self._ds: Any = None
        self._tmp = ""
        self._pending: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        self._next_row: dict[int, int] = {}
        self._pixels = 0

    def __enter__(self) -> RasterWriter:
        self._atomic = atomic_path(self.path, self.overwrite)
        self._tmp = self._atomic.__enter__()
        target = self._tmp + ".gtiff.tif" if self.spec.preset == "cog" else self._tmp
        try:
            with GDAL_LOCK, warnings.catch_warnings():
                # an ungeoreferenced output was asked for (allow_ungeoreferenced): no warning that it is one
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                self._ds = rasterio.open(target, "w", **self.spec.gtiff_profile())
        except (RasterioError, ValueError, TypeError) as exc:
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)
            raise OutputError(f"cannot create {self.path}: {one_line(exc)}") from None
        if self.spec.descriptions:
            for i, d in enumerate(self.spec.descriptions, start=1):
                if d:
                    self._ds.set_band_description(i, d)
        if self.spec.colorinterp and len(self.spec.colorinterp) == self.spec.count:
            self._ds.colorinterp = list(self.spec.colorinterp)  # beyond RGB photometric: NIR, gray, ...
        if self.spec.tags:
            self._ds.update_tags(**self.spec.tags)
        return self

    def write_rows(self, row_off: int, col_off: int, data: np.ndarray, valid: np.ndarray | None = None) -> None:
        """Write ``data`` (bands, n, w) at ``(row_off, col_off)``; ``valid`` (k, n, w) bool or None."""
        expected = self._next_row.get(col_off, 0)
        if row_off != expected:
            raise ValueError(f"rows must be written in order: expected {expected}, got {row_off}")
        if valid is None:
            valid = np.ones((1, *data.shape[1:]), dtype=bool)
        pending = self._pending.setdefault(col_off, [])
        pending.append((data, valid))
        self._next_row[col_off] = expected + data.shape[1]
        final = self._next_row[col_off] >= self.spec.height
        if final or sum(d.shape[1] for d, _ in pending) >= BLOCK:
            self._drain(col_off, final)

    __call__ = write_rows  # a RasterWriter is a RowSink

    def _drain(self, col_off: int, final: bool) -> None:
        pending = self._pending.pop(col_off)
        data = np.concatenate([d for d, _ in pending], axis=1) if len(pending) > 1 else pending[0][0]
        valid = np.concatenate([v for _, v in pending], axis=1) if len(pending) > 1 else pending[0][1]
        n = data.shape[1] if final else (data.shape[1] // BLOCK) * BLOCK
        top = self._next_row[col_off] - data.shape[1]
        window = Window(col_off, top, data.shape[2], n)
        try:
            with GDAL_LOCK:
                self._write_locked(data, valid, n, window)
        except RasterioError as exc:
            raise write_error(self.path, exc) from None
        self._pixels += n * data.shape[2]
        if n < data.shape[1]:
            self._pending[col_off] = [(data[:, n:], valid[:, n:])]

    def _write_locked(self, data: np.ndarray, valid: np.ndarray, n: int, window: Window) -> None:
        self._ds.write(data[:, :n], window=window)
        if self.spec.internal_mask:
            self._ds.write_mask(valid[:, :n].any(axis=0).astype(np.uint8) * 255, window=window)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self._atomic is not None
        try:
            if exc_type is None and self._pixels != self.spec.width * self.spec.height:
                raise OutputError(
                    f"internal error: {self._pixels} of {self.spec.width * self.spec.height} pixels "
                    f"written to {self.path}"
                )
            with GDAL_LOCK:
                self._ds.close()
            if exc_type is None and self.spec.preset == "cog":
                src = self._tmp + ".gtiff.tif"
                try:
                    verify_written(src, self.path)
                    rasterio.shutil.copy(src, self._tmp, driver="COG", **self.spec.cog_options())
                except RasterioError as err:  # not "exc": that is __exit__'s own argument
                    raise write_error(self.path, err) from None
                finally:
                    remove_written(src)
            elif self.spec.preset == "cog":
                remove_written(self._tmp + ".gtiff.tif")
            if exc_type is None:
                verify_written(self._tmp, self.path)
        except BaseException as inner:
            self._atomic.__exit__(type(inner), inner, inner.__traceback__)
            raise
        self._atomic.__exit__(exc_type, exc, tb)
