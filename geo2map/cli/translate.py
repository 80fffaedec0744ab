"""``geo2map translate``: translate a raster with a model (a thin front on translate_raster)."""

from __future__ import annotations

from typing import Any

import click

from geo2map.cli import options as opts


@click.command(short_help="Translate a raster with a model (SAR → optical, photo → map, ...).")
@click.argument("src", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The GeoTIFF to write.")
@click.option(
    "-m",
    "--model",
    required=True,
    metavar="NAME|FILE",
    help="A built-in model name ('geo2map models list'; 'identity' checks the pipeline) or a .safetensors model file.",
)
@opts.bidx_opt
@opts.nodata_opt
@opts.dst_crs_opt
@opts.allow_ungeo_opt
@opts.resample_opt
@click.option("--tile-size", type=click.IntRange(min=1), default=None, help="Tile size (default: the model card's).")
@click.option(
    "--overlap",
    type=click.IntRange(min=0),
    default=None,
    help="Overlap between tiles in pixels (default and minimum: the model card's recommendation).",
)
@opts.blend_opt
@opts.palette_opt
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Tiles per batch (default: 32 on GPU; on CPU 4 tiles of 256 px, 1 of 640).",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option(
    "--precision",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "fp32", "bf16", "fp16"]),
    help="auto: bf16 autocast on GPUs that support it and on CPUs with AMX, fp32 elsewhere.",
)
@opts.output_options
@opts.overwrite_opt
@opts.quicklook_option("Also write a PNG with input | output side by side.")
@click.option("--quiet", "-q", is_flag=True, default=False, help="No progress bar or summary.")
@click.option(
    "--progress-lines",
    is_flag=True,
    hidden=True,
    help="Machine-readable progress on stderr ('geo2map-progress DONE TOTAL' lines), for front ends like QGIS.",
)
def translate(
    src: str,
    output: str,
    model: str,
    bidx: tuple[int, ...] | None,
    nodata: float | None,
    dst_crs: str | None,
    allow_ungeoreferenced: bool,
    resample: str,
    tile_size: int | None,
    overlap: int | None,
    blend: str,
    palette: bool,
    batch_size: int | None,
    device: str,
    precision: str,
    write_options: dict[str, Any],
    overwrite: bool,
    quicklook: str | None,
    quiet: bool,
    progress_lines: bool,
) -> None:
    """Translate SRC with MODEL into OUTPUT on exactly SRC's grid (CRS, transform, size).

    The model's card gives the bands it expects, how raw values are scaled (with
    statistics of the whole scene), the tile size and the overlap; nodata in SRC
    stays nodata in OUTPUT.

    \b
    geo2map translate s1_vh.tif --model sar2rgb -o rgb.tif --quicklook rgb.png
    geo2map translate stack.vrt --model my_model.safetensors --bidx 4,3,2 -o out.tif --cog
    """
    from geo2map.translate import translate_raster

    with opts.progress_bar("translating", not quiet and not progress_lines) as bar:
        progress = _line_progress if progress_lines else bar
        result = translate_raster(
            src,
            output,
            model,
            bidx=bidx,
            nodata=nodata,
            dst_crs=dst_crs,
            allow_ungeoreferenced=allow_ungeoreferenced,
            resample=resample,
            tile_size=tile_size,
            overlap=overlap,
            blend=blend,
            palette=palette,
            batch_size=batch_size,
            device=device,
            precision=precision,
            **write_options,
            overwrite=overwrite,
            quicklook=quicklook,
            progress=progress,
        )
    for note in result.notes:
        click.echo(f"note: {opts.cli_words(note)}", err=True)
    if not quiet:
        click.echo(
            f"wrote {result.path}: {result.translated} tiles translated, {result.skipped} empty skipped, "
            f"{result.seconds:.1f} s on {result.device} ({result.precision})"
        )
        if result.quicklook:
            click.echo(f"quicklook {result.quicklook}")


def _line_progress(done: int, total: int | None) -> None:
    click.echo(f"geo2map-progress {done} {total}", err=True)
