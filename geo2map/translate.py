"""Translate a raster with a model: the streaming pipeline behind ``geo2map translate``.

One pass over the scene, in bounded memory::

    read strip (thread) → scale tiles with scene statistics → batch → network
    → un-scale → blend (streaming mosaicker) → write block rows (thread)

* The model card decides everything model-specific: the bands it takes, the
  scaling of raw values into [-1, 1] (fitted **once** on a decimated read of the
  whole scene, never per tile), the tile size, the minimum overlap, the output
  dtype, band names and colour interpretation, and the inference mode.
* Tiles without any valid pixel are skipped; output pixels are nodata wherever
  the input was nodata (a per-dataset mask for integer outputs, NaN for floats).
* The output has exactly the source's grid (CRS, transform, size) and is written
  to a temporary file renamed into place at the end: an error or an interrupt
  leaves nothing at ``dst``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from rasterio.enums import ColorInterp

from geo2map._version import __version__
from geo2map.errors import InputError, ModelError, OutputError
from geo2map.input_domain import fit_input_scaling
from geo2map.model_loading import load_while_fitting, open_for_model
from geo2map.mosaic.blend import BlendMethod
from geo2map.mosaic.stream import write_streamed
from geo2map.progress import Progress
from geo2map.raster.open import RasterSource
from geo2map.raster.output_policy import output_masking, spec_for
from geo2map.raster.padding import Pads, ReflectPadded, fit_tile, grid_anchor, padded_grid, scene_context
from geo2map.raster.resampled import resampled_view, write_back_onto
from geo2map.raster.safety import check_raster_output, check_side_output
from geo2map.raster.tiling import TileGrid
from geo2map.raster.write import OutputSpec, Preset
from geo2map.scene_checks import ResamplePlan, check_bands, polarisation_note, resample_plan, resolution_note
from geo2map.tile_flow import TileFlow

if TYPE_CHECKING:
    from geo2map.models.card import ModelCard
    from geo2map.models.package import LoadedModel, ModelRef
    from geo2map.sensors import Scaling


@dataclass
class TranslateResult:
    """What :func:`translate_raster` did."""

    path: str
    model: str
    tiles: int
    translated: int
    skipped: int
    seconds: float
    device: str
    precision: str
    input_scaling: dict[str, Any]
    quicklook: str | None = None
    notes: list[str] = field(default_factory=list)
    scaling: Any = field(default=None, repr=False)  # the fitted input Scaling
    output_tags: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def tiles_per_second(self) -> float:
        """Translated tiles per second of wall time."""
        return self.translated / self.seconds if self.seconds > 0 else float("nan")


def _tile_settings(card: ModelCard, tile_size: int | None, overlap: int | None) -> tuple[int, int]:
    size = int(tile_size or card.tile_size)
    if card.task != "identity":
        from geo2map.models.architectures import ARCHITECTURES as GENERATORS

        mult = GENERATORS[card.architecture.generator].multiple
        if size % mult:
            raise InputError(f"tile size {size} must be a multiple of {mult} for {card.architecture.generator}")
    recommended = min(card.overlap, size - 1)
    ov = recommended if overlap is None else int(overlap)
    if not 0 <= ov < size:
        raise InputError(f"overlap {ov} must be smaller than the tile size {size}")
    return size, ov


def _output_spec(
    card: ModelCard, source: RasterSource, preset: Preset, creation_options: dict[str, str] | None, tags: dict[str, str]
) -> tuple[OutputSpec, bool]:
    """The output's spec and whether blending keeps per-band weights."""
    if card.task == "identity":
        return spec_for(source, preset=preset, creation_options=creation_options, tags=tags), (
            source.mask_kind == "nodata"
        )
    dtype = card.output_dtype
    masked = source.mask_kind != "none"
    if np.dtype(dtype).kind == "f":  # NaN marks nodata in float outputs
        nodata, internal = (float("nan") if masked else None), False
    else:
        nodata, internal = output_masking(None, "mask" if masked else "none", dtype)
    colorinterp = None
    if card.output_colorinterp:
        try:
            colorinterp = tuple(ColorInterp[c.lower()] for c in card.output_colorinterp)
        except KeyError as exc:
            raise ModelError(f"model card has an unknown colour interpretation {exc}") from None
    descriptions = tuple(b.name or b.description for b in card.output_bands) or None  # as models info names them
    spec = OutputSpec.on_grid(
        source,
        count=card.architecture.out_bands,
        dtype=dtype,
        nodata=nodata,
        internal_mask=internal,
        preset=preset,
        creation_options=creation_options,
        descriptions=descriptions,
        colorinterp=colorinterp,
        tags={**source.notes, **tags},
    )
    return spec, False


