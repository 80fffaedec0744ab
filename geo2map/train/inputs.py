"""Training data for ``geo2map train``: which layout ``--data`` has, and the datasets and scalings built from it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from geo2map.errors import InputError
from geo2map.image_io import list_images
from geo2map.train.config import TrainConfig

if TYPE_CHECKING:
    from geo2map.train.data import Augment


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------
def _has_ab(folder: str, prefix: str) -> bool:
    return os.path.isdir(os.path.join(folder, prefix + "A")) and os.path.isdir(os.path.join(folder, prefix + "B"))


def detect_format(cfg: TrainConfig) -> str:
    """The training data layout of ``cfg.data`` (``cfg.data_format`` unless it is ``auto``)."""
    if cfg.data_format != "auto":
        return cfg.data_format
    data = cfg.data
    if os.path.isfile(data):
        if not cfg.pair:
            raise InputError(f"{data} is a raster: give the co-registered target with pair=TARGET")
        return "geotiff_pair"
    if not os.path.isdir(data):
        raise InputError(f"training data {data} does not exist")
    if os.path.exists(os.path.join(data, "tiles.gpkg")):
        return "tile_folder"
    if _has_ab(data, "train") or _has_ab(data, ""):
        return "unpaired" if cfg.mode == "cyclegan" else "ab_folders"
    if any(f.lower().endswith((".jpg", ".jpeg", ".png")) for f in os.listdir(data)):
        return "side_by_side"
    if os.path.isdir(os.path.join(data, "train")):
        return "side_by_side"
    raise InputError(
        f"cannot tell the layout of {data}: expected trainA/trainB, A/B, a geo2map tile "
        "folder (tiles.gpkg) or A|B images"
    )


def _scaling(spec: dict[str, Any] | None, default: dict[str, Any]) -> Any:
    from geo2map.sensors import scaling_from_dict

    return scaling_from_dict(spec or default)


@dataclass
class Data:
    """The training and validation datasets and what the model card needs to know of them."""

    train: Any
    val: Any
    fmt: str


def build_datasets(cfg: TrainConfig) -> Data:
    """Build training and validation datasets for ``cfg`` (formats: see :func:`detect_format`)."""
    from geo2map.train import data as D

    fmt = detect_format(cfg)
    aug = D.Augment(
        crop=cfg.crop_size,
        flip=cfg.flip,
        rot90=cfg.rot90,
        band_jitter=cfg.band_jitter,
        border_reflect=cfg.border_reflect,
    )
    builders = {
        "geotiff_pair": _geotiff_pair,
        "tile_folder": _tile_folder,
        "ab_folders": _ab_folders,
        "unpaired": _ab_folders,
        "side_by_side": _side_by_side,
    }
    if fmt not in builders:
        raise InputError(f"unknown data format {fmt!r}")
    return builders[fmt](cfg, fmt, aug, cfg.seed)


def _geotiff_pair(cfg: TrainConfig, fmt: str, aug: Augment, seed: int) -> Data:
    """A co-registered GeoTIFF pair, tiled on the fly, split spatially."""
    from geo2map.raster.open import open_raster
    from geo2map.raster.pair import PairReader
    from geo2map.raster.tiling import TileGrid
    from geo2map.train import data as D

    with open_raster(cfg.data, bidx=cfg.bidx_a) as a:
        b_reader = PairReader(cfg.pair or "", a, cfg.bidx_b, "bilinear")
        try:
            b = b_reader.source
            grid = TileGrid(a.width, a.height, cfg.tile_size, cfg.tile_overlap, a.transform, a.crs)
            sa = _scaling(cfg.scaling_a, D.default_scaling(np.dtype(a.dtype))).fit_source(a)
            sb = _scaling(cfg.scaling_b, D.default_scaling(np.dtype(b.dtype))).fit_source(b)
            tiles = []
            from geo2map.raster.tile_reader import iter_tiles

            for (tile, _, va), (_, _, vb) in zip(
                iter_tiles(a, grid, skip_empty=False), iter_tiles(b, grid, skip_empty=False), strict=True
            ):
                if (va is None or va.mean() > 0.5) and (vb is None or vb.mean() > 0.5):
                    tiles.append(tile)
            bands_a, bands_b = a.band_names, b.band_names
            dtype_b = b.dtype
            ci_b = [c.name for c in b.colorinterp]
            from geo2map.scene_checks import pixel_size_m

            pixel = pixel_size_m(a)
        finally:
            b_reader.close()
    if not tiles:
        raise InputError(f"no {cfg.tile_size}-px tile of {cfg.data} is at least half valid in both rasters")
    tr, va_ = D.spatial_split(tiles, cfg.val_fraction, cfg.split_block, seed)
    kw = dict(
        tile_size=cfg.tile_size,
        bidx_a=cfg.bidx_a,
        bidx_b=cfg.bidx_b,
        scaling_a=sa,
        scaling_b=sb,
        augment=aug,
        seed=seed,
    )
    train = D.RasterPairDataset(cfg.data, cfg.pair or "", tr, train=True, **kw)  # type: ignore[arg-type]
    val = D.RasterPairDataset(cfg.data, cfg.pair or "", va_, train=False, **kw)  # type: ignore[arg-type]
    for ds in (train, val):
        ds.bands_a, ds.bands_b, ds.dtype_b, ds.colorinterp_b = bands_a, bands_b, dtype_b, ci_b
        ds.pixel_size_m = pixel
    return Data(train, val, fmt)


def _tile_folder(cfg: TrainConfig, fmt: str, aug: Augment, seed: int) -> Data:
    """A ``geo2map tile --pair`` folder, split spatially."""
    from geo2map.tile_folder import read_tile_index
    from geo2map.train import data as D

    gdf, grid = read_tile_index(cfg.data)
    if "pair_file" not in gdf.columns:
        raise InputError(f"{cfg.data} has no B tiles: make it with 'geo2map tile --pair'")
    tiles = [grid.tile(int(r), int(c)) for r, c in zip(gdf["row"], gdf["col"], strict=True)]
    files = {
        t.name: (os.path.join(cfg.data, fa), os.path.join(cfg.data, fb))
        for t, fa, fb in zip(tiles, gdf["file"], gdf["pair_file"], strict=True)
    }
    tr, va_ = D.spatial_split(tiles, cfg.val_fraction, cfg.split_block, seed)
    train = D.FilePairDataset([files[t.name] for t in tr], augment=aug, seed=seed, train=True)
    val = D.FilePairDataset([files[t.name] for t in va_], augment=aug, seed=seed, train=False)
    return _finish_files(cfg, Data(train, val, fmt))


def _ab_folders(cfg: TrainConfig, fmt: str, aug: Augment, seed: int) -> Data:
    """A/B folders: pairs matched by name, or unpaired (CycleGAN)."""
    from geo2map.train import data as D

    prefix = "train" if _has_ab(cfg.data, "train") else ""
    fa = list_images(os.path.join(cfg.data, prefix + "A"))
    fb = list_images(os.path.join(cfg.data, prefix + "B"))
    val_prefix = next((p for p in ("val", "test") if prefix and _has_ab(cfg.data, p)), None)
    if cfg.max_images:
        fa, fb = fa[: cfg.max_images], fb[: cfg.max_images]
    if fmt == "unpaired":
        if val_prefix:
            va_a = list_images(os.path.join(cfg.data, val_prefix + "A"))
            va_b = list_images(os.path.join(cfg.data, val_prefix + "B"))
            tr_a = fa
        else:
            tr_a, va_a = D.holdout_split(fa, cfg.val_fraction, seed)
            va_b = fb
        if not tr_a or not fb:
            raise InputError(f"{cfg.data} has an empty A or B folder")
        train: D.PairDataset = D.UnpairedDataset(tr_a, fb, augment=aug, seed=seed, train=True, load_size=cfg.load_size)
        val: D.PairDataset = D.UnpairedDataset(
            va_a[: max(cfg.samples, 16)], va_b, augment=aug, seed=seed, train=False, load_size=cfg.load_size
        )
        return _finish_files(cfg, Data(train, val, fmt))
    pairs = D.match_pairs(fa, fb)
    if not pairs:
        raise InputError(f"no file name (without extension) appears in both A and B folders of {cfg.data}")
    if val_prefix:
        va_fa = list_images(os.path.join(cfg.data, val_prefix + "A"))
        val_pairs = D.match_pairs(va_fa, list_images(os.path.join(cfg.data, val_prefix + "B")))
        train_pairs = pairs
    else:
        train_pairs, val_pairs = D.holdout_split(pairs, cfg.val_fraction, seed)
    train = D.FilePairDataset(train_pairs, augment=aug, seed=seed, train=True, load_size=cfg.load_size)
    val = D.FilePairDataset(val_pairs, augment=aug, seed=seed, train=False, load_size=cfg.load_size)
    return _finish_files(cfg, Data(train, val, fmt))


def _side_by_side(cfg: TrainConfig, fmt: str, aug: Augment, seed: int) -> Data:
    """A|B images side by side in one file."""
    from geo2map.train import data as D

    folder = os.path.join(cfg.data, "train") if os.path.isdir(os.path.join(cfg.data, "train")) else cfg.data
    files = list_images(folder)
    if cfg.max_images:
        files = files[: cfg.max_images]
    val_folder = next(
        (
            os.path.join(cfg.data, p)
            for p in ("val", "test")
            if folder != cfg.data and os.path.isdir(os.path.join(cfg.data, p))
        ),
        None,
    )
    if val_folder:
        tr_f, va_f = files, list_images(val_folder)
    else:
        tr_f, va_f = D.holdout_split(files, cfg.val_fraction, seed)
    train = D.SideBySideDataset(
        tr_f, direction=cfg.direction, augment=aug, seed=seed, train=True, load_size=cfg.load_size
    )
    val = D.SideBySideDataset(
        va_f, direction=cfg.direction, augment=aug, seed=seed, train=False, load_size=cfg.load_size
    )
    return _finish_files(cfg, Data(train, val, fmt))


def _finish_files(cfg: TrainConfig, data: Data) -> Data:
    """Scalings and band names for file-based datasets, from the first training sample."""
    from geo2map.train.data import default_scaling

    if len(data.train) == 0:
        raise InputError(f"no training samples found in {cfg.data}")
    a_raw, _, b_raw, _, _ = data.train.load(0)
    sa = _scaling(cfg.scaling_a, default_scaling(a_raw.dtype))
    sb = _scaling(cfg.scaling_b, default_scaling(b_raw.dtype))
    if sa.needs_fit:
        sa = sa.fit(a_raw)
    if sb.needs_fit:
        sb = sb.fit(b_raw)
    first = data.train.items[0]
    paths = first if isinstance(first, tuple) else (first, first)
    names_a = _band_names(paths[0], a_raw.shape[0])
    names_b = _band_names(getattr(data.train, "files_b", [paths[1]])[0], b_raw.shape[0])
    for ds in (data.train, data.val):
        ds.scaling_a, ds.scaling_b = sa, sb
        ds.bands_a, ds.bands_b = names_a, names_b
        ds.dtype_b = str(b_raw.dtype)
        ds.colorinterp_b = ["red", "green", "blue"] if b_raw.shape[0] == 3 else []
    return data


def _band_names(path: str, count: int) -> list[str]:
    """Band descriptions of a raster file (``band<i>`` where it has none)."""
    names = [f"band{i + 1}" for i in range(count)]
    if path.lower().endswith((".tif", ".tiff", ".vrt", ".img", ".jp2")):
        import rasterio

        with rasterio.open(path) as ds:
            if ds.count == count:
                names = [d or n for d, n in zip(ds.descriptions, names, strict=True)]
    return names
