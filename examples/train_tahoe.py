"""Train a small pix2pix on a co-registered GeoTIFF pair and apply it: lidar DSM → aerial photo (Lake Tahoe).

The DSM (highest-hit lidar surface, float metres) and the aerial image share one
grid. geo2map tiles the pair, holds out a spatial block of tiles for validation,
trains, then translates the whole DSM back into an image and draws
DSM | prediction | photo.

    python examples/train_tahoe.py                       # a few minutes on a CPU
    python examples/train_tahoe.py --epochs 2 --out /tmp/tahoe
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import geo2map
from geo2map.train.config import resolve_config
from geo2map.train.loop import Trainer

ROOT = Path(__file__).resolve().parents[1]
# copies of ../shared/data/paired/dsm_cir_tahoe (licence: tests/data/README.md)
TAHOE = ROOT / "tests" / "data" / "tahoe"


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dsm", default=str(TAHOE / "tahoe_lidar_highesthit.tif"))
    ap.add_argument("--photo", default=str(TAHOE / "tahoe_highrez.tif"))
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--out", default="out/examples/tahoe")
    args = ap.parse_args(argv)
    out = Path(args.out)
    cfg = resolve_config(
        "pix2pix",
        "stable",
        None,
        {
            "data": args.dsm,
            "pair": args.photo,
            # heights above the scene's 1st percentile, 0..40 m → [-1, 1]
            "scaling_a": {"name": "dsm", "params": {"method": "scene_min", "max_height": 40}},
            "scaling_b": {"name": "optical_u8", "params": {}},
            "generator": "unet_128",
            "ngf": 16,
            "ndf": 16,
            "tile_size": 128,
            "crop_size": 128,
            "tile_overlap": 64,
            "epochs": args.epochs,
            "batch_size": 4,
            "val_fraction": 0.2,
            "split_block": 2,
            "name": "tahoe_dsm2photo",
            "checkpoint_every": max(args.epochs, 1),
        },
    )
    Trainer(cfg, str(out / "run")).fit()
    model = out / "run" / "model.safetensors"
    pred = out / "tahoe_pred.tif"
    geo2map.translate_raster(args.dsm, pred, str(model), overwrite=True)

    from geo2map.plots import display_rgb, pyplot
    from geo2map.raster.open import open_raster

    plt = pyplot()
    pics = []
    for path in (args.dsm, pred, args.photo):
        with open_raster(path) as src:
            data, valid = src.read_decimated(400_000)
        pics.append(display_rgb(data, valid) if data.dtype != np.uint8 else np.moveaxis(data[:3], 0, -1) / 255)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.6))
    for ax, pic, title in zip(axes, pics, ("lidar DSM", "pix2pix prediction", "aerial photo"), strict=True):
        ax.imshow(pic)
        ax.set_title(title)
        ax.set_axis_off()
    fig.suptitle(f"Lake Tahoe: DSM → photo after {args.epochs} epochs (validation tiles held out)")
    fig.tight_layout()
    figure = out / "tahoe.png"
    fig.savefig(figure, dpi=90)
    print(f"model {model}; prediction {pred}; figure {figure}")
    return figure


if __name__ == "__main__":
    main()
