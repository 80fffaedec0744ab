"""sar2rgb on whole scenes, as users run it: every SEN12 test fragment translated in one piece.

``geo2map evaluate`` scores 256-px pairs, each rescaled by its own statistics. Users
translate whole scenes, scaled by the scene's statistics. This script rebuilds each of
the dataset's held-out 10 km fragments (18 in the scene split, 1024 x 1024 px at 10 m)
from its 16 tiles as a GeoTIFF on its real grid (EPSG:3395 corners from the dataset's
metadata.json), runs ``translate_raster`` on it, and compares the result with the
fragment's Sentinel-2 image:

* ``rmse``: 8-bit levels over all pixels and bands; ``flat``: the same for the scene's
  own mean colour, the best constant guess; ``ratio`` = rmse / flat (the built-in
  gate in tests/test_builtin.py asks < 0.8 on fragment 059);
* ``corr``: correlation of the band-mean brightness with the truth's;
* ``bias``: mean output minus mean truth, per band (R, G, B);
* ``checker``: the output's checker ratio (natural images score about 1);
* ``ring``, ``inner``: crop consistency, the issue's measure: a 600-px crop of the
  scene translated on its own against the same pixels of the whole-scene translation,
  mean |difference| in its outer 16 px and inside them (8-bit levels).

    python benchmarks/sar2rgb_scenes.py --models sar2rgb /work/runs/x/model.safetensors \\
        --work /work/bench/scenes [--tile 256] [--overlap 128] [--precision fp32]

``--pair SCENE REFERENCE`` (repeatable) scores any model on any scene instead, against a
reference image on the scene's grid, e.g. dsm2rgb on the bundled Lake Tahoe DSM against
the aerial photo of the same grid:

    python benchmarks/sar2rgb_scenes.py --models dsm2rgb --work /tmp/w \\
        --pair tests/data/tahoe/tahoe_lidar_highesthit.tif tests/data/tahoe/tahoe_highrez.tif

Prints one markdown table per model and the means over fragments.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "train" / "sar2rgb_sen12_volkov"
GRID = 4  # tiles per side of a fragment
TILE = 256


def build_scenes(data: Path, work: Path) -> list[tuple[str, Path, Path]]:
    """(fragment, SAR GeoTIFF, optical GeoTIFF) for every test fragment, written once under ``work``."""
    import rasterio
    from PIL import Image
    from rasterio.transform import from_bounds

    split = json.loads((data / "split_by_fragment.json").read_text())
    corners = {m["fragment_filename"]: m["corners_EPSG:3395"] for m in json.loads((data / "metadata.json").read_text())}
    out = []
    work.mkdir(parents=True, exist_ok=True)
    for name in sorted(f for f, s in split.items() if s == "test"):
        frag = name.split(".")[0]
        xs, ys = [c[0] for c in corners[name]], [c[1] for c in corners[name]]
        transform = from_bounds(min(xs), min(ys), max(xs), max(ys), GRID * TILE, GRID * TILE)
        paths = []
        for side, folder in (("sar", "testA"), ("opt", "testB")):
            path = work / f"{frag}_{side}.tif"
            paths.append(path)
            if path.exists():
                continue
            tiles = [
                [np.asarray(Image.open(data / folder / f"{frag}_r{r}_c{c}.jpg")) for c in range(GRID)]
                for r in range(GRID)
            ]
            rows = [np.concatenate([t.reshape(TILE, TILE, -1) for t in row], axis=1) for row in tiles]
            img = np.moveaxis(np.concatenate(rows, axis=0), -1, 0)
            with rasterio.open(
                path,
                "w",
                driver="GTiff",
                width=img.shape[2],
                height=img.shape[1],
                count=img.shape[0],
                dtype="uint8",
                crs="EPSG:3395",
                transform=transform,
            ) as ds:
                ds.write(img)
                if side == "sar":
                    ds.set_band_description(1, "VH")
        out.append((frag, paths[0], paths[1]))
    return out


def score(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Accuracy against the truth (the artefact metrics come from ``raster_artefacts``)."""
    pred, truth = pred.astype(np.float64), truth.astype(np.float64)
    flat = truth.mean(axis=(1, 2), keepdims=True)
    rmse = float(np.sqrt(np.mean((pred - truth) ** 2)))
    flat_rmse = float(np.sqrt(np.mean((flat - truth) ** 2)))
    bias = (pred.mean(axis=(1, 2)) - truth.mean(axis=(1, 2))).tolist()
    return {
        "rmse": rmse,
        "flat": flat_rmse,
        "ratio": rmse / flat_rmse,
        "corr": float(np.corrcoef(pred.mean(0).ravel(), truth.mean(0).ravel())[0, 1]),
        "bias_r": bias[0],
        "bias_g": bias[1],
        "bias_b": bias[2],
    }


