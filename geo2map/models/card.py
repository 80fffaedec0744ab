"""The model card: everything needed to use a model file correctly, stored inside it.

A card is plain JSON (in the safetensors metadata under ``geo2map_card``) so any
tool can read it without geo2map. ``CARD_VERSION`` is bumped on incompatible
changes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from geo2map.errors import ModelError

CARD_VERSION = 1
TASKS = ("pix2pix", "cyclegan", "identity")


@dataclass
class Band:
    """One input or output band."""

    name: str
    description: str = ""


@dataclass
class Architecture:
    """The generator a card describes: kind, bands in and out, width, normalisation, dropout, decoder and padding."""

    generator: str
    in_bands: int
    out_bands: int
    ngf: int = 64
    norm: Literal["batch", "instance", "none"] = "batch"
    dropout: bool = False
    upsample: Literal["deconv", "resize"] = "deconv"
    padding: Literal["zeros", "reflect"] = "zeros"


@dataclass
class ModelCard:
    """What a geo2map model file says about itself.

    Attributes:
        name: Short name (``sar2rgb``).
        task: ``pix2pix`` or ``cyclegan`` (how it was trained) or ``identity``.
        summary: One line for ``geo2map models list``.
        architecture: Generator name and hyper-parameters (enough to rebuild it).
        input_bands, output_bands: Band names/descriptions, in order.
        input_scaling: A ``geo2map.sensors`` preset ``{"name", "params"}`` turning raw
            input rasters into [-1, 1].
        output_scaling: The preset turning [-1, 1] back into output values.
        output_dtype: Data type of translated rasters (``uint8``, ``float32``, ...).
        output_colorinterp: e.g. ``["red", "green", "blue"]``.
        output_palette: ``{"colours": [[r, g, b], ...], "max_distance": levels}``: output
            pixels that near a colour become it (:mod:`geo2map.palette`); empty: none.
        tile_size: Tile size the model was trained on / runs on.
        overlap: Recommended overlap between tiles at inference.
        inference_mode: ``eval`` or ``train`` (pix2pix's dropout-as-noise / batch statistics).
        training: Data, licence, command, epochs, time, hardware.
        metrics: Validation metrics.
        licence: Licence of the weights.
    """

    name: str
    task: str
    architecture: Architecture
    input_scaling: dict[str, Any]
    output_scaling: dict[str, Any]
    summary: str = ""
    input_bands: list[Band] = field(default_factory=list)
    output_bands: list[Band] = field(default_factory=list)
    output_dtype: str = "uint8"
    output_colorinterp: list[str] = field(default_factory=list)
    output_palette: dict[str, Any] = field(default_factory=dict)
    tile_size: int = 256
    overlap: int = 64
    inference_mode: Literal["eval", "train"] = "eval"
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    licence: str = ""
    version: int = CARD_VERSION

    def validate(self) -> ModelCard:
        """Check the card is complete and consistent; raise :class:`ModelError` if not."""
        from geo2map.sensors import scaling_from_dict

        a = self.architecture
        if self.version > CARD_VERSION:
            raise ModelError(
                f"model card version {self.version} is newer than this geo2map reads ({CARD_VERSION}); upgrade geo2map"
            )
        if self.task not in TASKS:
            raise ModelError(f"model card task {self.task!r} is not one of {', '.join(TASKS)}")
        if self.inference_mode not in ("eval", "train"):
            raise ModelError("model card inference_mode must be 'eval' or 'train'")
        self._check_numbers()
        if self.input_bands and len(self.input_bands) != a.in_bands:
            raise ModelError(f"card lists {len(self.input_bands)} input bands, architecture has {a.in_bands}")
        if self.output_bands and len(self.output_bands) != a.out_bands:
            raise ModelError(f"card lists {len(self.output_bands)} output bands, architecture has {a.out_bands}")
        if self.tile_size < 1 or not 0 <= self.overlap < self.tile_size:
            raise ModelError("card tile_size/overlap are inconsistent")
        if self.task != "identity":
            from geo2map.models.architectures import ARCHITECTURES as GENERATORS
            from geo2map.models.architectures import NORMS

            if a.generator not in GENERATORS:
                raise ModelError(f"unknown generator {a.generator!r} in model card")
            if a.norm not in NORMS:
                raise ModelError(f"unknown norm {a.norm!r} in model card")
            if a.upsample not in ("deconv", "resize") or a.padding not in ("zeros", "reflect"):
                raise ModelError(f"model card upsample {a.upsample!r} / padding {a.padding!r} is not known")
            mult = GENERATORS[a.generator].multiple
            if self.tile_size % mult:
                raise ModelError(f"tile_size {self.tile_size} is not a multiple of {mult} for {a.generator}")
        try:
            scaling_from_dict(self.input_scaling)
            scaling_from_dict(self.output_scaling)
        except Exception as exc:
            raise ModelError(f"model card scaling is invalid: {exc}") from None
        from geo2map.palette import Palette

        Palette.from_card(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        """The card as a JSON-serialisable dict (without ``output_palette`` when there is none,
        so cards without one stay readable by geo2map versions before it)."""
        d = asdict(self)
        if not d["output_palette"]:
            del d["output_palette"]
        return d

    def to_json(self) -> str:
        """The card as JSON text."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelCard:
        """Rebuild a card from :meth:`to_dict`'s output (checked)."""
        try:
            d = dict(d)
            d["architecture"] = Architecture(**d["architecture"])
            d["input_bands"] = [Band(**b) for b in d.get("input_bands", [])]
            d["output_bands"] = [Band(**b) for b in d.get("output_bands", [])]
            return cls(**d).validate()
        except ModelError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"malformed model card: {exc}") from None

    def _check_numbers(self) -> None:
        """Types and ranges, before anything is built from them (ngf 10⁹ would allocate forever)."""
        import numpy as np

        a = self.architecture
        ngf_min = 0 if self.task == "identity" else 1
        for name, value, lo, hi in (
            ("architecture.in_bands", a.in_bands, 1, 4096),
            ("architecture.out_bands", a.out_bands, 1, 4096),
            ("architecture.ngf", a.ngf, ngf_min, 1024),
            ("tile_size", self.tile_size, 1, 65536),
            ("overlap", self.overlap, 0, 65535),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ModelError(f"model card {name} must be a whole number from {lo} to {hi}, not {value!r}")
        if not isinstance(a.dropout, bool):
            raise ModelError(f"model card architecture.dropout must be true or false, not {a.dropout!r}")
        try:
            kind: str = np.dtype(self.output_dtype).kind
        except TypeError:
            kind = ""
        if kind not in "uif" or not kind:
            raise ModelError(f"model card output_dtype {self.output_dtype!r} is not a raster data type (uint8, ...)")

    @property
    def receptive_field(self) -> int | None:
        """Input pixels (width) one output pixel depends on; None for identity."""
        if self.task == "identity":
            return 0
        from geo2map.models.architectures import receptive_field

        return receptive_field(self.architecture.generator)

    @property
    def grid_independent(self) -> bool:
        """True when a pixel's value cannot depend on where the tile grid falls (beyond the
        stride phase): the receptive field fits in the overlap and no layer normalises with
        per-tile statistics (instance norm, or batch norm in ``train`` inference mode)."""
        if self.task == "identity":
            return True
        from geo2map.models.architectures import context_overlap, per_tile_statistics

        a = self.architecture
        ov = context_overlap(a.generator, self.tile_size)
        return not per_tile_statistics(a.norm, self.inference_mode) and ov is not None and self.overlap >= ov

    def one_line(self) -> str:
        """A one-line summary: what it translates (or its task), generator, bands and tile size."""
        a = self.architecture
        return f"{self.summary or self.task} [{a.generator}, {a.in_bands}→{a.out_bands} bands, {self.tile_size} px]"
