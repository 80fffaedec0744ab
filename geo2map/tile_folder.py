"""The tile-folder format behind ``geo2map tile`` and ``geo2map mosaic``.

* :func:`tile_raster` writes each tile as a GeoTIFF plus ``tiles.gpkg``, and with ``pair``
  cuts a second raster (resampled onto the first's grid when the grids differ) into the
  same windows: the ``A/`` + ``B/`` training-pair layout.
* :func:`read_tile_index` reads the index and the grid; :func:`mosaic_tiles` rebuilds the
  raster from such a folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import ColorInterp
from rasterio.errors import RasterioError
from rasterio.transform import Affine
from rasterio.windows import Window

from geo2map.errors import InputError, OutputError, OutputExistsError, RasterReadError, one_line
from geo2map.mosaic.blend import BlendMethod
from geo2map.mosaic.stream import stream_mosaic
from geo2map.progress import Progress
from geo2map.raster.background_writer import BackgroundWriter
from geo2map.raster.gdal_cache import block_cache_env
from geo2map.raster.gdal_lock import GDAL_LOCK
from geo2map.raster.open import RasterSource, open_raster
from geo2map.raster.output_policy import output_masking
from geo2map.raster.pair import PairReader
from geo2map.raster.safety import (
    DIR_SUFFIX,
    check_output_folder,
    check_raster_output,
    check_side_output,
    remove_stale_temps,
)
from geo2map.raster.tile_reader import TileStream, iter_tiles
from geo2map.raster.tiling import Tile, TileGrid
from geo2map.raster.write import OutputSpec, Preset, RasterWriter, gtiff_layout, usual_mode

INDEX_NAME = "tiles.gpkg"
GRID_KEY = "GEO2MAP_GRID"


# ---------------------------------------------------------------------------
# geo2map tile
# ---------------------------------------------------------------------------
@dataclass
class TileResult:
    """What :func:`tile_raster` wrote."""

    out_dir: str
    index_path: str
    written: int
    skipped: int
    grid: TileGrid


def _tile_profile(source: Any, tile: Tile, count: int, dtype: str, nodata: float | None) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "width": tile.width,
        "height": tile.height,
        "count": count,
        "dtype": dtype,
        "crs": source.crs,
        "transform": tile.transform,
        "nodata": nodata,
        "compress": "deflate",
        "predictor": 3 if np.dtype(dtype).kind == "f" else 2,
    }
    if tile.width % 16 == 0 and tile.height % 16 == 0:
        profile.update(tiled=True, blockxsize=min(tile.width, 256), blockysize=min(tile.height, 256))
    return profile


def _write_tile(
    path: str,
    profile: dict[str, Any],
    data: np.ndarray,
    valid: np.ndarray | None,
    internal_mask: bool,
    meta: tuple[list[Any], list[Any], dict[str, str]],
) -> None:
    descriptions, colorinterp, tags = meta
    profile = {**profile, **gtiff_layout(colorinterp, profile["count"], internal_mask)}
    with GDAL_LOCK, rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        if internal_mask:
            mask = np.ones(data.shape[1:], bool) if valid is None else valid.any(axis=0)
            dst.write_mask(mask.astype(np.uint8) * 255)
        for i, d in enumerate(descriptions, start=1):
            if d:
                dst.set_band_description(i, d)
        if tags:
            dst.update_tags(**tags)


def _prepare_tile_dir(out_dir: str, overwrite: bool) -> str:
    """Check ``out_dir`` and return a fresh temporary folder beside it to write into."""
    if os.path.exists(out_dir):
        if not os.path.isdir(out_dir):
            raise OutputError(f"output {out_dir} is a file, not a folder")
        if os.listdir(out_dir):
            if not os.path.exists(os.path.join(out_dir, INDEX_NAME)):
                raise OutputError(
                    f"output folder {out_dir} is not empty and holds no {INDEX_NAME}; choose a new or empty folder"
                )
            if not overwrite:
                raise OutputExistsError(f"{out_dir} already holds tiles; pass overwrite=True to replace them")
    parent = os.path.dirname(os.path.abspath(out_dir))
    remove_stale_temps(out_dir, DIR_SUFFIX)  # what a killed run left (a live run's folder stays)
    try:
        os.makedirs(parent, exist_ok=True)
        work = tempfile.mkdtemp(
            prefix=f".{os.path.basename(os.path.abspath(out_dir))}.{os.getpid()}.", suffix=DIR_SUFFIX, dir=parent
        )
        usual_mode(work, directory=True)  # mkdtemp makes it 0700; it becomes the user's folder
        return work
    except OSError as exc:
        raise OutputError(f"cannot write in {parent}: {exc.strerror}") from None


def _commit_tile_dir(work: str, out_dir: str) -> None:
    """Move the finished temporary folder to ``out_dir`` (replacing an older tile folder)."""
    old = None
    if os.path.exists(out_dir):
        old = work + ".old"
        os.replace(out_dir, old)
    os.replace(work, out_dir)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def tile_raster(
    src: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    size: int = 256,
    overlap: int = 64,
    bidx: str | Sequence[int] | None = None,
    nodata: float | None = None,
    pair: str | os.PathLike[str] | None = None,
    pair_bidx: str | Sequence[int] | None = None,
    pair_resampling: str = "bilinear",
    dst_crs: str | None = None,
    allow_ungeoreferenced: bool = False,
    skip_empty: bool = True,
    overwrite: bool = False,
    quicklook: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> TileResult:
    """Cut ``src`` into GeoTIFF tiles in ``out_dir`` and write ``out_dir/tiles.gpkg``.

    Without ``pair`` tiles go straight into ``out_dir``; with ``pair`` the source
    tiles go into ``out_dir/A`` and the pair's into ``out_dir/B`` (same names).
    A tile is skipped when it has no valid pixel (in either raster of a pair).
    The folder is built beside ``out_dir`` and renamed into place when complete;
    ``overwrite`` replaces an earlier tile folder (one holding ``tiles.gpkg``).
    ``quicklook`` writes a PNG of the scene with the tile grid drawn on it.
    """
    out_dir = os.fspath(out_dir)
    check_output_folder(out_dir, [src, pair])
    if quicklook:
        check_side_output(quicklook, overwrite, inputs=[src, pair])
    with (
        open_raster(
            src, bidx=bidx, dst_crs=dst_crs, allow_ungeoreferenced=allow_ungeoreferenced, nodata=nodata
        ) as source,
        block_cache_env(source),
    ):
        grid = TileGrid(source.width, source.height, size, overlap, source.transform, source.crs)
        pair_reader = PairReader(os.fspath(pair), source, pair_bidx, pair_resampling) if pair else None
        try:
            work = _prepare_tile_dir(out_dir, overwrite)
            try:
                written, skipped = _write_tiles(source, grid, pair_reader, work, skip_empty, progress)
                grid_meta = {
                    "width": grid.width,
                    "height": grid.height,
                    "size": grid.size,
                    "overlap": grid.overlap,
                    "transform": list(grid.transform)[:6],
                    "crs": source.crs.to_wkt() if source.crs else None,
                    "source": os.path.abspath(os.fspath(src)),
                    "pair": os.path.abspath(os.fspath(pair)) if pair else None,
                }
                _write_index(written, grid_meta, source.crs, os.path.join(work, INDEX_NAME), bool(pair))
                _commit_tile_dir(work, out_dir)
                if quicklook:
                    from geo2map.plots import grid_quicklook

                    tiles = [grid.tile(r["row"], r["col"]) for r in written]
                    grid_quicklook(source, grid, tiles, quicklook, overwrite=overwrite)
            finally:
                if os.path.exists(work):
                    shutil.rmtree(work, ignore_errors=True)
        finally:
            if pair_reader:
                pair_reader.close()
    return TileResult(out_dir, os.path.join(out_dir, INDEX_NAME), len(written), skipped, grid)


def _write_tiles(
    source: RasterSource,
    grid: TileGrid,
    pair_reader: PairReader | None,
    work: str,
    skip_empty: bool,
    progress: Progress | None,
) -> tuple[list[dict[str, Any]], int]:
    from shapely.geometry import box

    if pair_reader:
        os.makedirs(os.path.join(work, "A"))
        os.makedirs(os.path.join(work, "B"))
    padded = grid.width < grid.size or grid.height < grid.size
    nodata, internal = output_masking(source.nodata, source.mask_kind, source.dtype)
    internal = internal or (nodata is None and padded)
    meta_a = (source.descriptions, source.colorinterp, source.notes)
    pair_iter = None
    if pair_reader is not None:
        psrc = pair_reader.source
        pnodata, pinternal = output_masking(psrc.nodata, psrc.mask_kind, psrc.dtype)
        pinternal = pinternal or pnodata is None
        meta_b = (psrc.descriptions, psrc.colorinterp, psrc.notes)
        pair_iter = iter_tiles(psrc, grid, skip_empty=False)
    records: list[dict[str, Any]] = []
    skipped = 0
    total = len(grid)
    for done, (tile, data, valid) in enumerate(iter_tiles(source, grid, skip_empty=False), 1):
        pdata = pvalid = None
        if pair_iter is not None:
            _, pdata, pvalid = next(pair_iter)
        empty = (valid is not None and not valid.any()) or (pvalid is not None and not pvalid.any())
        if progress:
            progress(done, total)
        if skip_empty and empty:
            skipped += 1
            continue
        rel = tile.name + ".tif"
        rel_a = os.path.join("A", rel) if pair_reader else rel
        profile = _tile_profile(source, tile, source.count, source.dtype, nodata)
        _write_tile(os.path.join(work, rel_a), profile, data, valid, internal, meta_a)
        rec: dict[str, Any] = {
            "row": tile.row,
            "col": tile.col,
            "col_off": tile.col_off,
            "row_off": tile.row_off,
            "width": tile.width,
            "height": tile.height,
            "file": rel_a,
            "geometry": box(*grid.bounds(tile)),
        }
        if pair_reader is not None:
            assert pdata is not None  # read with the pair
            rel_b = os.path.join("B", rel)
            profile = _tile_profile(source, tile, psrc.count, psrc.dtype, pnodata)
            _write_tile(os.path.join(work, rel_b), profile, pdata, pvalid, pinternal, meta_b)
            rec["pair_file"] = rel_b
        records.append(rec)
    return records, skipped


def _write_index(
    records: list[dict[str, Any]], grid_meta: dict[str, Any], crs: CRS | None, path: str, pair: bool
) -> None:
    import geopandas as gpd

    columns = ["row", "col", "col_off", "row_off", "width", "height", "file"]
    if pair:
        columns.append("pair_file")
    gdf = gpd.GeoDataFrame(records, columns=[*columns, "geometry"], geometry="geometry", crs=crs)
    gdf.to_file(path, layer="tiles", driver="GPKG", engine="pyogrio", layer_metadata={GRID_KEY: json.dumps(grid_meta)})


# ---------------------------------------------------------------------------
# geo2map mosaic
# ---------------------------------------------------------------------------
def read_tile_index(tile_dir: str | os.PathLike[str]) -> tuple[Any, TileGrid]:
    """Read ``tiles.gpkg`` and the grid it was cut from."""
    import pyogrio

    tile_dir = os.fspath(tile_dir)
    index_path = os.path.join(tile_dir, INDEX_NAME)
    if not os.path.exists(index_path):
        raise InputError(f"{tile_dir} has no {INDEX_NAME}; make it with 'geo2map tile'")
    try:
        info = pyogrio.read_info(index_path, layer="tiles")
        meta = json.loads((info.get("layer_metadata") or {})[GRID_KEY])
        gdf = pyogrio.read_dataframe(index_path, layer="tiles")
    except (KeyError, ValueError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InputError(f"{index_path} is not a geo2map tile index ({exc})") from None
    crs = CRS.from_wkt(meta["crs"]) if meta.get("crs") else None
    grid = TileGrid(meta["width"], meta["height"], meta["size"], meta["overlap"], Affine(*meta["transform"]), crs)
    return gdf, grid


def _mosaic_spec(
    first_tile: str, grid: TileGrid, *, holes: bool, preset: Preset, creation_options: dict[str, str] | None
) -> tuple[OutputSpec, str]:
    """The output spec of a tile folder's mosaic, from its first tile; and its mask kind."""
    try:
        with rasterio.open(first_tile) as first:
            count, dtype, nodata = first.count, first.dtypes[0], first.nodata
            flags = first.mask_flag_enums
            descriptions, colorinterp = first.descriptions, first.colorinterp
            tags = first.tags()
    except RasterioError as exc:
        raise RasterReadError(f"cannot read tile {first_tile}: {one_line(exc)}") from None
    has_mask = any(f and f[0].name in ("per_dataset", "alpha") for f in flags)
    kind = "nodata" if nodata is not None else "mask" if has_mask else "none"
    out_nodata, internal = output_masking(nodata, kind, dtype)
    if not internal and out_nodata is None and holes and np.dtype(dtype).kind != "f":
        internal = True  # skipped tiles leave holes that need a mask
    spec = OutputSpec.on_grid(
        grid,
        count=count,
        dtype=dtype,
        nodata=out_nodata,
        internal_mask=internal,
        preset=preset,
        creation_options=creation_options,
        descriptions=tuple(descriptions),
        colorinterp=tuple(ColorInterp(c) for c in colorinterp),
        tags=tags,
    )
    return spec, kind