def run_model(model: str, scenes: list[tuple[str, Path, Path]], work: Path, args: argparse.Namespace) -> list[dict]:
    import rasterio

    from geo2map.artefacts import raster_artefacts
    from geo2map.models.package import load_model
    from geo2map.translate import translate_raster

    loaded = load_model(model)
    options = {"tile_size": args.tile, "overlap": args.overlap, "precision": args.precision, "device": "cpu"}
    rows = []
    for frag, sar, opt in scenes:
        dst = work / "pred.tif"
        translate_raster(sar, dst, loaded, overwrite=True, **options)
        with rasterio.open(dst) as o, rasterio.open(opt) as t:
            row = {"fragment": frag, **score(o.read(), t.read())}
        crop = raster_artefacts(str(sar), str(dst), loaded, str(work), lambda x: x.astype(np.float64), **options)
        # the checker of the centre 1024 px: the whole of a 1024-px fragment
        rows.append({**row, "checker": crop["checker"], "ring": crop["crop_ring"], "inner": crop["crop_inner"]})
    return rows


def print_table(model: str, rows: list[dict], seconds: float) -> None:
    keys = ["rmse", "flat", "ratio", "corr", "bias_r", "bias_g", "bias_b", "checker", "ring", "inner"]
    print(f"\n#### {model} ({len(rows)} fragments, {seconds:.0f} s)\n")
    print("| fragment | " + " | ".join(keys) + " |")
    print("|" + "---|" * (len(keys) + 1))
    for r in rows:
        print(f"| {r['fragment']} | " + " | ".join(f"{r[k]:.2f}" for k in keys) + " |")
    means = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    print("| **mean** | " + " | ".join(f"{means[k]:.2f}" for k in keys) + " |")
    worse = sum(r["ratio"] >= 0.8 for r in rows)
    print(f"\nfragments at or above 0.8x the flat colour's RMSE: {worse} of {len(rows)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["sar2rgb"], help="built-in names or model files")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--work", type=Path, required=True, help="scratch folder for the rebuilt scenes")
    ap.add_argument("--tile", type=int, default=None, help="tile size (default: each card's)")
    ap.add_argument("--overlap", type=int, default=None, help="tile overlap (default: each card's)")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--json", type=Path, default=None, help="also write every row here")
    ap.add_argument(
        "--pair",
        nargs=2,
        action="append",
        type=Path,
        metavar=("SCENE", "REFERENCE"),
        help="score on this scene against a reference on its grid instead of SEN12 (repeatable)",
    )
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.pair:
        scenes = [(scene.stem, scene, reference) for scene, reference in args.pair]
    elif not (args.data / "split_by_fragment.json").exists():
        raise SystemExit(f"no SEN12 data at {args.data}")
    else:
        scenes = build_scenes(args.data, args.work)
    results = {}
    for model in args.models:
        t0 = time.perf_counter()
        rows = run_model(model, scenes, args.work, args)
        print_table(model, rows, time.perf_counter() - t0)
        results[model] = rows
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
