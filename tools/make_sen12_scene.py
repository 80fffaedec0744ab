"""Rebuild tests/data/s1_vh_sen12_059.tif and s2_rgb_sen12_059.tif from the SEN12 Volkov test tiles.

    python tools/make_sen12_scene.py [../shared/data/train/sar2rgb_sen12_volkov]

Fragment 059 is in the dataset's scene-split *test* set (no tile of it was trained on). Its 4x4
256-px tiles are put back together into the 1024x1024 fragment and georeferenced from the
dataset's metadata.json (EPSG:3395 corners, 10 m pixels).

The SAR side is VH backscatter the dataset authors divided by its 99% scene quantile (as
amplitude) and stored as 8-bit; here it is written as linear *intensity* relative to that
quantile, float32 ((v/255)^2): the form a calibrated sigma0 raster has, up to a scale factor
that the sar2rgb card's scene-quantile scaling removes. The optical side is Sentinel-2 L1C
R, G, B as the dataset stores it (each band divided by its 99% quantile), uint8.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from rasterio.transform import from_bounds

ROOT = Path(__file__).resolve().parents[1]
FRAGMENT = "059"


def main() -> None:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared/data/train/sar2rgb_sen12_volkov")
    meta = next(
        m for m in json.loads((src / "metadata.json").read_text()) if m["fragment_filename"] == f"{FRAGMENT}.png"
    )
    split = json.loads((src / "split_by_fragment.json").read_text())
    assert split[f"{FRAGMENT}.png"] == "test", "the bundled scene must come from the test split"
    xs, ys = zip(*meta["corners_EPSG:3395"], strict=True)
    sar = np.zeros((1024, 1024), np.float32)
    opt = np.zeros((3, 1024, 1024), np.uint8)
    for r in range(4):
        for c in range(4):
            name = f"{FRAGMENT}_r{r}_c{c}.jpg"
            a = np.asarray(Image.open(src / "testA" / name).convert("L"), dtype=np.float32) / 255.0
            sar[r * 256 : (r + 1) * 256, c * 256 : (c + 1) * 256] = a * a
            opt[:, r * 256 : (r + 1) * 256, c * 256 : (c + 1) * 256] = np.moveaxis(
                np.asarray(Image.open(src / "testB" / name).convert("RGB")), -1, 0
            )
    transform = from_bounds(min(xs), min(ys), max(xs), max(ys), 1024, 1024)
    common = dict(
        driver="GTiff",
        width=1024,
        height=1024,
        crs="EPSG:3395",
        transform=transform,
        tiled=True,
        blockxsize=256,
        blockysize=256,
        compress="deflate",
    )
    tags = {"SOURCE": "github.com/VolkovVl/Optical-SAR-dataset fragment " + FRAGMENT}
    out = ROOT / "tests" / "data"
    with rasterio.open(out / f"s1_vh_sen12_{FRAGMENT}.tif", "w", count=1, dtype="float32", predictor=3, **common) as d:
        d.write(sar, 1)
        d.set_band_description(1, "VH")
        d.update_tags(
            **tags,
            PRODUCT=meta["sar_tile_name"],
            SENSING_DATE=meta["sar_tile_sensing_date"],
            UNITS="linear intensity relative to the scene's 99% amplitude quantile",
        )
    with rasterio.open(
        out / f"s2_rgb_sen12_{FRAGMENT}.tif", "w", count=3, dtype="uint8", predictor=2, photometric="RGB", **common
    ) as d:
        d.write(opt)
        for i, b in enumerate(("B04", "B03", "B02"), 1):
            d.set_band_description(i, b)
        d.update_tags(**tags, PRODUCT=meta["opt_tile_name"], SENSING_DATE=meta["opt_tile_sensing_date"])
    print(meta["sar_tile_name"], meta["opt_tile_name"])


if __name__ == "__main__":
    main()
