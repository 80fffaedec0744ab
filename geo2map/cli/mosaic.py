"""``geo2map mosaic``: rebuild a raster from a tile folder and its tiles.gpkg."""

from __future__ import annotations

import click

from geo2map.cli.options import (
    blend_opt,
    output_options,
    overwrite_opt,
    pick_output,
    positional_or_output,
    progress_bar,
)


@click.command(short_help="Blend a tile folder back into one raster.")
@click.argument("tile_dir", type=click.Path(file_okay=False))
@positional_or_output("output", folder=False)
@click.option(
    "--which",
    default="A",
    show_default=True,
    type=click.Choice(["A", "B"]),
    help="For a --pair folder: the source tiles (A) or the pair's (B).",
)
@blend_opt
@output_options
@overwrite_opt
@click.option("--quiet", "-q", is_flag=True, default=False, help="No progress bar.")
def mosaic(
    tile_dir: str,
    output: str | None,
    output_opt: str | None,
    which: str,
    blend: str,
    preset: str,
    creation_options: dict[str, str],
    overwrite: bool,
    quiet: bool,
) -> None:
    """Blend the tiles of TILE_DIR (made by 'geo2map tile') into OUTPUT (or -o OUTPUT).

    The output has exactly the grid the tiles were cut from (CRS, transform, size);
    pixels no valid tile covers are nodata.
    """

    output = pick_output(output, output_opt, "geo2map mosaic TILE_DIR -o OUTPUT")
    from geo2map.tile_folder import mosaic_tiles

    with progress_bar("mosaicking", not quiet) as progress:
        mosaic_tiles(
            tile_dir,
            output,
            which=which,
            blend=blend,
            preset=preset,  # type: ignore[arg-type]
            creation_options=creation_options,
            overwrite=overwrite,
            progress=progress,
        )
    click.echo(f"wrote {output}")
