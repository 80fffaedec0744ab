"""Evaluate a model on paired data and plot its per-pair scores.

python examples/evaluate_model.py --model sar2rgb --data ../shared/data/train/sar2rgb_sen12_volkov
python examples/evaluate_model.py            # identity on bundled Sentinel-2 RGB vs itself blurred (a smoke test)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _demo_pairs(folder: Path) -> Path:
    """A/B folders from the bundled BigEarthNet Sentinel-2 patches: A = the image, B = a blurred copy."""
    import rasterio
    from scipy.ndimage import uniform_filter

    for side in ("A", "B"):
        (folder / side).mkdir(parents=True, exist_ok=True)
    for f in sorted((ROOT / "tests" / "data" / "bigearthnet" / "B").glob("*.tif")):
        with rasterio.open(f) as src:
            rgb = (np.clip(src.read().astype(float) / 3000, 0, 1) * 255).astype(np.uint8)
        blurred = np.stack([uniform_filter(b, 5) for b in rgb])
        from PIL import Image

        Image.fromarray(np.moveaxis(rgb, 0, -1)).save(folder / "A" / f"{f.stem}.png")
        Image.fromarray(np.moveaxis(blurred, 0, -1)).save(folder / "B" / f"{f.stem}.png")
    return folder


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="identity")
    ap.add_argument("--data", default=None, help="A/B folders, A|B images (default: a bundled demo pair set)")
    ap.add_argument("--max-pairs", type=int, default=None)
    ap.add_argument("--out", default="out/examples/evaluate")
    args = ap.parse_args(argv)
    from geo2map.evaluate import evaluate

    out = Path(args.out)
    data = args.data or str(_demo_pairs(out / "demo_pairs"))
    rep = evaluate(args.model, data, str(out), split="all" if args.data is None else "auto", max_pairs=args.max_pairs)
    print(json.dumps(rep.metrics, indent=1))

    from geo2map.plots import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    names = [p["name"] for p in rep.per_pair]
    axes[0].bar(range(len(names)), [p["psnr"] for p in rep.per_pair], color="tab:blue")
    axes[0].set_ylabel("PSNR (dB)")
    axes[1].bar(range(len(names)), [p["ssim"] for p in rep.per_pair], color="tab:green")
    axes[1].set_ylabel("SSIM")
    for ax in axes:
        ax.set_xticks(range(len(names)), names, rotation=60, fontsize=6, ha="right")
    fig.suptitle(
        f"{rep.model} on {Path(rep.data).name}: RMSE {rep.metrics['rmse']:.1f}, PSNR {rep.metrics['psnr']:.1f} dB, "
        f"SSIM {rep.metrics['ssim']:.3f} (samples: {rep.samples})",
        fontsize=9,
    )
    fig.tight_layout()
    figure = out / "scores.png"
    fig.savefig(figure, dpi=90)
    print(f"report {rep.report}; figure {figure}")
    return figure


if __name__ == "__main__":
    main()
