"""Built-in models: each loads, its card validates and says its data, and it translates a real bundled raster."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from conftest import GRD, RGB

from geo2map.models.package import load_model, read_card
from geo2map.models.registry import BUILTIN, BUILTIN_DIR
from geo2map.raster.open import open_raster
from geo2map.translate import translate_raster

#: a real bundled raster for each built-in, and the options it needs
SAMPLES = {"sar2rgb": (GRD, {"nodata": 0}), "sat2map": (RGB, {}), "dsm2rgb": (None, {})}


def test_builtins_fit_the_size_budget() -> None:
    sizes = {spec.name: spec.path.stat().st_size for spec in BUILTIN}
    assert all(s <= 15e6 for s in sizes.values()), sizes
    assert sum(sizes.values()) <= 40e6, sizes
    assert {p.stem for p in BUILTIN_DIR.glob("*.safetensors")} == set(sizes)


@pytest.mark.parametrize("name", [spec.name for spec in BUILTIN] or [pytest.param("none", marks=pytest.mark.skip)])
def test_builtin_loads_and_translates_a_bundled_raster(tmp_path: Path, name: str) -> None:
    spec = next(s for s in BUILTIN if s.name == name)
    card = read_card(spec.path)
    assert card.name == name and card.summary and card.licence
    assert card.training.get("data") and card.training.get("epochs") and card.training.get("hardware")
    assert card.training.get("time_s") and card.training.get("command") and card.training.get("architecture_choice")
    assert card.input_bands and card.output_bands and card.metrics
    model = load_model(spec.path)
    assert model.generator is not None
    src, options = SAMPLES.get(name, (None, {}))
    if src is None:
        pytest.skip(f"no bundled raster for {name}")
    out = tmp_path / f"{name}.tif"
    translate_raster(src, out, name, precision="fp32", **options)
    with open_raster(src, **{k: v for k, v in options.items() if k == "nodata"}) as s, rasterio.open(out) as o:
        assert (o.crs, o.width, o.height) == (s.crs, s.width, s.height)
        assert o.transform.almost_equals(s.transform)
        assert o.count == card.architecture.out_bands and o.dtypes[0] == card.output_dtype
        data = o.read(masked=True)
    assert float(np.ma.std(data)) > 1  # a picture, not a constant
