"""Cut rasters into georeferenced tiles and stitch tiles back: the library behind
``geo2map tile`` and ``geo2map mosaic``.

* :func:`iter_tiles` streams ``(tile, data, valid)`` from a source, reading one
  strip of rows per tile row (rows shared with the previous strip are reused,
  the next strip is read in a background thread) and skipping all-nodata tiles.
* :func:`tile_raster` writes each tile as a GeoTIFF plus ``tiles.gpkg``, and with
  ``pair`` cuts a second raster (resampled onto the first's grid when the grids
  differ) into the same windows: the ``A/`` + ``B/`` training-pair layout.
* :func:`mosaic_tiles` rebuilds the raster from such a folder.
* :func:`remosaic_raster` runs tile → (optional per-tile function) → blend →
  write in one streaming pass; with no function it is the identity pipeline.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import ColorInterp, Resampling
from rasterio.errors import RasterioError
from rasterio.transform import Affine
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from geo2map.errors import InputError, OutputError, OutputExistsError, RasterReadError, one_line
from geo2map.mosaic.accumulator import StreamingMosaic
from geo2map.mosaic.blend import BlendMethod
from geo2map.raster.gdal_lock import GDAL_LOCK
from geo2map.raster.open import RasterSource, block_cache_env, open_raster
from geo2map.raster.padding import CroppedSink, Pads
from geo2map.raster.safety import (
    DIR_SUFFIX,
    check_output_folder,
    check_raster_output,
    check_side_output,
    remove_stale_temps,
)
from geo2map.raster.tiling import Tile, TileGrid
from geo2map.raster.write import (
    BackgroundWriter,
    OutputSpec,
    Preset,
    RasterWriter,
    photometric_for,
    usual_mode,
)

Progress = Callable[[int, int], None]
INDEX_NAME = "tiles.gpkg"
GRID_KEY = "GEO2MAP_GRID"


# ---------------------------------------------------------------------------
# Reading tiles
# ---------------------------------------------------------------------------
def _read_strip(
    source: RasterSource, grid: TileGrid, y: int, x0: int, x1: int, halo: int = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    return source.read(Window(x0 - halo, y - halo, x1 - x0 + 2 * halo, grid.size + 2 * halo))


def iter_tiles(
    source: RasterSource,
    grid: TileGrid,
    *,
    skip_empty: bool = True,
    tile_cols: list[int] | None = None,
    halo: int = 0,
    on_skip: Callable[[Tile], None] | None = None,
) -> Iterator[tuple[Tile, np.ndarray, np.ndarray | None]]:
    """Yield ``(tile, data, valid)`` in row-major order.

    ``data`` is ``(bands, size, size)`` in the source dtype, ``valid`` a bool array
    of the same shape or None (all valid). Tiles with no valid pixel are skipped
    when ``skip_empty`` (``on_skip(tile)`` is called for each). ``tile_cols``
    restricts the tiles to those grid columns (a column stripe). ``halo`` extra
    pixels are read on every side (``size + 2 * halo`` square; pixels past the
    raster's edge are invalid); emptiness is judged on the tile itself. Each tile
    row is read as one strip; the next strip is read in a background thread while
    the caller works on the current one.
    """
    offsets = grid.row_offsets
    cols = list(range(grid.shape[1])) if tile_cols is None else list(tile_cols)
    if not cols:
        return
    x0 = grid.col_offsets[cols[0]]
    x1 = grid.col_offsets[cols[-1]] + grid.size
    span = grid.size + 2 * halo
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="geo2map-read") as pool:
        nxt: Future[Any] = pool.submit(_read_strip, source, grid, offsets[0], x0, x1, halo)
        for r in range(len(offsets)):
            data, valid = nxt.result()
            if r + 1 < len(offsets):
                nxt = pool.submit(_read_strip, source, grid, offsets[r + 1], x0, x1, halo)
            for c in cols:
                tile = grid.tile(r, c)
                sl = slice(tile.col_off - x0, tile.col_off - x0 + span)
                v = None if valid is None else valid[:, :, sl]
                if skip_empty and v is not None and not v[:, halo : halo + grid.size, halo : halo + grid.size].any():
                    if on_skip:
                        on_skip(tile)
                    continue
                yield tile, data[:, :, sl], v


TileStream = Iterator[tuple[Tile, np.ndarray, "np.ndarray | None"]]


def stream_mosaic(
    grid: TileGrid,
    spec: OutputSpec,
    sink: Callable[..., None],
    tiles: Callable[[tuple[int, int]], TileStream],
    *,
    blend: str | BlendMethod = "cosine",
    per_band: bool = False,
    max_stripe_width: int = 8192,
    margin: int = 0,
) -> None:
    """Blend the tiles ``tiles(columns)`` yields for each column stripe and send rows to ``sink``.

    Scenes wider than ``max_stripe_width`` are built in vertical stripes (see
    :meth:`TileGrid.column_stripes`) so the accumulator's memory does not grow with
    the width; ``tiles((c0, c1))`` must yield, in row-major order, the tiles whose
    columns touch the stripe (:meth:`TileGrid.tiles_in_columns`).
    """
    for columns in grid.column_stripes(max_stripe_width):
        mosaic = StreamingMosaic(
            grid,
            spec.count,
            spec.dtype,
            sink,
            blend=blend,
            per_band=per_band,
            fill=spec.nodata,
            columns=columns,
            margin=margin,
        )
        for tile, data, valid in tiles(columns):
            mosaic.add(tile, data, valid)
        mosaic.close()


def count_tiles(grid: TileGrid, max_stripe_width: int = 8192) -> int:
    """Tiles a :func:`stream_mosaic` pass visits (a tile on a stripe border counts once per stripe)."""
    return sum(len(grid.tiles_in_columns(c0, c1)) for c0, c1 in grid.column_stripes(max_stripe_width)) * grid.shape[0]


# ---------------------------------------------------------------------------
# Output spec from a source
# ---------------------------------------------------------------------------
def _fits(value: float, dtype: str) -> bool:
    dt = np.dtype(dtype)
    if np.isnan(value):
        return dt.kind == "f"
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return float(value).is_integer() and info.min <= value <= info.max
    return True


def output_masking(source_nodata: float | None, mask_kind: str, dtype: str) -> tuple[float | None, bool]:
    """``(nodata, internal_mask)`` for an output derived from a source.

    The source's nodata value is kept when the output dtype can hold it (a float
    dtype holds any); otherwise, and for a source masked by an alpha or mask band,
    the output gets an internal mask. Float outputs without nodata carry NaN.
    """
    if source_nodata is not None and _fits(source_nodata, dtype):
        return source_nodata, False
    if mask_kind == "mask" or source_nodata is not None:
        return None, True
    return None, False


def spec_for(
    source: RasterSource,
    *,
    preset: Preset = "deflate",
    creation_options: dict[str, str] | None = None,
    count: int | None = None,
    dtype: str | None = None,
    tags: dict[str, str] | None = None,
) -> OutputSpec:
    """An :class:`OutputSpec` on exactly the source's grid."""
    dtype = dtype or source.dtype
    nodata, internal = output_masking(source.nodata, source.mask_kind, dtype)
    same_bands = count is None or count == source.count
    return OutputSpec(
        width=source.width,
        height=source.height,
        transform=source.transform,
        crs=source.crs,
        count=count or source.count,
        dtype=dtype,
        nodata=nodata,
        internal_mask=internal,
        preset=preset,
        creation_options=creation_options or {},
        descriptions=tuple(source.descriptions) if same_bands else None,
        colorinterp=tuple(source.colorinterp) if same_bands else None,
        tags={**source.notes, **(tags or {})},
    )