def translate_raster(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    model: ModelRef,
    *,
    bidx: str | Sequence[int] | None = None,
    nodata: float | None = None,
    dst_crs: str | None = None,
    allow_ungeoreferenced: bool = False,
    tile_size: int | None = None,
    overlap: int | None = None,
    blend: str | BlendMethod = "cosine",
    batch_size: int | None = None,
    device: str = "auto",
    precision: str = "auto",
    channels_last: bool | None = None,
    preset: Preset = "deflate",
    creation_options: dict[str, str] | None = None,
    overwrite: bool = False,
    quicklook: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    seed: int = 0,
    tags: dict[str, str] | None = None,
    max_stripe_width: int = 8192,
    resample: str = "auto",
    palette: bool = True,
) -> TranslateResult:
    """Translate ``src`` with ``model`` into ``dst`` on exactly the source's grid.

    Args:
        src: Any GDAL raster (GeoTIFF, VRT, GCP-only SAR, ...).
        dst: Output GeoTIFF (or COG with ``preset="cog"``).
        model: A built-in model name (``identity``, ...), a model file path, or a
            :class:`~geo2map.models.package.LoadedModel`.
        bidx: 1-based bands to feed the model, e.g. ``"2"`` or ``[4, 3, 2]``. By default all
            bands, or, when their number differs from the model's, the bands whose
            descriptions are the card's input band names (``VH`` for sar2rgb).
        nodata: Input value to treat as nodata (overrides the raster's).
        dst_crs: CRS to warp GCP-only rasters onto (default: UTM of the centre).
        tile_size: Tile size (default: the card's).
        overlap: Overlap between tiles (default and minimum: the card's).
        blend: ``cosine``, ``linear``, ``none`` or a callable (see :mod:`geo2map.mosaic.blend`).
        batch_size, device, precision, channels_last, seed: See :class:`~geo2map.inference.Translator`.
        preset: ``deflate``, ``zstd`` or ``cog``; ``creation_options`` add GDAL options.
        quicklook: Also write a PNG with input | output side by side.
        resample: ``auto``: when the scene's pixels are more than 1.5x off the card's
            ``training.pixel_size_m``, translate at the model's pixel size (GDAL's
            ``average`` bringing finer pixels down, ``bilinear`` bringing pixels up to 4x
            coarser), then resample the output back onto the scene's grid, with a note.
            ``off``: translate on the scene's pixels (a note says how far off they are).
        palette: Snap near-palette output colours to the card's ``output_palette``
            (:mod:`geo2map.palette`), if it has one.
        tags: Extra metadata items for the output (GDAL default domain).
        progress: Called as ``progress(tiles_done, tiles_total)``; skipped empty
            tiles count as done. An exception raised in it stops the run (nothing
            is left at ``dst``), which is how a front end cancels.

    Raises:
        Geo2MapError subclasses (one-line messages) for bad inputs, models and outputs.
    """
    t_start = time.perf_counter()
    dst = os.fspath(dst)
    check_raster_output(dst, overwrite)
    if quicklook:
        check_side_output(quicklook, overwrite, inputs=[src], outputs=[dst])
    source, card = open_for_model(
        src, model, bidx, dst_crs=dst_crs, allow_ungeoreferenced=allow_ungeoreferenced, nodata=nodata
    )
    with source:
        check_bands(card, source)
        plan = resample_plan(card, source, resample)
        job = _Job(
            src, model, card, tile_size, overlap, blend, batch_size, device, precision, channels_last,
            seed=seed, tags=tags, progress=progress, max_stripe_width=max_stripe_width, palette=palette,
        )  # fmt: skip
        if plan is None:
            result = _translate(job, source, dst, preset, creation_options, overwrite)
        else:
            result = _translate_resampled(job, source, dst, plan, preset, creation_options, overwrite)
        if quicklook:
            result.quicklook = _quicklook(source, dst, quicklook, card, result.scaling, overwrite)
    result.seconds = time.perf_counter() - t_start
    return result


