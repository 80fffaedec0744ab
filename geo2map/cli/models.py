"""``geo2map models``: list, describe and import models."""

from __future__ import annotations

import json
import os
from typing import Any

import click


@click.group(short_help="List, describe, import and export models.")
def models() -> None:
    """Model files are .safetensors (or exported .onnx) files whose metadata holds a JSON model card."""


@models.command("list")
def list_models() -> None:
    """Built-in and plugin models with their cards' one-line summaries."""
    from geo2map.models.package import read_card
    from geo2map.models.registry import IDENTITY, available, identity_card

    click.echo(f"{IDENTITY:12s} {identity_card(1, 'uint8').summary} [any bands]")
    for name, path in sorted(available().items()):
        try:
            line = read_card(path).one_line()
        except Exception as exc:  # noqa: BLE001 - list the others
            line = f"(unreadable: {exc})"
        click.echo(f"{name:12s} {line}")


@models.command("info")
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print the whole card as JSON.")
def info(model: str, as_json: bool) -> None:
    """Show the model card of a built-in model NAME or a model file PATH."""
    from geo2map.models.package import read_card
    from geo2map.models.registry import IDENTITY, identity_card, resolve

    # identity takes any bands; show it for one 8-bit band
    card = identity_card(1, "uint8") if model == IDENTITY else read_card(resolve(model))
    if as_json:
        click.echo(json.dumps(card.to_dict(), indent=2))
        return
    a = card.architecture
    click.echo(f"{card.name}: {card.summary}")
    click.echo(f"  task            {card.task}, inference in {card.inference_mode} mode")
    click.echo(
        f"  architecture    {a.generator}, ngf {a.ngf}, norm {a.norm}, dropout {a.dropout}, "
        f"upsample {a.upsample}, padding {a.padding}"
    )
    if card.task != "identity":
        rf = card.receptive_field or 0
        if card.grid_independent:
            sees = f"fits the {card.overlap} px overlap: a tiled translation equals a whole-scene one"
        elif rf >= card.tile_size:
            sees = f"wider than the {card.tile_size} px tile: what a tile holds tints all its pixels"
        else:
            sees = "per-tile normalisation statistics or too little overlap: tiles differ"
        click.echo(f"  receptive field {rf} px ({sees})")
    click.echo(f"  input bands     {', '.join(b.name for b in card.input_bands) or a.in_bands}")
    click.echo(f"  input scaling   {card.input_scaling['name']} {json.dumps(card.input_scaling.get('params', {}))}")
    click.echo(f"  output bands    {', '.join(b.name for b in card.output_bands) or a.out_bands} ({card.output_dtype})")
    click.echo(f"  output scaling  {card.output_scaling['name']} {json.dumps(card.output_scaling.get('params', {}))}")
    from geo2map.palette import Palette

    palette = Palette.from_card(card)
    if palette:
        click.echo(f"  output palette  {palette.describe()} (translate --no-palette: off)")
    click.echo(f"  tiles           {card.tile_size} px, overlap {card.overlap}")
    for title, section in (("training", card.training), ("metrics", card.metrics)):
        if section:
            click.echo(f"  {title}")
            _echo_section(section, "    ")
    if card.licence:
        click.echo(f"  licence         {card.licence}")


def _echo_section(section: dict[str, Any], indent: str) -> None:
    """One ``key  value`` line per item, nested mappings indented, long text wrapped (``--json`` has it raw)."""
    import textwrap

    width = max(len(k) for k in section) + 2
    for key, value in section.items():
        if isinstance(value, dict):
            click.echo(f"{indent}{key}")
            _echo_section(value, indent + "  ")
            continue
        text = (
            f"{value:.4g}" if isinstance(value, float) else json.dumps(value) if isinstance(value, list) else str(value)
        )
        lines = textwrap.wrap(text, 110 - len(indent) - width) or [""]
        click.echo(f"{indent}{key.ljust(width)}{lines[0]}")
        for line in lines[1:]:
            click.echo(f"{indent}{' ' * width}{line}")


@models.command("import")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.option(
    "--arch",
    required=True,
    type=click.Choice(["unet_128", "unet_256", "resnet_6blocks", "resnet_9blocks"]),
    help="The reference architecture (netG) the checkpoint was trained with.",
)
@click.option("--in-bands", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--out-bands", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--ngf", type=click.IntRange(min=1), default=64, show_default=True)
@click.option(
    "--norm",
    type=click.Choice(["batch", "instance", "none"]),
    default=None,
    help="Default: batch for U-Nets (pix2pix), instance for ResNets (CycleGAN).",
)
@click.option("--dropout/--no-dropout", default=None, help="Default: on for U-Nets, off for ResNets.")
@click.option(
    "--inference-mode",
    type=click.Choice(["eval", "train"]),
    default=None,
    help="Default: train for pix2pix U-Nets (as the reference's test.py), eval otherwise.",
)
@click.option("--name", default=None, help="Model name for the card.")
@click.option("--half", is_flag=True, help="Store weights as float16.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The .safetensors file to write.")
@click.option("--overwrite", is_flag=True)
def import_(
    checkpoint: str,
    arch: str,
    in_bands: int,
    out_bands: int,
    ngf: int,
    norm: str | None,
    dropout: bool | None,
    inference_mode: str | None,
    name: str | None,
    half: bool,
    output: str,
    overwrite: bool,
) -> None:
    """Convert a reference pix2pix/CycleGAN CHECKPOINT (.pth, read weights-only) into a model file."""
    from geo2map.models.compat import import_reference_checkpoint
    from geo2map.raster.write import check_output_path

    check_output_path(output, overwrite)
    card = import_reference_checkpoint(
        checkpoint,
        output,
        arch=arch,
        in_bands=in_bands,
        out_bands=out_bands,
        ngf=ngf,
        norm=norm,
        dropout=dropout,
        name=name,
        inference_mode=inference_mode,
        half=half,
    )
    click.echo(f"wrote {output}: {card.one_line()}")


import_.name = "import"


@models.command("export")
@click.argument("model")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The .onnx file to write.")
@click.option("--half", is_flag=True, help="Store weights as float16 (cast to float32 in the graph): half the size.")
@click.option("--overwrite", is_flag=True)
def export(model: str, output: str, half: bool, overwrite: bool) -> None:
    """Export MODEL (a built-in name or a model file) to ONNX, its card in the metadata.

    The graph takes float32 (batch, bands, height, width) in [-1, 1], batch, height and
    width dynamic, and runs in onnxruntime without PyTorch (geo2map translate --model
    OUT.onnx). Needs torch and onnx (pip install 'geo2map[torch,onnx]').
    """
    from geo2map.errors import InputError
    from geo2map.models.onnx_model import export_onnx, is_onnx
    from geo2map.raster.write import check_output_path

    if not is_onnx(output):
        raise InputError(f"output {output} must end in .onnx")
    check_output_path(output, overwrite)
    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise InputError(f"export needs {exc.name}: pip install 'geo2map[torch,onnx]'") from None
    from geo2map.models.package import read_card

    export_onnx(model, output, overwrite=overwrite, half=half)
    size = os.path.getsize(output) / 1e6
    click.echo(f"wrote {output} ({size:.1f} MB): {read_card(output).one_line()}")
