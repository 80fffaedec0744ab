"""Output safety: nothing half-written kept, nothing of the user's destroyed.

* Temporary outputs carry the writing process's id (``.NAME.PID.XXXX.geo2map-tmp*``):
  :func:`remove_stale_temps` removes those of ``NAME`` whose process is gone (a
  ``kill -9`` leaves them), never one of a live process.
* :func:`verify_written` reads a just-written raster back before it is renamed into
  place: GDAL reports some write errors (a full disk) only through its error
  handler while the write call itself succeeds.
* :func:`check_side_output` and :func:`check_output_folder` keep a quick-look or an
  output folder from replacing or deleting an input, or the main output.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.windows import Window

from geo2map.errors import InputError, OutputError, OutputExistsError, one_line
from geo2map.raster.gdal_lock import GDAL_LOCK

#: a path as the library takes it
PathLike = str | os.PathLike[str]

TMP_SUFFIX = ".geo2map-tmp.tif"
DIR_SUFFIX = ".geo2map-tmp"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, killed but not yet reaped by its parent, does not)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (OSError, IndexError):  # no /proc (macOS, Windows): kill(pid, 0) said it exists
        return True


def _temps(path: str | os.PathLike[str], suffix: str) -> list[str]:
    """Every temporary file (or folder) for ``path``, whoever writes it."""
    folder, base = os.path.split(os.path.abspath(path))
    return glob.glob(os.path.join(glob.escape(folder), f".{glob.escape(base)}.*{suffix}*"))


def stale_temps(path: str | os.PathLike[str], suffix: str = TMP_SUFFIX) -> list[str]:
    """Temporary files (or folders) for ``path`` whose writing process no longer runs."""
    base = os.path.basename(os.path.abspath(path))
    pattern = re.compile(re.escape(f".{base}.") + r"(\d+)\.")
    out = []
    for tmp in _temps(path, suffix):
        m = pattern.match(os.path.basename(tmp))
        if m and not _alive(int(m.group(1))):
            out.append(tmp)
    return out


def remove_stale_temps(path: str | os.PathLike[str], suffix: str = TMP_SUFFIX, *, only_dead: bool = True) -> None:
    """Remove what killed writers of ``path`` left (see :func:`stale_temps`); live writers' files stay.

    ``only_dead=False`` removes every temporary of ``path``, for a caller that knows it is the only
    writer (``batch``: its manifest gives each scene to one worker, possibly on another host, whose
    process ids mean nothing here).
    """
    for tmp in stale_temps(path, suffix) if only_dead else _temps(path, suffix):
        try:
            if os.path.isdir(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                os.unlink(tmp)
        except OSError:
            pass


def same_or_inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies under it (links resolved)."""
    p, f = os.path.realpath(path), os.path.realpath(folder)
    return p == f or p.startswith(f.rstrip(os.sep) + os.sep)


def check_side_output(
    path: str | os.PathLike[str],
    overwrite: bool,
    *,
    inputs: Iterable[PathLike | None] = (),
    outputs: Iterable[PathLike | None] = (),
) -> str:
    """A second output (a quick-look PNG) obeys the main output's rules (its folder may still be to
    come: ``tile out/tiles --quicklook out/tiles.png`` creates ``out/``), and is none of the files
    the command reads or writes."""
    path = os.fspath(path)
    for other, what in [*((i, "an input") for i in inputs), *((o, "the output") for o in outputs)]:
        if other is not None and os.path.realpath(os.fspath(other)) == os.path.realpath(path):
            raise InputError(f"the quick-look {path} would replace {what}; give it its own file name")
    if os.path.isdir(path):
        raise OutputError(f"quick-look {path} is a folder; give a file name such as out.png")
    if os.path.exists(path) and not overwrite:
        raise OutputExistsError(f"output {path} exists; pass overwrite=True to replace it")
    return path


def check_raster_output(path: str | os.PathLike[str], overwrite: bool) -> str:
    """The main output's rules (:func:`~geo2map.raster.write.check_output_path`), and a GeoTIFF name:
    geo2map streams tiled GeoTIFF (or COG), which a ``.png`` or ``.jpg`` name would misrepresent."""
    from rasterio.drivers import driver_from_extension

    from geo2map.raster.write import check_output_path

    path = check_output_path(path, overwrite)
    ext = os.path.splitext(path)[1].lower()
    try:
        driver = driver_from_extension(path) if ext else "GTiff"
    except ValueError:
        driver = "GTiff"  # an extension GDAL does not know: the file is a GeoTIFF
    if driver not in ("GTiff", "COG"):
        raise InputError(
            f"output {path}: geo2map writes GeoTIFF (.tif); convert afterwards for {driver}, "
            f"e.g. gdal_translate -of {driver} out.tif {os.path.basename(path)}"
        )
    return path


def check_output_folder(out_dir: str | os.PathLike[str], inputs: Iterable[PathLike | None]) -> None:
    """Refuse an output folder that is, or contains, an input (replacing it would delete the input;
    a later run would read its own outputs)."""
    out_dir = os.fspath(out_dir)
    for src in inputs:
        if src is None:
            continue
        src = os.fspath(src)
        if os.path.exists(src) and same_or_inside(src, out_dir):
            raise OutputError(f"output folder {out_dir} contains the input {src}; choose a folder outside it")


def verify_written(tmp: str, path: str) -> None:
    """Read back every block of a just-written raster: GDAL reports some write errors (a full disk)
    only through its error handler, while the call itself succeeds and leaves a truncated file.

    Raises:
        OutputError: The file cannot be read back in full.
    """
    try:
        with GDAL_LOCK, rasterio.open(tmp) as ds:
            step = max(1, (64 << 20) // max(1, ds.width * ds.count * np.dtype(ds.dtypes[0]).itemsize))
            for row in range(0, ds.height, step):
                ds.read(window=Window(0, row, ds.width, min(step, ds.height - row)))
    except RasterioError as exc:
        raise write_error(path, exc, "the written file does not read back; nothing was kept") from None


def remove_written(path: str) -> None:
    """Remove a GeoTIFF we wrote and its side files (plain unlinks: a truncated file cannot be opened)."""
    for p in (path, path + ".aux.xml", path + ".msk"):
        if os.path.exists(p):
            os.unlink(p)


def write_error(path: str, exc: BaseException, what: str = "nothing was kept") -> OutputError:
    """A one-line :class:`OutputError` for a failed write, saying so when the disk is full
    (GDAL's own message is then "Write failed. See previous exception")."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        full = shutil.disk_usage(folder).free < (1 << 20)
    except OSError:
        full = False
    why = "no space left on the device" if full else one_line(exc)
    return OutputError(f"cannot write {path}: {why} ({what})")


@contextmanager
def removed_on_error(folder: str | os.PathLike[str]) -> Iterator[str]:
    """Create ``folder`` if needed; if the block fails, remove what it added there (and the
    folder, when it made it), so a failed run leaves nothing that looks like a result."""
    folder = os.fspath(folder)
    made = not os.path.exists(folder)
    os.makedirs(folder, exist_ok=True)
    before = set(os.listdir(folder))
    try:
        yield folder
    except BaseException:
        for name in set(os.listdir(folder)) - before:
            target = os.path.join(folder, name)
            shutil.rmtree(target, ignore_errors=True) if os.path.isdir(target) else os.remove(target)
        if made and not os.listdir(folder):
            os.rmdir(folder)
        raise
