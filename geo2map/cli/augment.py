"""``geo2map augment``: translate every image/raster of a folder (a thin front on geo2map.augment)."""

from __future__ import annotations

import sys

import click

from geo2map.cli import options as opts


@click.command(short_help="Translate every image or raster in a folder (synthetic training variants).")
@click.option("-m", "--model", required=True, metavar="NAME|FILE", help="A built-in model name or a model file.")
@click.argument("in_dir", type=click.Path(file_okay=False))
@opts.positional_or_output("out_dir", folder=True)
@opts.bidx_opt
@opts.nodata_opt
@click.option("--device", default="auto", show_default=True)
@click.option("--precision", default="auto", show_default=True, type=click.Choice(["auto", "fp32", "bf16", "fp16"]))
@opts.overwrite_opt
@click.option("--quiet", "-q", is_flag=True)
def augment(
    model: str,
    in_dir: str,
    out_dir: str | None,
    output_opt: str | None,
    bidx: tuple[int, ...] | None,
    nodata: float | None,
    device: str,
    precision: str,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Translate every image or raster under IN_DIR with MODEL into OUT_DIR.

    Names and sub-folders are kept; GeoTIFFs keep their CRS and transform; PNG/JPEG
    images stay PNG/JPEG when the output is 8-bit with 1 or 3 bands.
    """
    out_dir = opts.pick_output(out_dir, output_opt, "geo2map augment -m MODEL IN_DIR -o OUT_DIR")
    from geo2map.augment import augment_folder

    options = {k: v for k, v in {"bidx": bidx, "nodata": nodata}.items() if v is not None}
    with opts.progress_bar("augmenting", not quiet) as progress:
        res = augment_folder(
            in_dir,
            out_dir,
            model,
            overwrite=overwrite,
            progress=progress,
            device=device,
            precision=precision,
            **options,
        )
    for name, err in sorted(res.failed.items()):
        click.echo(f"failed  {name}: {opts.cli_words(err)}", err=True)
    click.echo(f"{len(res.written)} written to {out_dir}, {len(res.failed)} failed")
    if res.failed:
        sys.exit(1)