def mosaic_tiles(
    tile_dir: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    which: str = "A",
    blend: str | BlendMethod = "cosine",
    preset: Preset = "deflate",
    creation_options: dict[str, str] | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    max_stripe_width: int = 8192,
) -> str:
    """Rebuild a raster on the original grid from a ``geo2map tile`` folder.

    Args:
        which: ``A`` (the source tiles) or ``B`` (the pair's tiles).
    """
    check_raster_output(dst, overwrite)
    gdf, grid = read_tile_index(tile_dir)
    column = "file" if which == "A" else "pair_file"
    if column not in gdf.columns:
        raise InputError(f"{tile_dir} has no {which} tiles")
    if len(gdf) == 0:
        raise InputError(f"{tile_dir} holds no tiles (all were empty)")
    gdf = gdf.sort_values(["row", "col"])
    paths = [os.path.join(os.fspath(tile_dir), f) for f in gdf[column]]
    spec, kind = _mosaic_spec(
        paths[0], grid, holes=len(gdf) < len(grid), preset=preset, creation_options=creation_options
    )
    count = spec.count
    items = [(p, int(r), int(c)) for p, r, c in zip(paths, gdf["row"], gdf["col"], strict=True)]
    stripe_cols = [set(grid.tiles_in_columns(c0, c1)) for c0, c1 in grid.column_stripes(max_stripe_width)]
    total = sum(1 for cols in stripe_cols for item in items if item[2] in cols)
    done = 0

    def tiles(columns: tuple[int, int]) -> TileStream:
        nonlocal done
        cols = set(grid.tiles_in_columns(*columns))
        for path, r, c in (item for item in items if item[2] in cols):
            # the same reader as for scenes: nodata, mask bands and NaN give validity
            with open_raster(path, allow_ungeoreferenced=True) as tile_src:
                data, valid = tile_src.read(Window(0, 0, tile_src.width, tile_src.height))
            tile = grid.tile(r, c)
            if data.shape != (count, tile.window.height, tile.window.width):
                raise InputError(
                    f"tile {path} is {data.shape[2]}x{data.shape[1]} px with {data.shape[0]} band(s) but the index "
                    f"places a {tile.window.width}x{tile.window.height} px tile with {count} there: "
                    "the folder was changed after tiling"
                )
            yield tile, data, valid
            done += 1
            if progress:
                progress(done, total)

    with RasterWriter(dst, spec, overwrite) as writer, BackgroundWriter(writer) as sink:
        stream_mosaic(
            grid, spec, sink, tiles, blend=blend, per_band=kind == "nodata", max_stripe_width=max_stripe_width
        )
    return os.fspath(dst)