@dataclass
class _Job:
    """What one translation runs with, beyond the raster it reads and writes."""

    src: Any
    model: ModelRef
    card: ModelCard
    tile_size: int | None
    overlap: int | None
    blend: str | BlendMethod
    batch_size: int | None
    device: str
    precision: str
    channels_last: bool | None
    seed: int = 0
    tags: dict[str, str] | None = None
    progress: Progress | None = None
    max_stripe_width: int = 8192
    palette: bool = True


def _translate(
    job: _Job,
    source: RasterSource,
    dst: str,
    preset: Preset,
    creation_options: dict[str, str] | None,
    overwrite: bool,
) -> TranslateResult:
    """Translate the opened ``source`` on its own grid into ``dst`` (no quicklook)."""
    from geo2map.inference import Translator

    t_start, card = time.perf_counter(), job.card
    size, ov = _tile_settings(card, job.tile_size, job.overlap)
    loaded, (in_scaling, out_scaling, notes) = load_while_fitting(
        job.model, source, job.device, lambda: _scalings_and_notes(card, source, size, ov)
    )
    tile = size if job.tile_size else fit_tile(card, size, ov, source.width, source.height)
    translator = Translator(
        loaded,
        device=job.device,
        precision=job.precision,
        batch_size=job.batch_size,
        channels_last=job.channels_last,
        seed=job.seed,
        tile_size=tile,
    )
    canvas = _Canvas(card, source, tile, ov)
    all_tags = _output_tags(loaded, in_scaling, canvas, job.blend, job.tags)
    if job.palette and card.output_palette:
        all_tags["GEO2MAP_PALETTE"] = json.dumps(card.output_palette["max_distance"])
    spec, per_band = _output_spec(card, source, preset, creation_options, all_tags)
    grid, pads, margin = canvas.grid, canvas.pads, canvas.margin
    # the stripe limit is on the scene's width: the padding around it (< 2 tiles) must not split a scene in two
    wide = job.max_stripe_width + (pads.left + pads.right if pads else 0)
    flow = TileFlow(
        job.src, card, grid, canvas.reader, in_scaling, out_scaling, translator, job.progress, wide, job.palette
    )
    write_streamed(
        source, dst, spec, grid, flow.tiles, overwrite, job.blend, per_band, wide, pads, margin, finish=flow.finish
    )
    flow.report(flow.total)
    result = flow.result(dst, time.perf_counter() - t_start, translator, in_scaling, None, notes)
    result.scaling, result.output_tags = in_scaling, all_tags
    return result


