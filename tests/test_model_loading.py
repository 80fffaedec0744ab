"""Loading a model while the scene statistics are computed: GDAL stays on the calling thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import RGB, save_tiny_model

from geo2map.errors import ModelError, RasterReadError
from geo2map.model_loading import load_while_fitting
from geo2map.models.package import load_model
from geo2map.raster.open import open_raster

SCALING = {"name": "optical_u8", "params": {}}


def _threads_seen() -> tuple[int, set[str]]:
    return threading.get_ident(), {t.name.split("_")[0] for t in threading.enumerate()}


def test_statistics_run_on_the_calling_thread_while_weights_load_in_another(tmp_path: Path) -> None:
    path = save_tiny_model(tmp_path / "tiny.safetensors", "tiny", SCALING)
    with open_raster(RGB) as src:
        loaded, (ident, names) = load_while_fitting(path, src, "cpu", _threads_seen)
    assert ident == threading.get_ident() and "geo2map-load" in names
    assert loaded.card.name == "tiny"


@pytest.mark.parametrize("which", ["loaded", "identity"])
def test_a_loaded_model_or_the_identity_needs_no_thread(tmp_path: Path, which: str) -> None:
    model = load_model(save_tiny_model(tmp_path / "tiny.safetensors", "tiny", SCALING)) if which == "loaded" else which
    with open_raster(RGB) as src:
        loaded, (ident, names) = load_while_fitting(model, src, "cpu", _threads_seen)
    assert ident == threading.get_ident() and "geo2map-load" not in names
    assert loaded is model if which == "loaded" else loaded.card.name == "identity"


def test_a_model_error_is_raised_before_a_statistics_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a model")

    def fails() -> None:
        raise RasterReadError("cannot read the scene")

    with open_raster(RGB) as src, pytest.raises(ModelError):
        load_while_fitting(broken, src, "cpu", fails)
