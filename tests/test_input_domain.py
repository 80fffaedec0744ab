"""A scene whose values do not fit the model's input scaling is converted with a note or refused, never clipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from conftest import RGB, smooth_field, write_raster
from rasterio.transform import from_origin

from geo2map.errors import InputError
from geo2map.input_domain import fit_input_scaling
from geo2map.models.package import read_card
from geo2map.raster.open import open_raster
from geo2map.translate import translate_raster


def _scaled(path: Path, model: str):
    with open_raster(path) as src:
        return fit_input_scaling(read_card(model), src)


@pytest.mark.parametrize(
    "dtype,low,high",
    [("uint16", 5000, 25000), ("int8", -120, 120), ("int16", -2000, 9000), ("float32", 0.0, 1.0)],
)
def test_values_outside_8_bit_are_stretched_with_a_note(tmp_path: Path, dtype: str, low: float, high: float) -> None:
    field = smooth_field(np.random.default_rng(0), 3, 200, 200)
    src = write_raster(tmp_path / "s.tif", (low + field * (high - low)).astype(dtype))
    scaling, note = _scaled(src, "sat2map")
    assert note is not None and dtype in note and "stretched" in note, note
    with rasterio.open(src) as ds:
        y = scaling.forward(ds.read())
    # the stretch uses the model's whole input range instead of a clipped near-constant canvas
    assert y.min() == -1.0 and y.max() == 1.0 and 0.3 < float(y.std()) < 0.8


def test_8_bit_values_in_a_wider_type_and_8_bit_scenes_are_left_alone(tmp_path: Path) -> None:
    field = smooth_field(np.random.default_rng(1), 3, 200, 200)
    wide = write_raster(tmp_path / "w.tif", (field * 255).astype("uint16"))
    assert _scaled(wide, "sat2map")[1] is None
    scaling, note = _scaled(RGB, "sat2map")
    assert note is None and scaling.name == "optical_u8"


def test_a_16_bit_scene_through_an_8_bit_model_is_not_clipped(tmp_path: Path) -> None:
    field = smooth_field(np.random.default_rng(2), 3, 300, 300)
    src = write_raster(tmp_path / "l8.tif", (7000 + field * 15000).astype("uint16"))
    res = translate_raster(src, tmp_path / "o.tif", "sat2map")
    assert any("stretched" in n for n in res.notes), res.notes
    with rasterio.open(tmp_path / "o.tif") as ds:
        assert '"percentile"' in ds.tags()["GEO2MAP_INPUT_SCALING"]  # the stretch is recorded with the output
        assert float(ds.read().std()) > 5  # clipped at 255 it was a constant canvas (std 1.9)


def test_a_dem_without_local_relief_is_refused(tmp_path: Path) -> None:
    ramp = 1500 + np.linspace(0, 0.2, 300, dtype="float32")[None, None, :] * np.ones((1, 300, 1), "float32")
    flat = write_raster(tmp_path / "flat.tif", ramp, transform=from_origin(500000, 5000000, 0.6, 0.6))
    with pytest.raises(InputError, match="no local relief"):
        _scaled(flat, "dsm2rgb")
    dsm = Path(__file__).parent / "data" / "tahoe" / "tahoe_lidar_highesthit.tif"
    assert _scaled(dsm, "dsm2rgb")[1] is None


def test_pixel_size_notes_never_suggest_degrees_or_upsampling() -> None:
    from geo2map.scene_checks import pixel_size_m, resolution_note

    data = Path(__file__).parent / "data"
    with open_raster(data / "tahoe" / "tahoe_highrez.tif") as src:  # EPSG:4326, about 0.54 m
        assert abs(pixel_size_m(src) - 0.536) < 0.01  # geodesic, not degrees
        note = resolution_note(read_card("sat2map"), src)
        assert "-t_srs EPSG:32611 -tr 2 2 -r average" in note, note  # metres in a UTM zone, not degrees
    with open_raster(RGB) as src:  # 300 m pixels
        note = resolution_note(read_card("sat2map"), src)
        assert "too coarse" in note and "gdalwarp" not in note, note
