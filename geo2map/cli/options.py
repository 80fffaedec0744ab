"""Options shared by several commands, defined once (rio's names where rio has one)."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from geo2map.progress import Progress

F = Callable[..., Any]


def _bidx(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...] | None:
    """``--bidx 3,2,1`` → ``(3, 2, 1)`` (the library's parser and message; ranges are checked on the raster)."""
    from geo2map.raster.open import parse_bidx

    bands = parse_bidx(value)
    return None if bands is None else tuple(bands)


def bands_option(name: str, help: str) -> Callable[[F], F]:
    """A band-list option (``--bidx``, ``--pair-bidx``) parsed to a tuple of 1-based band numbers."""
    return click.option(name, default=None, callback=_bidx, metavar="LIST", help=help)


bidx_opt = bands_option("--bidx", "1-based bands to read, e.g. 3,2,1 (default: all bands except alpha).")
pair_bidx_opt = bands_option("--pair-bidx", "Bands of the --pair raster.")
overwrite_opt = click.option("--overwrite", is_flag=True, default=False, help="Replace the output if it exists.")


def _creation_options(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> dict[str, str]:
    """``--co ZLEVEL=9 --co PREDICTOR=2`` → ``{"zlevel": "9", "predictor": "2"}`` (checked by GDAL later)."""
    from geo2map.raster.write import parse_creation_options

    return parse_creation_options(value)


creation_options_opt = click.option(
    "--co",
    "creation_options",
    multiple=True,
    callback=_creation_options,
    metavar="NAME=VALUE",
    help="GDAL creation option for the output (repeatable), e.g. --co ZLEVEL=9.",
)
blend_opt = click.option(
    "--blend",
    default="cosine",
    show_default=True,
    type=click.Choice(["cosine", "linear", "none"]),
    help="How overlapping tiles are blended: cosine window, linear feather, or none "
    "(each pixel from the tile whose centre is nearest).",
)


def _nodata(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """A finite number or NaN: an infinite nodata value is refused."""
    if value is not None and math.isinf(value):
        from geo2map.errors import InputError

        raise InputError(f"nodata={value} is infinite; give a number or nan")
    return value


nodata_opt = click.option(
    "--nodata",
    type=float,
    default=None,
    callback=_nodata,
    metavar="NUMBER|nan",
    help="Treat this value as nodata in the input (e.g. 0 for Sentinel-1 GRD borders), "
    "overriding the raster's own nodata.",
)


def _crs(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Check ``--dst-crs`` before any work (PROJ's own message on stderr is kept out)."""
    if value is None:
        return None
    from geo2map.errors import InputError
    from geo2map.raster.georef import parse_crs

    try:
        parse_crs(value)
    except InputError:
        raise InputError(
            f"dst_crs={value!r} is not a CRS GDAL understands (try an EPSG code, e.g. EPSG:32633)"
        ) from None
    return value


palette_opt = click.option(
    "--palette/--no-palette",
    default=True,
    show_default=True,
    help="Snap output colours near the model card's palette (map renderings: 'geo2map models info') to it.",
)
resample_opt = click.option(
    "--resample",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "off"]),
    help="auto: a scene whose pixels are more than 1.5x off the model's training pixel size is translated "
    "at the model's pixel size (averaged down, or brought up to 4x), then resampled back onto its grid. "
    "off: translate on the scene's own pixels.",
)
dst_crs_opt = click.option(
    "--dst-crs",
    default=None,
    callback=_crs,
    metavar="CRS",
    help="CRS to warp GCP-only rasters (raw Sentinel-1) onto, e.g. EPSG:32633 "
    "(default: the UTM zone of the scene centre).",
)
allow_ungeo_opt = click.option(
    "--allow-ungeoreferenced",
    is_flag=True,
    default=False,
    help="Accept a raster with no CRS, geotransform or GCPs (pixel coordinates).",
)
format_opt = click.option(
    "--format",
    "preset",
    default="deflate",
    show_default=True,
    type=click.Choice(["deflate", "zstd", "cog"]),
    help="Output preset: tiled GeoTIFF (512 blocks) with DEFLATE (level 1) or ZSTD, or COG.",
)
cog_opt = click.option(
    "--cog",
    is_flag=True,
    default=False,
    help="Write a Cloud Optimized GeoTIFF (same as --format cog).",
)


def output_options(f: F) -> F:
    """``--format``, ``--cog`` and ``--co`` for a command writing a raster: the command receives
    ``write_options``, the library's ``preset`` (``--cog`` folded in) and ``creation_options`` (a dict)."""

    @functools.wraps(f)
    def command(*args: Any, preset: str, cog: bool, creation_options: dict[str, str], **kwargs: Any) -> Any:
        if cog and preset not in ("deflate", "cog"):
            raise click.UsageError(f"--cog and --format {preset} contradict each other; give one")
        write = {"preset": "cog" if cog else preset, "creation_options": creation_options}
        return f(*args, write_options=write, **kwargs)

    return format_opt(cog_opt(creation_options_opt(command)))  # type: ignore[no-any-return]


def quicklook_option(help: str) -> Callable[[F], F]:
    """``--quicklook PNG``: a picture a person can judge, beside the output."""
    return click.option("--quicklook", type=click.Path(dir_okay=False), default=None, help=help)


@contextmanager
def progress_bar(desc: str, enabled: bool = True, unit: str = "tile") -> Iterator[Progress | None]:
    """A tqdm bar on stderr driven by the library's ``progress(done, total)`` callback.

    It shows only after half a second, so quick runs and early one-line errors print no bar,
    and only on a terminal: in a log file a bar's carriage returns glue lines together.
    """
    from geo2map.cli.stderr_filter import stderr_is_terminal, terminal_columns

    if not enabled or not stderr_is_terminal():
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit=unit, ncols=terminal_columns(), leave=False, delay=0.5)

    def update(done: int, total: int | None) -> None:
        if bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh() if done == total else bar.update(0)

    try:
        yield update
    finally:
        bar.close()


#: library parameter names whose messages the CLI words as its flags (``overwrite=True`` → ``--overwrite``)
_FLAG_NAMES = {
    name: "--" + name.replace("_", "-")
    for name in (
        "allow_ungeoreferenced",
        "arch",
        "asset",
        "bidx",
        "data",
        "device",
        "dropout",
        "dst_crs",
        "in_bands",
        "mode",
        "ngf",
        "norm",
        "out_bands",
        "overwrite",
        "pair",
        "precision",
        "resample",
        "resume",
        "retry_failed",
    )
} | {"out_dir": "--out"}  # train's run folder
_FLAG_WORDS = re.compile(r"\b(" + "|".join(_FLAG_NAMES) + r")=(True\b|False\b)?")


def cli_words(message: str) -> str:
    """A library message worded for the command line: ``bidx=1`` → ``--bidx 1``,
    ``overwrite=True`` → ``--overwrite``, ``resume=False`` → ``--no-resume``."""

    def flag(m: re.Match[str]) -> str:
        name = _FLAG_NAMES[m.group(1)]
        if m.group(2) == "True":
            return name
        if m.group(2) == "False":
            return "--no-" + name[2:]
        return name + " "

    return _FLAG_WORDS.sub(flag, message)


def positional_or_output(name: str, folder: bool) -> Callable[[F], F]:
    """An optional positional ``NAME`` that ``-o/--output`` may give instead (the old form keeps working)."""

    def deco(f: F) -> F:
        kind = click.Path(file_okay=not folder, dir_okay=folder)
        f = click.option(
            "-o",
            "--output",
            "output_opt",
            type=kind,
            default=None,
            help=f"The output {'folder' if folder else 'raster'}.",
        )(f)
        return click.argument(name, type=kind, required=False)(f)

    return deco


def pick_output(positional: str | None, option: str | None, usage: str) -> str:
    """The output given as a positional argument or as ``-o``, once."""
    if positional and option and positional != option:
        raise click.UsageError("give the output once: as a positional argument or as -o")
    chosen = positional or option
    if not chosen:
        raise click.UsageError(f"missing the output: {usage}")
    return chosen
