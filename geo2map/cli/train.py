"""``geo2map train``: train a Pix2Pix or CycleGAN model into a run folder."""

from __future__ import annotations

import sys
from typing import Any

import click

from geo2map.cli.stderr_filter import stderr_is_terminal, terminal_columns


def _parse_sets(items: tuple[str, ...]) -> dict[str, Any]:
    import yaml

    from geo2map.errors import InputError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--set {item!r} is not KEY=VALUE")
        try:
            out[key.strip().replace("-", "_")] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise InputError(f"--set {item!r}: cannot parse the value") from None
    return out


@click.command(short_help="Train a Pix2Pix or CycleGAN model.")
@click.option("--mode", type=click.Choice(["pix2pix", "cyclegan"]), default="pix2pix", show_default=True)
@click.option(
    "--data",
    required=True,
    type=click.Path(),
    help="A raster (with --pair), a 'geo2map tile --pair' folder, trainA/trainB folders, or a folder of A|B images.",
)
@click.option(
    "--pair",
    type=click.Path(dir_okay=False),
    default=None,
    help="The target raster for a raster --data (resampled onto its grid if needed).",
)
@click.option(
    "-o", "--output", "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="The run folder."
)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, help="YAML options.")
@click.option(
    "--preset",
    type=click.Choice(["paper", "stable", "hd"]),
    default=None,
    help="paper: the reference recipe; stable: TTUR, label smoothing, instance noise, cosine LR; "
    "hd: stable + multi-scale discriminator and feature matching (pix2pixHD).",
)
@click.option("--epochs", type=click.IntRange(min=1), default=None)
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option(
    "--generator",
    type=click.Choice(["unet_32", "unet_64", "unet_128", "unet_256", "resnet_6blocks", "resnet_9blocks"]),
    default=None,
    help="unet_32/unet_64: bounded receptive field (tiled = whole-scene translation).",
)
@click.option("--upsample", type=click.Choice(["deconv", "resize"]), default=None, help="Decoder up-sampling.")
@click.option("--padding", type=click.Choice(["zeros", "reflect"]), default=None, help="Convolution padding.")
@click.option("--ngf", type=click.IntRange(min=1), default=None)
@click.option(
    "--init-from",
    default=None,
    metavar="MODEL",
    help="Fine-tune: start the generator from a built-in or model file of the same architecture "
    "(a deconv model can start a --upsample resize training: its decoder is projected).",
)
@click.option("--gan-mode", type=click.Choice(["vanilla", "lsgan", "hinge"]), default=None)
@click.option("--crop-size", type=click.IntRange(min=8), default=None, help="Training tile size.")
@click.option("--direction", type=click.Choice(["AtoB", "BtoA"]), default=None, help="For A|B images.")
@click.option("--device", default=None, help="auto (default), cpu, cuda, cuda:1 ...")
@click.option("--seed", type=int, default=None)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any other option of the configuration (see README), e.g. --set lambda_l1=50.",
)
@click.option("--no-resume", is_flag=True, help="Start afresh even if the run folder has a checkpoint.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def train(
    mode: str,
    data: str,
    pair: str | None,
    out_dir: str,
    config_path: str | None,
    preset: str | None,
    epochs: int | None,
    batch_size: int | None,
    generator: str | None,
    upsample: str | None,
    padding: str | None,
    ngf: int | None,
    init_from: str | None,
    gan_mode: str | None,
    crop_size: int | None,
    direction: str | None,
    device: str | None,
    seed: int | None,
    sets: tuple[str, ...],
    no_resume: bool,
    quiet: bool,
) -> None:
    """Train into OUT: model.safetensors (with its card) at each checkpoint and at the end,
    config.yaml, checkpoint.pt, samples/*.png and losses.png."""
    from geo2map.train.config import resolve_config
    from geo2map.train.loop import Trainer

    overrides = {
        "data": data,
        "pair": pair,
        "epochs": epochs,
        "batch_size": batch_size,
        "generator": generator,
        "upsample": upsample,
        "padding": padding,
        "ngf": ngf,
        "init_from": init_from,
        "gan_mode": gan_mode,
        "crop_size": crop_size,
        "direction": direction,
        "device": device,
        "seed": seed,
        "mode": mode if mode != "pix2pix" else None,
        "preset": preset,
        **_parse_sets(sets),
    }
    if crop_size and "tile_size" not in overrides:
        overrides["tile_size"] = crop_size
    cfg = resolve_config(mode, preset, config_path, overrides)
    bar = None
    if not quiet and stderr_is_terminal():  # a bar on a terminal; epoch lines only in a log
        from tqdm import tqdm

        bar = tqdm(total=0, unit="step", ncols=terminal_columns(), leave=False, delay=0.5)

    def progress(info: dict[str, Any]) -> None:
        if quiet:
            return
        if "epoch_end" in info:
            m = info["metrics"]
            text = ", ".join(f"{k} {v:.4g}" for k, v in m.items() if k != "epoch")
            line = f"epoch {info['epoch_end']}/{info['epochs']}: {text}"
            bar.write(line, file=sys.stderr) if bar is not None else click.echo(line, err=True)
            return
        if bar is None:
            return
        if info["step"] == 1:
            bar.reset(total=info["steps"])
        bar.set_description(f"epoch {info['epoch']}/{info['epochs']}")
        bar.set_postfix({k: f"{v:.3f}" for k, v in info["losses"].items()}, refresh=False)
        bar.update(1)

    try:
        final = Trainer(cfg, out_dir, progress).fit(resume=not no_resume)
    finally:
        if bar is not None:
            bar.close()
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in final.items() if k.startswith("val_"))
    click.echo(f"wrote {out_dir}/model.safetensors" + (f" ({metrics})" if metrics else ""))
