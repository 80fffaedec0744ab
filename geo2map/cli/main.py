"""The ``geo2map`` command line: a click group whose commands are thin fronts on the library.

Heavy imports (rasterio, geopandas, torch) happen inside the commands, so
``geo2map --help`` and ``geo2map --version`` are instant. Every expected error
becomes one line on stderr and exit code 1; Ctrl-C and SIGTERM exit with 130/143
after the library has removed any temporary output.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import warnings
from importlib.metadata import entry_points
from typing import Any

import click

from geo2map._version import __version__
from geo2map.cli.stderr_filter import libtiff_lines_dropped

# torch's OpenMP threads spin between parallel regions by default. On a machine where anything
# else runs (a training, a second translate, Dask workers, QGIS) the spinning threads take the
# cores from it: a 6.5 s translate test took 68-300 s beside a training run, 12 s with PASSIVE.
# Quiet, PASSIVE costs about 3 % end to end (docs/benchmarks.md). Read when torch loads libgomp,
# so it is set here, before any command imports torch; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class Geo2MapGroup(click.Group):
    """Runs commands with one-line errors and lazily loads plugin commands."""

    def invoke(self, ctx: click.Context) -> Any:
        terminated = []

        def on_sigterm(signum: int, frame: Any) -> None:
            terminated.append(signum)
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, on_sigterm)
        # GDAL's messages reach Python's logging through rasterio; with no handler configured, Python
        # prints each one ("_tiffWriteProc: No space left on device." many times). Errors become
        # exceptions, which the CLI reports in one line, so the log records themselves are dropped.
        logging.getLogger("rasterio").addHandler(logging.NullHandler())
        # The library already explains missing georeference itself (--allow-ungeoreferenced).
        for message in (".*Affine.identity.*", "Dataset has no geotransform", "'crs' was not provided"):
            warnings.filterwarnings("ignore", message=message)
        try:
            with libtiff_lines_dropped():
                return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("Error: interrupted; no half-written output was left behind", err=True)
            sys.exit(143 if terminated else 130)  # 128 + SIGTERM (15) or SIGINT (2), as shells report them
        except ImportError as exc:
            if exc.name not in ("torch", "torchmetrics", "safetensors", "onnx", "onnxruntime"):
                raise
            extra = "onnx" if exc.name.startswith("onnx") else "torch"
            click.echo(
                f"Error: geo2map {ctx.invoked_subcommand} needs {exc.name}, which is not installed: "
                f"pip install 'geo2map[{extra}]'"
                + (" (a CPU-only or CUDA build of torch)" if extra == "torch" else ""),
                err=True,
            )
            sys.exit(1)
        except Exception as exc:  # noqa: BLE001 - the CLI boundary
            from geo2map.errors import Geo2MapError, one_line

            known = isinstance(exc, Geo2MapError | OSError | ValueError | MemoryError)
            try:
                from rasterio.errors import RasterioError

                known = known or isinstance(exc, RasterioError)
            except ImportError:  # pragma: no cover
                pass
            if not known:
                raise
            from geo2map.cli.options import cli_words

            click.echo(f"Error: {cli_words(one_line(exc))}", err=True)
            sys.exit(1)
        finally:
            signal.signal(signal.SIGTERM, previous)

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        names.update(ep.name for ep in entry_points(group="geo2map.commands"))
        return sorted(names)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        if cmd is not None:
            return cmd
        for ep in entry_points(group="geo2map.commands"):
            if ep.name == name:
                return ep.load()  # type: ignore[no-any-return]
        return None


@click.group(cls=Geo2MapGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="geo2map")
def cli() -> None:
    """Translate geospatial rasters (SAR, optical, DSM) with image-to-image networks.

    Rasters are cut into overlapping georeferenced tiles, translated, and blended
    back onto exactly the source grid (CRS, transform, size), tile rows streaming
    through memory so scenes larger than RAM work.
    """


from geo2map.cli import augment as _augment  # noqa: E402
from geo2map.cli import batch as _batch  # noqa: E402
from geo2map.cli import evaluate as _evaluate  # noqa: E402
from geo2map.cli import models as _models  # noqa: E402
from geo2map.cli import mosaic as _mosaic  # noqa: E402
from geo2map.cli import qgis as _qgis  # noqa: E402
from geo2map.cli import tile as _tile  # noqa: E402
from geo2map.cli import train as _train  # noqa: E402
from geo2map.cli import translate as _translate  # noqa: E402

cli.add_command(_tile.tile)
cli.add_command(_mosaic.mosaic)
cli.add_command(_models.models)
cli.add_command(_train.train)
cli.add_command(_translate.translate)
cli.add_command(_batch.batch)
cli.add_command(_evaluate.evaluate)
cli.add_command(_augment.augment)
cli.add_command(_qgis.qgis)
