"""Package a training run as a built-in model: fp16 weights + a complete card, into geo2map/models/builtin/.

    python tools/make_builtin.py sar2rgb runs/sar2rgb            # the card text lives in BUILTIN_CARDS below

The run's own card (architecture, training record, validation metrics) is kept;
this adds what a user of the built-in needs: the real-raster input it expects and
the scaling that brings such a raster to the training distribution, band names,
colour interpretation, licences and the reason for the architecture.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Why U-Net-256 built-ins run on 512-px tiles with 128 px of overlap: U-Net-256's innermost layer sees
# the whole tile, so what a tile holds (mostly sea, mostly land) shifts the colours of all its pixels.
# On 256-px tiles, 64 px of overlap drew the Santa Monica Bay coast (tests/data/s1_vh_sen12_059.tif) as
# a staircase of tile-sized steps and 128 px was needed (four tiles blended per pixel, 4x the pixels
# computed). 512-px tiles (any multiple of 256 runs) give each tile more context: at 128 px of overlap
# the 18 held-out SEN12 scenes score the same within noise as 256/128, with no steps, for 0.44x the
# network work (docs/benchmarks.md, "sar2rgb on 512-px tiles").

#: Why U-Net-256 at ngf 16, for every built-in (then a line of its own)
SIZE_NOTE = (
    "U-Net-256 at ngf 16: 3.4 M parameters, 6.8 MB in fp16. A U-Net's parameters sit in its innermost, "
    "widest layers, so cutting the width from the reference's 64 to 16 divides them by 16 (54.4 M, 218 MB in "
    "fp32) while the depth, the 256-px receptive field and the skip connections stay. A ResNet-6 at ngf 32 "
    "took 3.1x as long per training step on the CPU these were trained on (benchmarks/bench_models.py; ResNet-9 "
    "longer still); with that compute budget, iterations were worth more than capacity."
)

#: Why the bounded U-Net, for a built-in trained with the recipe study's winner (then a line of its own)
BOUNDED_NOTE = (
    "U-Net-32 at ngf 16 with resize-convolution and reflection padding, trained with two-scale "
    "discriminators and feature matching (preset hd): the recipe study's winner (docs/models.md). Five "
    "stride-2 levels (U-Net-256 has eight) bound its receptive field to 158 px, so a tiled translation "
    "equals a whole-scene one away from the scene border and 640-px tiles need only 160 px of overlap; "
    "resize-convolution leaves no checkerboard."
)

#: Why a U-Net-256 with resize-convolution started from the transposed-conv model (then a line of its own)
PROJECTED_NOTE = (
    "U-Net-256 at ngf 16 with a resize-convolution decoder (nearest x2, then 3x3 conv): 2.4 M parameters, "
    "4.9 MB in fp16. It started from the transposed-conv U-Net-256 that shipped before (training.init_from), "
    "its decoder projected onto the least-squares nearest resize-convolutions (which drops the checkerboard, "
    "geo2map.models.resize_projection), then was fine-tuned. Trained from scratch at this budget, resize-conv "
    "U-Nets lost the dark sea (docs/models.md); the whole-tile receptive field keeps the context SAR needs."
)

#: What all three cards share: 8-bit output
COMMON: dict = {"output_scaling": {"name": "optical_u8", "params": {}}, "output_dtype": "uint8"}
#: the tiling of U-Net-256 built-ins (see above); a bounded-receptive-field model keeps the tiling its
#: run recorded (train.schedule.inference_tiling: the overlap its receptive field needs)
UNBOUNDED_TILE, UNBOUNDED_OVERLAP = 512, 128

BUILTIN_CARDS: dict[str, dict] = {
    "sar2rgb": {
        "summary": "Sentinel-1 VH backscatter → Sentinel-2 true colour (pix2pix, SEN12 Volkov pairs)",
        # the training SAR: VH *amplitude* / its 99% scene quantile, clipped to 1. Amplitude, not intensity:
        # the training tiles' quantiles (1/10/25/50/75/90% = 35/59/80/110/147/188 of 255) match real 10 m
        # VH amplitude normalised that way (41-59/56-86/82-105/105-142/135-174/168-203 on six BigEarthNet
        # patches), while intensity gives 3-13/12-29/26-43/43-79/71-119/111-162. 'auto' makes GRD amplitude
        # DN, calibrated σ⁰ linear and dB all land there (tests/test_sensors.py)
        "input_scaling": {
            "name": "sar",
            "params": {"input": "auto", "method": "quantile", "quantile": 0.99, "linear": "amplitude"},
        },
        "input_bands": [{"name": "VH", "description": "Sentinel-1 IW VH backscatter (GRD DN, sigma0 linear or dB)"}],
        "output_bands": [
            {"name": "B04", "description": "red (Sentinel-2 L1C, 99% quantile stretch)"},
            {"name": "B03", "description": "green"},
            {"name": "B02", "description": "blue"},
        ],
        "output_colorinterp": ["red", "green", "blue"],
        "pixel_size_m": 10.0,
        "licence": "MIT (weights); trained on modified Copernicus Sentinel data 2020",
        "data_licence": "Copernicus Sentinel data terms (free, attribution: 'Contains modified Copernicus "
        "Sentinel data 2020'); dataset github.com/VolkovVl/Optical-SAR-dataset",
        "architecture_note": "SAR-to-optical needs context (a field, a town, the sea) more than pixel detail.",
    },
    "sat2map": {
        "summary": "Satellite / aerial RGB photo → map rendering (pix2pix, the pix2pix 'maps' pairs)",
        "input_scaling": {"name": "optical_u8", "params": {}},
        "input_bands": [
            {"name": "red", "description": "8-bit true-colour photo (about 2 m pixels, like the training images)"},
            {"name": "green", "description": ""},
            {"name": "blue", "description": ""},
        ],
        "output_bands": [{"name": "red"}, {"name": "green"}, {"name": "blue"}],
        "output_colorinterp": ["red", "green", "blue"],
        # not stated by the dataset (600-px Google Maps images around New York, resized to 256 px for training):
        # street widths, cars and houses in the training tiles say about 2 m a pixel
        "pixel_size_m": 2.0,
        "licence": "MIT (weights); trained on the pix2pix maps pairs (imagery scraped from Google Maps by the "
        "pix2pix authors: research use)",
        "data_licence": "no explicit data licence; research use; the images are not redistributed",
        "architecture_note": "Map rendering is local and edge-driven, where the U-Net's skip connections pay off.",
    },
    "dsm2rgb": {
        "summary": "Normalised DSM (height above ground) → IR-R-G aerial image (pix2pix, ISPRS Potsdam)",
        # the training nDSM is 8-bit with a dataset-relative scale that the dataset does not state (ground ≈
        # levels 7-11; roofs and crowns mostly levels 100-185, the 70-99% quantiles). Potsdam's buildings and
        # trees are mostly 12-22 m tall, so 0..30 m → 0..255 (≈ 0.12 m a level) is the working assumption;
        # heights are taken above a local minimum 64 px (≈ 40 m) around each pixel, wide enough for the
        # footprint of most buildings (README: use a DTM-normalised input where you have one)
        "input_scaling": {"name": "dsm", "params": {"method": "local_min", "radius": 64, "max_height": 30.0}},
        "input_bands": [{"name": "DSM", "description": "surface heights in metres (lidar or photogrammetric DSM)"}],
        "output_bands": [
            {"name": "NIR", "description": "near infrared (IR-R-G false colour, vegetation red)"},
            {"name": "R", "description": "red"},
            {"name": "G", "description": "green"},
        ],
        "output_colorinterp": ["nir", "red", "green"],  # GDAL >= 3.10 has NIR (rasterio's wheels bundle 3.10)
        # not stated by the dataset either: streets, cars and houses in the 256-px tiles say about 0.5-0.7 m
        "pixel_size_m": 0.6,
        "licence": "CC BY-NC-SA 4.0 (weights trained on CC BY-NC-SA data: non-commercial, share alike)",
        "data_licence": "CC BY-NC-SA 4.0 (github.com/mhaut/UIMG2DSM); underlying ISPRS Potsdam data: ISPRS terms, "
        "research use",
        "architecture_note": "Roofs and trees must land exactly on their footprints, which the "
        "U-Net's skip connections preserve.",
    },
}


def _budget(run: str, training: dict) -> dict:
    """Iterations and images seen, from the run's config where its card predates recording them."""
    if "iterations" in training or not os.path.isfile(os.path.join(run, "config.yaml")):
        return {}
    import yaml

    from geo2map.train.config import training_budget

    cfg = yaml.safe_load(Path(run, "config.yaml").read_text())
    iterations, images = training_budget(training, cfg["batch_size"], cfg.get("max_steps_per_epoch"))
    return {"iterations": iterations, "images_seen": images} if iterations else {}


