"""Translate a real Sentinel-1 scene into optical-looking RGB and draw SAR | prediction | Sentinel-2.

The bundled scene is 10 km of Southern California coast at 10 m (SEN12 fragment 059,
Sentinel-1 VH of 2020-11-07): it belongs to the scene-split test set of sar2rgb's
training data, so the model never saw it; the Sentinel-2 image of 2020-11-04 over the
same grid is drawn beside the prediction for comparison. geo2map scales the SAR with
the statistics of the whole scene, as the model card says, and writes a GeoTIFF on the
scene's grid (EPSG:3395).

    python examples/translate_sar.py                          # the built-in sar2rgb model
    python examples/translate_sar.py --scene my_s1_vh.tif --truth none --out out/
    python examples/translate_sar.py --scene tests/data/s1a_iw_grdh_subset_gcps.tif --nodata 0 --truth none
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import geo2map

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "tests" / "data" / "s1_vh_sen12_059.tif"
TRUTH = ROOT / "tests" / "data" / "s2_rgb_sen12_059.tif"


def _picture(path: Path) -> np.ndarray:
    import rasterio

    with rasterio.open(path) as ds:  # an RGB, or a single band drawn grey (e.g. the 'identity' model)
        if ds.count >= 3:
            return np.moveaxis(ds.read([1, 2, 3]), 0, -1)
        x = ds.read(1, masked=True).astype(np.float64)
    lo, hi = np.quantile(x.compressed(), [0.02, 0.98])
    return np.clip((x.filled(lo) - lo) / max(hi - lo, 1e-12), 0, 1)


def _sar_display(path: Path, nodata: float | None) -> np.ndarray:
    """The SAR as a grey image: dB, stretched between its 2% and 98% quantiles."""
    from geo2map.raster.open import open_raster

    with open_raster(str(path), nodata=nodata) as ds:  # on the grid the output has (GCP scenes warped)
        data, mask = ds.read_decimated(4_000_000)
    v, valid = data[0].astype(np.float64), mask[0]  # NaN is already invalid
    if (v[valid] < 0).mean() <= 0.01:  # intensity or amplitude, not dB: 10 log10 (the stretch makes 10 or 20 alike)
        valid = valid & (v > 0)
        v = 10 * np.log10(np.where(valid, v, 1.0))
    db = np.where(valid, v, np.nan)
    lo, hi = np.nanquantile(db, [0.02, 0.98])
    return np.nan_to_num(np.clip((db - lo) / (hi - lo), 0, 1))


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="sar2rgb", help="built-in model name or model file")
    ap.add_argument("--scene", default=str(SCENE), help="a Sentinel-1 VH raster (or VV+VH with band names)")
    ap.add_argument("--truth", default=str(TRUTH), help="an optical image on the same grid, or 'none'")
    ap.add_argument("--nodata", type=float, default=None, help="the scene's nodata value, if it has none set")
    ap.add_argument("--out", default="out/examples")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = geo2map.translate_raster(
        args.scene, out / "sar_rgb.tif", args.model, nodata=args.nodata, overwrite=True, quicklook=out / "sar_rgb.png"
    )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("Sentinel-1 VH (dB, stretched)", _sar_display(Path(args.scene), args.nodata)),
        (f"{Path(str(args.model)).stem} prediction", _picture(out / "sar_rgb.tif")),
    ]
    if args.truth.lower() != "none":
        panels.append(("Sentinel-2 true colour (truth)", _picture(Path(args.truth))))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 5.3))
    for ax, (title, img) in zip(axes, panels, strict=True):
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest")
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    figure = out / "sar2rgb.png"
    fig.savefig(figure, dpi=100)
    plt.close(fig)
    print(f"{result.translated} tiles in {result.seconds:.1f} s on {result.device}; figure {figure}")
    return figure


if __name__ == "__main__":
    main()