# ---------------------------------------------------------------------------
# One streaming pass: tiles -> fn -> blend -> write
# ---------------------------------------------------------------------------
def remosaic_raster(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    size: int = 256,
    overlap: int = 64,
    blend: str | BlendMethod = "cosine",
    fn: Callable[[np.ndarray], np.ndarray] | None = None,
    bidx: str | Sequence[int] | None = None,
    nodata: float | None = None,
    dst_crs: str | None = None,
    allow_ungeoreferenced: bool = False,
    preset: Preset = "deflate",
    creation_options: dict[str, str] | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    max_stripe_width: int = 8192,
) -> str:
    """Tile ``src``, pass each tile through ``fn`` (identity if None), blend, write ``dst``.

    Progress counts tiles, including empty ones that are skipped.
    """
    check_raster_output(dst, overwrite)
    with open_raster(
        src, bidx=bidx, dst_crs=dst_crs, allow_ungeoreferenced=allow_ungeoreferenced, nodata=nodata
    ) as source:
        grid = TileGrid(source.width, source.height, size, overlap, source.transform, source.crs)
        spec = spec_for(source, preset=preset, creation_options=creation_options)
        # the output has the source's bands (spec_for), so per-band nodata stays per band whatever fn does
        per_band = source.mask_kind == "nodata"
        total = count_tiles(grid, max_stripe_width)
        done = 0

        def tick(_: Tile | None = None) -> None:
            nonlocal done
            done += 1
            if progress:
                progress(done, total)

        def tiles(columns: tuple[int, int]) -> TileStream:
            cols = grid.tiles_in_columns(*columns)
            for tile, data, valid in iter_tiles(source, grid, tile_cols=cols, on_skip=tick):
                yield tile, (data if fn is None else fn(data)), valid
                tick()

        write_streamed(source, dst, spec, grid, tiles, overwrite, blend, per_band, max_stripe_width)
    return os.fspath(dst)


