"""``geo2map mosaic``: rebuild a raster from a tile folder and its tiles.gpkg."""

from __future__ import annotations

from typing import Any

import click

from geo2map.cli import options as opts


@click.command(short_help="Blend a tile folder back into one raster.")
@click.argument("tile_dir", type=click.Path(file_okay=False))
@opts.positional_or_output("output", folder=False)
@click.option(
    "--which",
    default="A",
    show_default=True,
    type=click.Choice(["A", "B"]),
    help="For a --pair folder: the source tiles (A) or the pair's (B).",
)
@opts.blend_opt
@opts.output_options
@opts.overwrite_opt
@click.option("--quiet", "-q", is_flag=True, default=False, help="No progress bar.")
def mosaic(
    tile_dir: str,
    output: str | None,
    output_opt: str | None,
    which: str,
    blend: str,
    write_options: dict[str, Any],
    overwrite: bool,
    quiet: bool,
) -> None:
    """Blend the tiles of TILE_DIR (made by 'geo2map tile') into OUTPUT (or -o OUTPUT).

    The output has exactly the grid the tiles were cut from (CRS, transform, size);
    pixels no valid tile covers are nodata.
    """

    output = opts.pick_output(output, output_opt, "geo2map mosaic TILE_DIR -o OUTPUT")
    from geo2map.tile_folder import mosaic_tiles

    with opts.progress_bar("mosaicking", not quiet) as progress:
        mosaic_tiles(
            tile_dir,
            output,
            which=which,
            blend=blend,
            **write_options,
            overwrite=overwrite,
            progress=progress,
        )
    click.echo(f"wrote {output}")