def _palette(run: str, arg: str, training: dict) -> dict:
    """The card's ``output_palette``: k-means over pixels of the training targets the run fitted on
    (the run's config.yaml; for a model file, its card's data and seed with the default hold-out)."""
    import yaml

    from geo2map.evaluate import _pairs  # the same file lists and hold-out as geo2map train and evaluate
    from geo2map.image_io import read_image
    from geo2map.palette import learn_palette
    from geo2map.train.data import holdout_split

    k, levels = arg.split(":")
    config = Path(run, "config.yaml")
    cfg = yaml.safe_load(config.read_text()) if config.exists() else {}
    cfg = {"data": str(ROOT / training["data"]), "val_fraction": 0.1, "seed": training["seed"], **cfg}
    kind, files = _pairs(cfg["data"], "all", cfg["val_fraction"], cfg["seed"])
    if kind != "sbs" or cfg.get("direction", "AtoB") != "AtoB":
        sys.exit("--palette: only A|B side-by-side training images are supported")
    train = holdout_split(files, cfg["val_fraction"], cfg["seed"])[0]
    if len(train) != training.get("train_samples", len(train)):
        sys.exit(f"--palette: {len(train)} training images, the card says {training['train_samples']}")

    def targets():
        for f in train:
            img = read_image(f)
            yield img[:, :, img.shape[2] // 2 :]

    return learn_palette(targets(), int(k), float(levels), per_image=1000).to_card()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name", choices=sorted(BUILTIN_CARDS))
    ap.add_argument(
        "run",
        help="the training run folder (model.safetensors, history.json), or a model file: the shipped "
        "built-in itself re-cards it (its weights and training record kept)",
    )
    ap.add_argument("--metrics", default=None, help="a geo2map evaluate report.json to record in the card")
    ap.add_argument("--out-dir", default=str(ROOT / "geo2map" / "models" / "builtin"), help="where to write")
    ap.add_argument("--status", default=None, help="a note on the state of the model, e.g. 'interim: 5 of 12 epochs'")
    ap.add_argument("--hardware", default=None, help="what it was trained on, where the run's own record is too coarse")
    ap.add_argument(
        "--palette",
        default=None,
        metavar="K:LEVELS",
        help="learn a K-colour output palette from the run's training targets (not its hold-out), snapping "
        "within LEVELS, e.g. 16:8 (geo2map.palette)",
    )
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from geo2map.models.card import Band
    from geo2map.models.package import load_model, save_model

    m = load_model(args.run if args.run.endswith(".safetensors") else os.path.join(args.run, "model.safetensors"))
    spec = {**COMMON, **BUILTIN_CARDS[args.name]}
    projected = (m.card.training.get("init_from") or {}).get("projected_to_resize")
    base = BOUNDED_NOTE if m.card.grid_independent else PROJECTED_NOTE if projected else SIZE_NOTE
    note = f"{base} {spec.pop('architecture_note')}"
    pixel = spec.pop("pixel_size_m", None)
    data_licence = spec.pop("data_licence")
    training = {**m.card.training, "data_licence": data_licence, "architecture_choice": note}
    if pixel:
        training["pixel_size_m"] = pixel  # translate warns when a scene's pixels are more than 2x off
    training["data"] = os.path.relpath(training.get("data", ""), ROOT) if training.get("data") else ""
    if training.get("command"):  # the command as a user types it, not this machine's paths
        first, _, rest = training["command"].partition(" ")
        rest = rest.replace(f"{ROOT.parent}/shared/", "../shared/")
        rest = re.sub(r"--out (\S+)", lambda m: f"--out runs/{os.path.basename(m.group(1).rstrip('/'))}", rest)
        prog = "geo2map" if first in ("-c", "") else os.path.basename(first)  # run as python -c '...cli()'
        training["command"] = f"{prog} {rest}".strip()
    training.update(_budget(args.run, training))
    if args.hardware:
        training["hardware"] = args.hardware
    if args.status:
        training["status"] = args.status
    metrics = dict(m.card.metrics)
    if args.metrics:
        rep = json.loads(Path(args.metrics).read_text())
        metrics["evaluate"] = {"split": rep["split"], "pairs": rep["pairs"], **rep["metrics"]}
    if not m.card.grid_independent:
        spec["tile_size"], spec["overlap"] = UNBOUNDED_TILE, UNBOUNDED_OVERLAP
    if args.palette:
        spec["output_palette"] = _palette(args.run, args.palette, m.card.training)
    card = dataclasses.replace(
        m.card,
        name=args.name,
        input_bands=[Band(**b) for b in spec.pop("input_bands")],
        output_bands=[Band(**b) for b in spec.pop("output_bands")],
        training=training,
        metrics=metrics,
        **spec,
    ).validate()
    out = Path(args.out_dir) / f"{args.name}.safetensors"
    out.parent.mkdir(parents=True, exist_ok=True)
    save_model(out, m.generator, card, half=True)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB): {card.one_line()}")


if __name__ == "__main__":
    main()