def _translate_resampled(
    job: _Job,
    source: RasterSource,
    dst: str,
    plan: ResamplePlan,
    preset: Preset,
    creation_options: dict[str, str] | None,
    overwrite: bool,
) -> TranslateResult:
    """Translate ``source`` read at the model's pixel size (``plan``) into a temporary raster
    beside ``dst``, then resample that onto the scene's grid into ``dst``."""
    folder = os.path.dirname(os.path.abspath(dst))
    try:
        work = tempfile.TemporaryDirectory(prefix=f".{os.path.basename(dst)}.", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write in output folder {folder}: {exc.strerror}") from None
    with work as tmp:
        on_model_grid = os.path.join(tmp, "model_grid.tif")
        with resampled_view(source, plan.width, plan.height, plan.read) as view:
            result = _translate(job, view, on_model_grid, "deflate", None, False)
        tags = {**result.output_tags, "GEO2MAP_RESAMPLED": json.dumps(dataclasses.asdict(plan))}
        spec, _ = _output_spec(job.card, source, preset, creation_options, tags)
        write_back_onto(on_model_grid, source, dst, spec, plan.write, overwrite)
    return dataclasses.replace(result, path=dst, notes=[plan.note(job.card.name), *result.notes])


def _quicklook(
    source: RasterSource, dst: str, path: Any, card: ModelCard, in_scaling: Scaling, overwrite: bool
) -> str | None:
    from geo2map.plots import translate_quicklook

    # SAR is drawn as the model sees it (the card's scaling); a linear stretch of σ⁰ is black
    shown = in_scaling if in_scaling.name == "sar" else None
    return translate_quicklook(
        source, dst, path, title=f"{card.name or 'model'}", input_scaling=shown, overwrite=overwrite
    )


def _output_tags(
    loaded: LoadedModel, in_scaling: Scaling, canvas: _Canvas, blend: Any, tags: dict[str, str] | None
) -> dict[str, str]:
    """The output's metadata: version, model, tiling and the scaling fitted on the scene."""
    card, grid = loaded.card, canvas.grid
    tiling = {"size": grid.size, "overlap": grid.overlap, "blend": blend if isinstance(blend, str) else "custom"}
    context = {"border_pad": canvas.pad, "blend_margin": canvas.margin, "anchor": canvas.anchor}
    return {
        "GEO2MAP_VERSION": __version__,
        "GEO2MAP_MODEL": card.name or os.path.basename(loaded.path),
        "GEO2MAP_TASK": card.task,
        "GEO2MAP_TILES": json.dumps({**tiling, **context}),
        "GEO2MAP_INPUT_SCALING": json.dumps(in_scaling.to_dict()),
        **(tags or {}),
    }


class _Canvas:
    """The tile grid of a translation and what its tiles are read from: the scene itself, or,
    for a model with a bounded receptive field, the scene padded by reflection so a border
    pixel lies as deep inside a tile as an interior one (:func:`~geo2map.raster.padding.scene_context`)."""

    def __init__(self, card: ModelCard, source: RasterSource, size: int, overlap: int) -> None:
        self.pad, self.margin = scene_context(card, size, overlap)
        self.pads: Pads | None = None
        self.reader: RasterSource | ReflectPadded = source
        self.anchor = grid_anchor(card, size, overlap) if self.pad else 1
        if self.pad:
            self.grid, self.pads = padded_grid(
                source.width, source.height, size, overlap, self.pad, source.transform, source.crs, self.anchor
            )
            self.reader = ReflectPadded(source, self.pads)
        else:
            self.grid = TileGrid(source.width, source.height, size, overlap, source.transform, source.crs)


def _scalings_and_notes(card: ModelCard, source: RasterSource, size: int, overlap: int) -> tuple[Any, Any, list[str]]:
    """(input scaling fitted on the scene, output scaling, notes for the user) for ``card`` on ``source``."""
    from geo2map.sensors import scaling_from_dict

    note = resolution_note(card, source)
    notes = [*source.warnings, *([note] if note else [])]
    pol = polarisation_note(card, source)
    if pol:
        notes.append(pol)
    if card.task != "identity" and overlap < min(card.overlap, size - 1):
        notes.append(
            f"overlap {overlap} is below the model's recommended {card.overlap} px: seams or tile-grid "
            "dependence may show"
        )
    in_scaling, domain = fit_input_scaling(card, source)
    if domain:
        notes.append(domain)
    out_scaling = in_scaling if card.task == "identity" else scaling_from_dict(card.output_scaling)
    try:  # an output scaling needing scene statistics the card does not fix cannot work
        out_scaling.inverse(np.zeros((card.architecture.out_bands, 1, 1), np.float32))
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"model {card.name}: its output scaling {out_scaling.name} is unusable ({exc})") from None
    return in_scaling, out_scaling, notes
