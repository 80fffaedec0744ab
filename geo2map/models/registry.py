"""Built-in models and plugin models, from one list of specs.

A built-in model is a ``.safetensors`` model file shipped in
``geo2map/models/builtin/``, with its ONNX export beside it (``NAME.onnx``) for
installs without PyTorch; each appears once in :data:`BUILTIN` (name → file,
the ``.onnx`` one where torch is missing).
Third-party packages add models through the ``geo2map.models`` entry point
group: an entry point named ``NAME`` resolving to a path (str) of a model file.

``identity`` is built in without a file: it has no network, takes any number of
bands and gives back the input scaled to [-1, 1] and un-scaled again, so it
checks and benchmarks the pipeline itself (:func:`identity_card` builds its card
for a scene).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from geo2map.errors import ModelError
from geo2map.models.card import Architecture, Band, ModelCard

IDENTITY = "identity"

BUILTIN_DIR = Path(__file__).parent / "builtin"


@dataclass(frozen=True)
class ModelSpec:
    """A built-in model: its name and file name in ``geo2map/models/builtin``."""

    name: str
    filename: str

    @property
    def path(self) -> Path:
        """The model file's path."""
        return BUILTIN_DIR / self.filename


def _has_torch() -> bool:
    from importlib.util import find_spec

    return find_spec("torch") is not None


def _builtin_specs() -> tuple[ModelSpec, ...]:
    """One spec per built-in name: the safetensors file, or the ONNX file where torch is missing."""
    names = sorted({p.stem for p in BUILTIN_DIR.glob("*.safetensors")} | {p.stem for p in BUILTIN_DIR.glob("*.onnx")})
    ext = (".safetensors", ".onnx") if _has_torch() else (".onnx", ".safetensors")
    specs = []
    for name in names:
        file = next(name + e for e in ext if (BUILTIN_DIR / (name + e)).exists())
        specs.append(ModelSpec(name, file))
    return tuple(specs)


#: The built-in models (one line each; files live in geo2map/models/builtin/).
BUILTIN: tuple[ModelSpec, ...] = _builtin_specs()


def identity_scaling(dtype: str) -> dict[str, object]:
    """The lossless scaling the identity model uses for a dtype."""
    import numpy as np

    dt = np.dtype(dtype)
    if dt == np.uint8:
        return {"name": "optical_u8", "params": {}}
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return {"name": "optical_reflectance", "params": {"mode": "fixed", "low": int(info.min), "high": int(info.max)}}
    # floats: the scene's range (fitted), linear beyond it so no value is clipped
    return {
        "name": "optical_reflectance",
        "params": {"mode": "percentile", "p_low": 0.0, "p_high": 100.0, "clip": False},
    }


def identity_card(count: int, dtype: str, band_names: list[str] | tuple[str, ...] = ()) -> ModelCard:
    """The card of the ``identity`` model for a scene with ``count`` bands of ``dtype``."""
    names = list(band_names) or [f"band{i}" for i in range(1, count + 1)]
    scaling = identity_scaling(dtype)
    return ModelCard(
        name=IDENTITY,
        task="identity",
        summary="No network: output = input scaled to [-1, 1] and back (checks and benchmarks the pipeline)",
        architecture=Architecture(generator="identity", in_bands=count, out_bands=count, ngf=0, norm="none"),
        input_scaling=scaling,
        output_scaling=scaling,
        input_bands=[Band(n) for n in names],
        output_bands=[Band(n) for n in names],
        output_dtype=str(dtype),
        tile_size=256,
        overlap=32,
        licence="same as geo2map",
    ).validate()


def available() -> dict[str, str]:
    """Name → model file path for built-in and plugin models (``identity`` has no file)."""
    out = {spec.name: os.fspath(spec.path) for spec in BUILTIN}
    for ep in entry_points(group="geo2map.models"):
        try:
            out.setdefault(ep.name, os.fspath(ep.load()))
        except Exception:  # a broken plugin must not break 'models list'
            continue
    return out


def resolve(name_or_path: str | os.PathLike[str]) -> str:
    """A built-in/plugin model name or a path → the model file's path.

    ``NAME.onnx`` (no such file here) names a built-in's ONNX export: onnxruntime instead
    of torch, which is faster on CPUs without native bf16 (benchmarks/bench_onnx.py).
    """
    text = os.fspath(name_or_path)
    if os.path.exists(text):
        return text
    if text == IDENTITY:
        raise ModelError("the identity model has no file; geo2map.translate_raster takes model='identity'")
    models = available()
    if text in models:
        return models[text]
    stem, ext = os.path.splitext(text)
    if ext.lower() == ".onnx" and (BUILTIN_DIR / f"{stem}.onnx").exists():
        return os.fspath(BUILTIN_DIR / f"{stem}.onnx")  # a built-in's ONNX export, e.g. 'sar2rgb.onnx'

    hint = f"built-in models: {', '.join(sorted([IDENTITY, *models]))}"
    raise ModelError(f"model {text!r} is neither a file nor a known model name ({hint})")
