"""Shared fixtures: real rasters checked in under tests/data, seeded synthetic rasters."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from rasterio.transform import from_origin

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RGB = DATA / "RGB.byte.tif"
GRD = DATA / "s1a_iw_grdh_subset_gcps.tif"
SLC = DATA / "s1a_iw_slc_subset_gcps.tif"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def smooth_field(rng: np.random.Generator, bands: int, height: int, width: int) -> np.ndarray:
    """Image-like (spatially correlated) values in [0, 1]: a sum of random low-frequency waves."""
    y = np.linspace(0, 1, height)[:, None]
    x = np.linspace(0, 1, width)[None, :]
    out = np.empty((bands, height, width))
    for b in range(bands):
        acc = np.zeros((height, width))
        for _ in range(6):
            fy, fx = rng.uniform(0.5, 6, 2)
            py, px = rng.uniform(0, 2 * np.pi, 2)
            acc += np.sin(2 * np.pi * fy * y + py) * np.cos(2 * np.pi * fx * x + px)
        out[b] = acc
    out -= out.min()
    out /= max(out.max(), 1e-12)
    return out


def write_raster(
    path: Path | str,
    data: np.ndarray,
    *,
    nodata: float | None = None,
    crs: str | None = "EPSG:32633",
    transform=None,
    mask: np.ndarray | None = None,
    **extra,
) -> Path:
    """Write a GeoTIFF with rasterio (optionally an internal mask)."""
    bands, h, w = data.shape
    profile = {
        "driver": "GTiff",
        "width": w,
        "height": h,
        "count": bands,
        "dtype": data.dtype.name,
        "crs": crs,
        "transform": transform if transform is not None else from_origin(500000, 4600000, 10, 10),
        "nodata": nodata,
        "photometric": "MINISBLACK",
        **extra,
    }
    if crs is None and transform is None:
        profile.pop("transform")
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        if mask is not None:
            dst.write_mask(mask.astype(np.uint8) * 255)
    return Path(path)


def gdalinfo_json(path: Path | str) -> dict:
    """Read a raster's description with Debian's gdalinfo: an independent reader."""
    exe = shutil.which("gdalinfo")
    if exe is None:
        pytest.skip("gdalinfo (Debian gdal-bin) is not installed")
    out = subprocess.run([exe, "-json", os.fspath(path)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def geo2map_exe() -> str:
    """The installed console script (beside this Python, or on PATH)."""
    beside = Path(os.path.dirname(os.path.abspath(os.sys.executable))) / "geo2map"
    if beside.exists():
        return os.fspath(beside)
    found = shutil.which("geo2map")
    if found is None:
        pytest.skip("the geo2map console script is not installed")
    return found


def save_tiny_model(path: Path, name: str, input_scaling: dict, seed: int = 0) -> Path:
    """A tiny ResNet model file (1 band → RGB uint8, 64-px tiles, overlap 16), random weights."""
    import torch

    from geo2map.models.card import Architecture, Band, ModelCard
    from geo2map.models.networks import build_generator
    from geo2map.models.package import save_model

    torch.manual_seed(seed)
    net = build_generator("resnet_6blocks", 1, 3, ngf=4, norm="instance", dropout=False)
    card = ModelCard(
        name=name,
        task="pix2pix",
        architecture=Architecture("resnet_6blocks", 1, 3, 4, "instance", False),
        input_scaling=input_scaling,
        output_scaling={"name": "optical_u8", "params": {}},
        input_bands=[Band("b1")],
        output_bands=[Band("red"), Band("green"), Band("blue")],
        output_colorinterp=["red", "green", "blue"],
        tile_size=64,
        overlap=16,
    )
    save_model(path, net, card)
    return Path(path)
