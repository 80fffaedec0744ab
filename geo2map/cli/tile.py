"""``geo2map tile``: cut a raster (and optionally its pair) into georeferenced tiles."""

from __future__ import annotations

import click

from geo2map.cli import options as opts


@click.command(short_help="Cut a raster into overlapping GeoTIFF tiles + tiles.gpkg.")
@click.argument("src", type=click.Path(dir_okay=False))
@opts.positional_or_output("out_dir", folder=True)
@click.option("--size", default=256, show_default=True, type=click.IntRange(min=1), help="Tile size (pixels).")
@click.option(
    "--overlap",
    default=64,
    show_default=True,
    type=click.IntRange(min=0),
    help="Pixels shared by neighbouring tiles (< size).",
)
@opts.bidx_opt
@opts.nodata_opt
@click.option(
    "--pair",
    type=click.Path(dir_okay=False),
    default=None,
    help="A second raster cut into the same windows (resampled onto SRC's grid if needed); "
    "tiles then go to OUT_DIR/A and OUT_DIR/B.",
)
@opts.pair_bidx_opt
@click.option(
    "--pair-resampling",
    default="bilinear",
    show_default=True,
    type=click.Choice(["nearest", "bilinear", "cubic", "average", "lanczos", "mode"]),
    help="Resampling when the pair is on another grid (nearest for classes).",
)
@opts.quicklook_option("Also write a PNG of the scene with the tile grid drawn on it.")
@click.option("--keep-empty", is_flag=True, default=False, help="Also write tiles with no valid pixel.")
@opts.dst_crs_opt
@opts.allow_ungeo_opt
@opts.overwrite_opt
@click.option("--quiet", "-q", is_flag=True, default=False, help="No progress bar.")
def tile(
    src: str,
    out_dir: str | None,
    output_opt: str | None,
    size: int,
    overlap: int,
    bidx: tuple[int, ...] | None,
    nodata: float | None,
    pair: str | None,
    pair_bidx: tuple[int, ...] | None,
    pair_resampling: str,
    quicklook: str | None,
    keep_empty: bool,
    dst_crs: str | None,
    allow_ungeoreferenced: bool,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Cut SRC into SIZE x SIZE tiles overlapping by OVERLAP pixels, written to OUT_DIR.

    Every tile is full-size: the last row/column of tiles is shifted inward to end on
    the raster edge; a raster smaller than one tile is padded (padding is nodata).
    Tiles with no valid pixel are skipped. OUT_DIR/tiles.gpkg holds one footprint
    polygon per tile with its row, col, window and file name.
    """
    out_dir = opts.pick_output(out_dir, output_opt, "geo2map tile SRC -o OUT_DIR")
    from geo2map.tile_folder import tile_raster

    with opts.progress_bar("tiling", not quiet) as progress:
        result = tile_raster(
            src,
            out_dir,
            size=size,
            overlap=overlap,
            bidx=bidx,
            nodata=nodata,
            pair=pair,
            pair_bidx=pair_bidx,
            pair_resampling=pair_resampling,
            dst_crs=dst_crs,
            allow_ungeoreferenced=allow_ungeoreferenced,
            skip_empty=not keep_empty,
            overwrite=overwrite,
            quicklook=quicklook,
            progress=progress,
        )
    rows, cols = result.grid.shape
    click.echo(
        f"{result.written} tiles written ({rows}x{cols} grid, {result.skipped} empty skipped); "
        f"index: {result.index_path}"
    )
