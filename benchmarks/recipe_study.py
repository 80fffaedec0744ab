"""A fixed-budget recipe study: which generator and objective give artefact-free, accurate translations?

Every recipe trains on the same number of training images (``--images``, fixed seed,
batch 4) for each task, then is evaluated on the task's held-out split by ``geo2map
evaluate`` (accuracy and artefact metrics, the same pipeline users run). Counting
images rather than wall-clock keeps the comparison fair when the machine is shared;
each recipe's training-step time and inference speed are measured separately
(``time`` phase: run it on an idle machine) so quality per unit of compute is visible.

    python benchmarks/recipe_study.py train --runs /work/runs/study        # all tasks x recipes (resumes)
    python benchmarks/recipe_study.py time  --runs /work/runs/study        # step time, inference speed
    python benchmarks/recipe_study.py eval  --runs /work/runs/study        # held-out metrics
    python benchmarks/recipe_study.py table --runs /work/runs/study        # markdown tables (README)
    python benchmarks/recipe_study.py all   --runs /work/runs/study --images 8000 --tasks sar2rgb

Tasks: ``sar2rgb`` (SEN12 VH→RGB, scene-split test set), ``sat2map`` (pix2pix maps,
the 10% hold-out ``geo2map train`` keeps back), ``dsm2rgb`` (Potsdam nDSM→IRRG, val).
Training data come from ``--data`` (default ``../shared/data/train``); the study skips
a task whose data are absent. Run folders are resumable: an interrupted ``train``
continues where it stopped, exactly.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BATCH = 4
EPOCHS = 6  # the budget is spread over at least 6 epochs so the cosine one-cycle LR runs its course

#: task -> (data folder under --data, evaluation split, shipped built-in to compare with)
TASKS: dict[str, tuple[str, str]] = {
    "sar2rgb": ("sar2rgb_sen12_volkov", "test"),
    "sat2map": ("sat2map_pix2pix_maps", "holdout"),
    "dsm2rgb": ("dsm2rgb_potsdam", "val"),
}

#: recipe -> (what it changes, train options). All: pix2pix, ``stable`` preset unless
#: said otherwise, ngf 16, batch 4, crop 256, batch norm, dropout, seed 0.
RECIPES: dict[str, tuple[str, dict[str, Any]]] = {
    "v1": ("today's built-in recipe: U-Net-256, transposed convs, zero padding", {"generator": "unet_256"}),
    "resize": (
        "+ resize-conv decoder, reflection padding",
        {"generator": "unet_256", "upsample": "resize", "padding": "reflect"},
    ),
    "resize_zeros": (
        "resize-conv decoder, zero padding, half-tile overlap (the shipped U-Net-256's padding and tiling)",
        {"generator": "unet_256", "upsample": "resize", "padding": "zeros", "overlap": 128},
    ),
    "projected": (
        # since 2026-12-05 the built-in *is* this recipe's result, so a rerun fine-tunes it further; the
        # transposed-conv original: `git show 15cbcf9:geo2map/models/builtin/sar2rgb.safetensors`
        "the transposed-conv sar2rgb, its decoder projected onto resize-convs, fine-tuned (init_from)",
        {"generator": "unet_256", "upsample": "resize", "padding": "zeros", "overlap": 128, "init_from": "sar2rgb"},
    ),
    "bounded": (
        "+ bounded receptive field (U-Net-32, 158 px)",
        {"generator": "unet_32", "upsample": "resize", "padding": "reflect"},
    ),
    "bounded_hd": (
        "+ multi-scale D (2 scales) and feature matching (λ_fm 10): preset hd",
        {"generator": "unet_32", "upsample": "resize", "padding": "reflect", "preset": "hd"},
    ),
    "bounded_hd_ngf32": (
        "bounded_hd at ngf 32",
        {"generator": "unet_32", "upsample": "resize", "padding": "reflect", "preset": "hd", "ngf": 32},
    ),
}


def _geo2map() -> list[str]:
    return [sys.executable, "-c", "from geo2map.cli.main import cli; cli()"]


def train_command(task: str, recipe: str, args: argparse.Namespace) -> list[str]:
    folder, _ = TASKS[task]
    opts = {"preset": "stable", "ngf": 16, **RECIPES[recipe][1]}
    epochs, steps = budget(args.images, train_count(Path(args.data) / folder))
    cmd = [
        *_geo2map(),
        "train",
        "--data",
        str(Path(args.data) / folder),
        "--out",
        str(run_dir(args, task, recipe)),
        "--epochs",
        str(epochs),
        "--batch-size",
        str(BATCH),
        "--seed",
        str(args.seed),
        "-q",
        "--set",
        f"max_steps_per_epoch={steps}",
        "--set",
        # validation only at the end (evaluate does the real held-out run), or with each kept model
        f"val_every={args.keep_every or 1000}",
        "--set",
        f"keep_every={args.keep_every}",  # models/epoch_NNN.safetensors, to pick one by held-out metrics
        "--set",
        "samples=2",
        "--set",
        "checkpoint_every=1",  # an interrupted run resumes from its last epoch
        "--set",
        f"name={task}_{run_dir(args, task, recipe).name}",
    ]
    for key in ("generator", "preset", "ngf", "upsample", "padding"):
        if key in opts:
            cmd += [f"--{key}", str(opts[key])]
    for key in ("overlap", "init_from"):
        if key in opts:
            cmd += ["--set", f"{key}={opts[key]}"]
    return cmd


def run_dir(args: argparse.Namespace, task: str, recipe: str) -> Path:
    """A recipe's run folder: ``RUNS/task/recipe``, with ``_seedN`` for a seed other than 0.

    ``shipped`` (today's built-in, evaluated as users run it) is not trained here: it has no seed.
    """
    seeded = args.seed and recipe != "shipped"
    return Path(args.runs) / task / (recipe + (f"_seed{args.seed}" if seeded else ""))


def train_count(data: Path) -> int:
    """How many training pairs ``geo2map train`` keeps from ``data`` (after its validation split)."""
    from geo2map.train.config import TrainConfig
    from geo2map.train.inputs import build_datasets

    return len(build_datasets(TrainConfig(data=str(data))).train)


def budget(images: int, n_train: int) -> tuple[int, int]:
    """(epochs, steps per epoch) that show ``images`` training images at batch 4.

    At least :data:`EPOCHS` epochs; more when one epoch of the training set is too short
    to hold its share, so a small set (Potsdam: 400 pairs) still gets the full budget.
    """
    from geo2map.train.config import steps_per_epoch

    per_epoch = max(1, steps_per_epoch(n_train, BATCH))
    epochs = max(EPOCHS, -(-images // (per_epoch * BATCH)))
    return epochs, max(1, min(per_epoch, images // (epochs * BATCH)))


def _tasks(args: argparse.Namespace) -> list[str]:
    out = []
    for task in args.tasks:
        if (Path(args.data) / TASKS[task][0]).is_dir():
            out.append(task)
        else:
            print(f"skip {task}: no data at {Path(args.data) / TASKS[task][0]}", file=sys.stderr)
    return out


def phase_train(args: argparse.Namespace) -> None:
    for task in _tasks(args):
        for recipe in args.recipes:
            run = run_dir(args, task, recipe)
            done = run / "history.json"
            epochs = budget(args.images, train_count(Path(args.data) / TASKS[task][0]))[0]
            if done.exists() and len(json.loads(done.read_text())) >= epochs:
                continue
            run.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            print(f"train {task}/{recipe}", flush=True)
            subprocess.run(train_command(task, recipe, args), check=True, cwd=ROOT)
            print(f"  {time.perf_counter() - t0:.0f} s", flush=True)


def _run_config(run: Path) -> Any:
    import yaml

    from geo2map.train.config import TrainConfig

    return TrainConfig(**yaml.safe_load((run / "config.yaml").read_text()))


def _step_time(run: Path, in_bands: int, out_bands: int, steps: int = 8) -> float:
    """Seconds per training step (batch 4, 256 px, the run's config and precision) on random data."""
    import torch

    from geo2map.train.gans import CycleGAN, Pix2Pix
    from geo2map.train.schedule import autocast_dtype

    cfg = _run_config(run)
    device = torch.device("cpu")
    cls = Pix2Pix if cfg.mode == "pix2pix" else CycleGAN
    model = cls(cfg, in_bands, out_bands, device, autocast_dtype(cfg.amp, device))
    model.train(True)
    batch = {"A": torch.rand(BATCH, in_bands, 256, 256) * 2 - 1, "B": torch.rand(BATCH, out_bands, 256, 256) * 2 - 1}
    for _ in range(2):
        model.step(batch)
    t0 = time.perf_counter()
    for _ in range(steps):
        model.step(batch)
    return (time.perf_counter() - t0) / steps


def _inference_speed(model_path: Path, work: Path) -> tuple[float, float]:
    """(network-only 256-px patches/s, end-to-end output Mpx/s on a generated 2048² scene)."""
    import numpy as np
    import rasterio

    from geo2map.inference import Translator
    from geo2map.models.package import load_model
    from geo2map.translate import translate_raster

    loaded = load_model(model_path)
    a = loaded.card.architecture
    tr = Translator(loaded, device="cpu", precision="auto", batch_size=4)
    x = np.random.default_rng(0).uniform(-1, 1, (4, a.in_bands, 256, 256)).astype(np.float32)
    tr.run_batch(x)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 5:
        tr.run_batch(x)
        n += 4
    patches = n / (time.perf_counter() - t0)
    rng = np.random.default_rng(1)
    size = 2048
    scene = work / "scene.tif"
    smooth = np.cumsum(np.cumsum(rng.normal(size=(a.in_bands, size, size)), 1), 2)
    lo, hi = smooth.min(), smooth.max()
    with rasterio.open(
        scene,
        "w",
        driver="GTiff",
        width=size,
        height=size,
        count=a.in_bands,
        dtype="uint8",
        crs="EPSG:32633",
        transform=rasterio.transform.from_origin(500000, 5000000, 10, 10),
    ) as ds:
        ds.write(((smooth - lo) / (hi - lo) * 255).astype("uint8"))
    t0 = time.perf_counter()
    translate_raster(scene, work / "out.tif", loaded, overwrite=True, device="cpu")
    return patches, size * size / 1e6 / (time.perf_counter() - t0)


def phase_time(args: argparse.Namespace) -> None:
    import tempfile

    from geo2map.models.package import read_card

    for task in _tasks(args):
        for recipe in args.recipes:
            run = run_dir(args, task, recipe)
            if not (run / "model.safetensors").exists():
                continue
            card = read_card(run / "model.safetensors")
            a = card.architecture
            with tempfile.TemporaryDirectory() as work:
                patches, mpx = _inference_speed(run / "model.safetensors", Path(work))
            timing = {
                "step_s": _step_time(run, a.in_bands, a.out_bands),
                "patches_per_s": patches,
                "scene_mpx_per_s": mpx,
                "tile": card.tile_size,
                "overlap": card.overlap,
            }
            (run / "timing.json").write_text(json.dumps(timing, indent=1))
            print(task, recipe, json.dumps({k: round(v, 3) for k, v in timing.items()}), flush=True)


def _evaluate(model: Any, task: str, out: Path, args: argparse.Namespace) -> None:
    from geo2map.evaluate import evaluate

    folder, split = TASKS[task]
    rep = evaluate(
        model,
        str(Path(args.data) / folder),
        str(out),
        split=split,
        max_pairs=args.max_pairs,
        crop_pairs=8,
        device="cpu",
        precision="fp32",
    )
    print(task, out.parent.name, json.dumps({k: round(v, 3) for k, v in rep.metrics.items()}), flush=True)


def phase_eval(args: argparse.Namespace) -> None:
    for task in _tasks(args):
        shipped = run_dir(args, task, "shipped")
        if not (shipped / "eval" / "report.json").exists():
            _evaluate(task, task, shipped / "eval", args)  # today's built-in, as users run it
        for recipe in args.recipes:
            run = run_dir(args, task, recipe)
            if (run / "model.safetensors").exists() and not (run / "eval" / "report.json").exists():
                _evaluate(str(run / "model.safetensors"), task, run / "eval", args)


COLUMNS = [
    ("RMSE", "rmse", ".2f"),
    ("PSNR dB", "psnr", ".2f"),
    ("SSIM", "ssim", ".3f"),
    ("δ5", "acc_delta5", ".3f"),
    ("δ10", "acc_delta10", ".3f"),
    ("checker", "checker", ".2f"),
    ("crop ring", "crop_ring", ".2f"),
    ("crop inner", "crop_inner", ".2f"),
]


def phase_table(args: argparse.Namespace) -> None:
    from geo2map.models.package import read_card

    for task in _tasks(args):
        rows = [("shipped", "today's shipped built-in (trained longer: not the same budget)")]
        rows += [(r, RECIPES[r][0]) for r in args.recipes]
        head = ["recipe", *[c[0] for c in COLUMNS], "step s", "patches/s", "scene Mpx/s", "tile / overlap"]
        print(f"\n#### {task} ({TASKS[task][1]} split, {args.max_pairs} pairs; {args.images} training images)\n")
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for recipe, _ in rows:
            run = run_dir(args, task, recipe)
            rep = run / "eval" / "report.json"
            if not rep.exists():
                continue
            m = json.loads(rep.read_text())["metrics"]
            cells = [recipe] + [format(m[k], f) if k in m else "–" for _, k, f in COLUMNS]
            t = json.loads((run / "timing.json").read_text()) if (run / "timing.json").exists() else {}
            card = read_card(json.loads(rep.read_text())["model_path"])
            cells += [
                format(t["step_s"], ".2f") if t else "–",
                format(t["patches_per_s"], ".0f") if t else "–",
                format(t["scene_mpx_per_s"], ".2f") if t else "–",
                f"{card.tile_size} / {card.overlap}",
            ]
            print("| " + " | ".join(cells) + " |")
        print()
        for recipe, what in rows:
            print(f"- `{recipe}`: {what}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("phase", choices=["train", "time", "eval", "table", "all"])
    ap.add_argument("--runs", required=True, help="where run folders go (keep it outside the repository)")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "train"))
    ap.add_argument("--images", type=int, default=1200, help="training images seen by every recipe")
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    ap.add_argument("--seed", type=int, default=0, help="training seed (run folders get _seedN)")
    ap.add_argument("--keep-every", type=int, default=0, help="keep the model (validated) every N epochs")
    ap.add_argument("--max-pairs", type=int, default=100, help="held-out pairs evaluated per task")
    args = ap.parse_args()
    phases = ["train", "time", "eval", "table"] if args.phase == "all" else [args.phase]
    for phase in phases:
        globals()[f"phase_{phase}"](args)


if __name__ == "__main__":
    main()