def write_streamed(
    source: RasterSource,
    dst: str | os.PathLike[str],
    spec: OutputSpec,
    grid: TileGrid,
    tiles: Callable[[tuple[int, int]], TileStream],
    overwrite: bool,
    blend: str | BlendMethod,
    per_band: bool,
    max_stripe_width: int,
    pads: Pads | None = None,
    margin: int = 0,
) -> None:
    """:func:`stream_mosaic` into ``dst`` (atomically), rows compressed in a background thread,
    GDAL's block cache sized to a stripe of ``source``. With ``pads``, ``grid`` lies on a
    padded canvas (:func:`~geo2map.raster.padding.padded_grid`) and only the scene is written."""
    stripe = grid.column_stripes(max_stripe_width)[0]
    with (
        block_cache_env(source, width=stripe[1] - stripe[0]),
        RasterWriter(dst, spec, overwrite) as writer,
        BackgroundWriter(writer) as background,
    ):
        sink = CroppedSink(background, pads, spec.width, spec.height) if pads else background
        stream_mosaic(
            grid,
            spec,
            sink,
            tiles,
            blend=blend,
            per_band=per_band,
            max_stripe_width=max_stripe_width,
            margin=margin,
        )


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


def _tile_profile(
    source: Any, tile: Tile, count: int, dtype: str, nodata: float | None, colorinterp: list[ColorInterp]
) -> dict[str, Any]:
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
        "photometric": photometric_for(colorinterp, count),
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
    descriptions, _, tags = meta
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


class _PairReader:
    """The second raster of a pair, read on the first raster's grid."""

    def __init__(self, path: str, ref: RasterSource, bidx: Any, resampling: str) -> None:
        self.source = open_raster(path, bidx=bidx)
        ds = self.source.dataset
        same = (
            ds.crs == ref.crs
            and ds.transform.almost_equals(ref.transform)
            and ds.width == ref.width
            and ds.height == ref.height
        )
        self.warped = None
        if not same:
            if ds.crs is None or ref.crs is None:
                self.source.close()
                raise InputError(f"cannot align {path} with the source: both need a CRS")
            kw: dict[str, Any] = {
                "crs": ref.crs,
                "transform": ref.transform,
                "width": ref.width,
                "height": ref.height,
                "resampling": Resampling[resampling],
            }
            if ds.nodata is not None:
                kw["nodata"] = ds.nodata
            else:
                kw["add_alpha"] = True
            self.warped = WarpedVRT(ds, **kw)
            self.source = RasterSource(
                path=path,
                dataset=self.warped,
                indexes=self.source.indexes,
                notes=self.source.notes,
                alpha_band=ds.count + 1 if "add_alpha" in kw else None,
                _stack=[*self.source._stack, self.warped],
            )

    def close(self) -> None:
        self.source.close()


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
        pair_reader = _PairReader(os.fspath(pair), source, pair_bidx, pair_resampling) if pair else None
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
    pair_reader: _PairReader | None,
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
        profile = _tile_profile(source, tile, source.count, source.dtype, nodata, source.colorinterp)
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
            rel_b = os.path.join("B", rel)
            profile = _tile_profile(source, tile, psrc.count, psrc.dtype, pnodata, psrc.colorinterp)
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
    try:
        with rasterio.open(paths[0]) as first:
            count, dtype, nodata = first.count, first.dtypes[0], first.nodata
            flags = first.mask_flag_enums
            descriptions, colorinterp = first.descriptions, first.colorinterp
            tags = first.tags()
    except RasterioError as exc:
        raise RasterReadError(f"cannot read tile {paths[0]}: {one_line(exc)}") from None
    has_mask = any(f and f[0].name in ("per_dataset", "alpha") for f in flags)
    kind = "nodata" if nodata is not None else "mask" if has_mask else "none"
    out_nodata, internal = output_masking(nodata, kind, dtype)
    if not internal and out_nodata is None and len(gdf) < len(grid) and np.dtype(dtype).kind != "f":
        internal = True  # skipped tiles leave holes that need a mask
    spec = OutputSpec(
        width=grid.width,
        height=grid.height,
        transform=grid.transform,
        crs=grid.crs,
        count=count,
        dtype=dtype,
        nodata=out_nodata,
        internal_mask=internal,
        preset=preset,
        creation_options=creation_options or {},
        descriptions=tuple(descriptions),
        colorinterp=tuple(ColorInterp(c) for c in colorinterp),
        tags=tags,
    )
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
