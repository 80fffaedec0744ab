"""Built-in models and plugin models, from one list of specs.

A built-in model is a ``.safetensors`` model file shipped in
``geo2map/models/builtin/``; each appears once in :data:`BUILTIN` (name → file).
Third-party packages add models through the ``geo2map.models`` entry point
group: an entry point named ``NAME`` resolving to a path (str) of a model file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from geo2map.errors import ModelError

BUILTIN_DIR = Path(__file__).parent / "builtin"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    filename: str

    @property
    def path(self) -> Path:
        return BUILTIN_DIR / self.filename


#: The built-in models (one line each; files live in geo2map/models/builtin/).
BUILTIN: tuple[ModelSpec, ...] = tuple(ModelSpec(p.stem, p.name) for p in sorted(BUILTIN_DIR.glob("*.safetensors")))


def available() -> dict[str, str]:
    """Name → model file path for built-in and plugin models."""
    out = {spec.name: os.fspath(spec.path) for spec in BUILTIN}
    for ep in entry_points(group="geo2map.models"):
        try:
            out.setdefault(ep.name, os.fspath(ep.load()))
        except Exception:  # a broken plugin must not break 'models list'
            continue
    return out


def resolve(name_or_path: str | os.PathLike[str]) -> str:
    """A built-in/plugin model name or a path → the model file's path."""
    text = os.fspath(name_or_path)
    if os.path.exists(text):
        return text
    models = available()
    if text in models:
        return models[text]
    hint = f"built-in models: {', '.join(sorted(models))}" if models else "no built-in models are installed"
    raise ModelError(f"model {text!r} is neither a file nor a known model name ({hint})")
