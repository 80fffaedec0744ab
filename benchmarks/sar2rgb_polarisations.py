"""sar2rgb given VV instead of VH: what a user with a VV-only scene gets, on real pairs.

The built-in sar2rgb was trained on VH only (SEN12 Volkov); no licensable VV pairs were
found to train on. This script measures what happens when a VV band goes in anyway, on
the six real BigEarthNet-MM Sentinel-1/Sentinel-2 pairs bundled in ``tests/data/bigearthnet``
(120 px, 1.2 km each, Portugal, Ireland, Austria, Finland; 2017-2018: other regions, other
seasons and another year than the training data). Each S1 file holds VV and VH in dB; each
is written out alone (band description ``VV (dB)`` or ``VH (dB)``) and translated with
``translate_raster`` as a user would run it, the card's scaling and tiling included.

Arms, per model:

* ``VH``: the band the model was trained on;
* ``VV``: the VV band through the same scaling (what ``geo2map translate`` does, with a note);
* ``VV matched`` / ``VH matched``: the band's scaled amplitude first mapped, quantile by
  quantile, onto the training inputs' histogram (all pixels of ``trainA``), then translated.
  A constant cross-polarisation offset in dB cancels in the card's quantile scaling already;
  this also matches the shape of the distribution. It tests whether VV differs from VH in
  more than its histogram.

The reference is the Sentinel-2 B04/B03/B02 patch brought to the training targets' scale
(each band divided by its 99 % quantile, clipped to 1: the dataset's own normalisation).
Scores in 8-bit levels: RMSE, PSNR, SSIM, brightness correlation and ``flat``, the RMSE of
the patch's own mean colour (the best constant guess). Paired differences against ``VH``
are printed as mean ± standard error over the six pairs: six 120-px patches are few, read
them as a direction, not a figure to two decimals.

    python benchmarks/sar2rgb_polarisations.py [--models sar2rgb RUN/model.safetensors]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from sar2rgb_scenes import score

ROOT = Path(__file__).resolve().parents[1]
PAIRS = ROOT / "tests" / "data" / "bigearthnet"
TRAIN_A = ROOT.parent / "shared" / "data" / "train" / "sar2rgb_sen12_volkov" / "trainA"
ARMS = ("VH", "VV", "VH matched", "VV matched")


def training_quantiles(folder: Path, n: int = 1001) -> np.ndarray:
    """``n`` quantiles (0..1) of every training input pixel, as the model saw them (0-1)."""
    from PIL import Image

    files = sorted(folder.glob("*.jpg"))
    if not files:
        raise SystemExit(f"no training inputs in {folder} (the VV/VH matched arms need them)")
    pixels = np.concatenate([np.asarray(Image.open(f), dtype=np.float32).ravel() for f in files]) / 255.0
    return np.quantile(pixels, np.linspace(0, 1, n))


def reference_levels(path: Path) -> np.ndarray:
    """The S2 patch in the training targets' 8-bit scale: each band over its 99 % quantile, clipped."""
    import rasterio

    with rasterio.open(path) as ds:
        rgb = ds.read().astype(np.float64)
    q = np.quantile(rgb.reshape(3, -1), 0.99, axis=1)[:, None, None]
    return np.clip(rgb / q, 0, 1) * 255.0


def matched_db(db: np.ndarray, target: np.ndarray) -> np.ndarray:
    """dB values whose scaled amplitude (amplitude / its 99 % quantile) has ``target``'s quantiles."""
    amp = 10 ** (db.astype(np.float64) / 20)
    unit = np.clip(amp / np.quantile(amp, 0.99), 0, 1)
    ranks = np.searchsorted(np.sort(unit.ravel()), unit, side="right") / unit.size  # empirical CDF
    mapped = np.interp(ranks, np.linspace(0, 1, target.size), target)
    return (20 * np.log10(np.maximum(mapped, 1e-3))).astype(np.float32)


def write_band(src: Path, band: str, dst: Path, target: np.ndarray | None) -> None:
    """One polarisation of ``src`` as a single-band GeoTIFF named for it (matched onto ``target`` if given)."""
    import rasterio

    with rasterio.open(src) as ds:
        index = [d.split()[0] for d in ds.descriptions].index(band) + 1
        data = ds.read(index)
        profile = {**ds.profile, "count": 1}
    if target is not None:
        data = matched_db(data, target)
    with rasterio.open(dst, "w", **profile) as out:
        out.write(data, 1)
        out.set_band_description(1, f"{band} (dB)")


def run(model: str, target: np.ndarray, work: Path) -> dict[str, list[dict[str, float]]]:
    import rasterio

    from geo2map.metrics import psnr_levels, ssim_levels
    from geo2map.models.package import load_model
    from geo2map.translate import translate_raster

    loaded = load_model(model)
    rows: dict[str, list[dict[str, float]]] = {arm: [] for arm in ARMS}
    for sar in sorted((PAIRS / "A").glob("*.tif")):
        truth = reference_levels(PAIRS / "B" / sar.name)
        for arm in ARMS:
            band = arm.split()[0]
            scene, dst = work / f"{band}.tif", work / "pred.tif"
            write_band(sar, band, scene, target if "matched" in arm else None)
            translate_raster(scene, dst, loaded, overwrite=True, precision="fp32", device="cpu")
            with rasterio.open(dst) as o:
                pred = o.read().astype(np.float64)
            row = score(pred, truth)
            ssim = ssim_levels(pred, truth, np.ones(pred.shape, bool))
            rows[arm].append({"patch": sar.stem, **row, "psnr": psnr_levels(row["rmse"] ** 2), "ssim": ssim})
    return rows


def print_tables(model: str, rows: dict[str, list[dict[str, float]]]) -> None:
    keys = ["rmse", "flat", "ratio", "psnr", "ssim", "corr"]
    print(f"\n#### {model} on the {len(rows['VH'])} BigEarthNet pairs\n")
    print("| input | " + " | ".join(keys) + " | RMSE − VH (SE) | PSNR − VH (SE) | SSIM − VH (SE) |")
    print("|" + "---|" * (len(keys) + 4))
    for arm, arm_rows in rows.items():
        means = [f"{np.mean([r[k] for r in arm_rows]):.3f}" for k in keys]
        diffs = []
        for k in ("rmse", "psnr", "ssim"):
            d = np.array([r[k] - v[k] for r, v in zip(arm_rows, rows["VH"], strict=True)])
            diffs.append(f"{d.mean():+.3f} ({d.std(ddof=1) / np.sqrt(d.size):.3f})" if arm != "VH" else "–")
        print(f"| {arm} | " + " | ".join(means + diffs) + " |")
    print("\nper patch, PSNR dB (" + ", ".join(ARMS) + "):")
    for i, r in enumerate(rows["VH"]):
        print(f"  {r['patch']}: " + ", ".join(f"{rows[a][i]['psnr']:.2f}" for a in ARMS))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["sar2rgb"], help="built-in names or model files")
    ap.add_argument("--train", type=Path, default=TRAIN_A, help="the training inputs (SEN12 trainA)")
    args = ap.parse_args()
    target = training_quantiles(args.train)
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            print_tables(model, run(model, target, Path(tmp)))


if __name__ == "__main__":
    main()
