"""``geo2map batch``: translate a raster archive on Dask (a thin front on geo2map.batch.run_batch)."""

from __future__ import annotations

import sys
from typing import Any

import click

from geo2map.cli.options import (
    bidx_opt,
    blend_opt,
    cli_words,
    nodata_opt,
    output_options,
    progress_bar,
    resample_opt,
)


@click.command(short_help="Translate many rasters on Dask: resumable, one task per scene.")
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "-o", "--out-dir", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder."
)
@click.option("-m", "--model", required=True, metavar="NAME|FILE", help="A built-in model name or a model file.")
@click.option("--asset", default=None, help="STAC input: the asset key to translate (default: the data asset).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Local cluster: worker processes.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="Tasks per worker process.")
@click.option(
    "--scheduler", default=None, metavar="ADDRESS", help="Use an existing Dask cluster, e.g. tcp://host:8786."
)
@click.option("--retry-failed", is_flag=True, help="Run scenes that failed in an earlier run again.")
@click.option("--overwrite", is_flag=True, help="Replace outputs not written by this batch configuration.")
@bidx_opt
@nodata_opt
@blend_opt
@resample_opt
@click.option("--tile-size", type=click.IntRange(min=1), default=None)
@click.option("--overlap", type=click.IntRange(min=0), default=None)
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Tiles per network batch.")
@click.option(
    "--device", default="auto", show_default=True, help="auto, cpu, cuda (tasks then ask for a GPU resource)."
)
@click.option("--precision", default="auto", show_default=True, type=click.Choice(["auto", "fp32", "bf16", "fp16"]))
@output_options
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def batch(
    inputs: tuple[str, ...],
    out_dir: str,
    model: str,
    asset: str | None,
    workers: int | None,
    threads: int,
    scheduler: str | None,
    retry_failed: bool,
    overwrite: bool,
    bidx: tuple[int, ...] | None,
    nodata: float | None,
    blend: str,
    resample: str,
    tile_size: int | None,
    overlap: int | None,
    batch_size: int | None,
    device: str,
    precision: str,
    write_options: dict[str, Any],
    quiet: bool,
) -> None:
    """Translate every raster of INPUTS into OUT_DIR with MODEL, one Dask task per scene.

    INPUTS are folders (searched recursively), globs, text files listing paths, or
    STAC ItemCollection/catalog JSON files. Output names mirror the inputs. A rerun
    skips finished scenes (state in OUT_DIR/geo2map-batch.sqlite); failed scenes
    are reported and make the exit code 1.

    \b
    geo2map batch archive/ -o out/ --model sar2rgb --nodata 0
    geo2map batch "scenes/*.tif" items.json -o out/ --model m.safetensors --scheduler tcp://10.0.0.5:8786
    """
    from geo2map.batch import run_batch

    options = {
        "bidx": None if bidx is None else ",".join(map(str, bidx)),  # as before: resumable batches keep their keys
        "nodata": nodata,
        "blend": blend,
        "resample": None if resample == "auto" else resample,  # the default stays out of the key, as before
        "tile_size": tile_size,
        "overlap": overlap,
        "batch_size": batch_size,
        "device": device,
        "precision": precision,
        "preset": write_options["preset"],
        "creation_options": write_options["creation_options"] or None,  # none given: left out, as before
    }
    options = {k: v for k, v in options.items() if v is not None}
    with progress_bar("scenes", not quiet, unit="scene") as progress:
        summary = run_batch(
            list(inputs),
            out_dir,
            model,
            asset=asset,
            workers=workers,
            threads=threads,
            scheduler=scheduler,
            retry_failed=retry_failed,
            overwrite=overwrite,
            translate_options=options,
            progress=progress,
            log=None if quiet else lambda msg: click.echo(msg, err=True),
        )
    for name, err in sorted(summary.failed.items()):
        click.echo(f"failed  {name}: {cli_words(err)}", err=True)
    click.echo(
        f"{len(summary.done)} done, {len(summary.skipped)} skipped (already complete), "
        f"{len(summary.failed)} failed in {summary.seconds:.1f} s; outputs and footprints.gpkg in {summary.out_dir}"
    )
    if summary.failed:
        sys.exit(1)
