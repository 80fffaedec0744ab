"""``geo2map evaluate``: metrics of a model on paired data (a thin front on geo2map.evaluate)."""

from __future__ import annotations

import json
from typing import Any

import click

from geo2map.cli.options import bidx_opt, nodata_opt, pair_bidx_opt, palette_opt, progress_bar


@click.command(short_help="RMSE, MAE, PSNR, SSIM, pixel accuracy of a model on paired data.")
@click.option("-m", "--model", required=True, metavar="NAME|FILE", help="A built-in model name or a model file.")
@click.option(
    "--data",
    required=True,
    type=click.Path(exists=True),
    help="A/B folders (trainA/valA/testA...), a folder of A|B images, or an input raster (with --pair).",
)
@click.option("--pair", type=click.Path(exists=True, dir_okay=False), default=None, help="The target raster.")
@pair_bidx_opt
@click.option(
    "--split",
    default="auto",
    show_default=True,
    help="Which pairs of a folder: auto (val, else test, else the hold-out 'geo2map train' made), "
    "holdout, val, test, train, all.",
)
@click.option("--val-fraction", type=float, default=0.1, show_default=True, help="Hold-out share (as in training).")
@click.option("--seed", type=int, default=0, show_default=True, help="Hold-out seed (as in training).")
@click.option("--direction", type=click.Choice(["AtoB", "BtoA"]), default="AtoB", show_default=True)
@click.option("--max-pairs", type=click.IntRange(min=1), default=None, help="Evaluate at most this many pairs.")
@click.option(
    "--crop-pairs",
    type=click.IntRange(min=0),
    default=8,
    show_default=True,
    help="Pairs (the first) that also get the crop-consistency test (a crop translated alone).",
)
@click.option(
    "-o", "--out-dir", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="Report folder."
)
@bidx_opt
@nodata_opt
@palette_opt
@click.option("--device", default="auto", show_default=True)
@click.option("--precision", default="fp32", show_default=True, type=click.Choice(["auto", "fp32", "bf16", "fp16"]))
@click.option("--quiet", "-q", is_flag=True)
def evaluate(
    model: str,
    data: str,
    pair: str | None,
    pair_bidx: tuple[int, ...] | None,
    split: str,
    direction: str,
    max_pairs: int | None,
    crop_pairs: int,
    val_fraction: float,
    seed: int,
    out_dir: str,
    bidx: tuple[int, ...] | None,
    nodata: float | None,
    palette: bool,
    device: str,
    precision: str,
    quiet: bool,
) -> None:
    """Translate the inputs of paired data with MODEL and compare with the targets.

    Writes OUT_DIR/report.json (metrics overall and per pair), OUT_DIR/samples.png
    (input | output | target | error) and, for a raster pair, OUT_DIR/prediction.tif
    and OUT_DIR/error.tif on the input's grid. Metrics are in 8-bit levels of the
    model card's output scaling (see README).
    """
    from geo2map.evaluate import evaluate as run

    options: dict[str, Any] = {k: v for k, v in {"bidx": bidx, "nodata": nodata}.items() if v is not None}
    with progress_bar("evaluating", not quiet, unit="pair") as progress:
        rep = run(
            model,
            data,
            out_dir,
            pair=pair,
            pair_bidx=pair_bidx,
            direction=direction,
            split=split,
            max_pairs=max_pairs,
            crop_pairs=crop_pairs,
            val_fraction=val_fraction,
            seed=seed,
            progress=progress,
            device=device,
            precision=precision,
            palette=palette,
            **options,
        )
    click.echo(json.dumps({"model": rep.model, "pairs": rep.pairs, **{k: round(v, 4) for k, v in rep.metrics.items()}}))
    click.echo(
        f"report {rep.report}; samples {rep.samples}" + (f"; error map {rep.error_map}" if rep.error_map else "")
    )
