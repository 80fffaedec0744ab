"""Sensor scalings: ranges, inverses, scene statistics, serialisation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from conftest import GRD, RGB, write_raster

from geo2map.errors import InputError
from geo2map.raster.open import open_raster
from geo2map.sensors import SENSORS, get_scaling, scaling_from_dict


def _roundtrip(scaling, x, rtol=1e-4, atol=1e-3):
    y = scaling.forward(x)
    assert y.dtype == np.float32 and y.min() >= -1 and y.max() <= 1
    np.testing.assert_allclose(scaling.inverse(y), x, rtol=rtol, atol=atol)
    again = scaling_from_dict(json.loads(json.dumps(scaling.to_dict())))
    np.testing.assert_array_equal(again.forward(x), y)


def test_optical_u8() -> None:
    s = get_scaling("optical_u8")
    x = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    y = s.forward(x)
    assert y.min() == -1 and y.max() == 1
    _roundtrip(s, x.astype(float))


def test_optical_reflectance_fixed_and_percentile(tmp_path) -> None:
    s = get_scaling("optical_reflectance", mode="fixed", low=0, high=3000)
    x = np.linspace(0, 3000, 300).reshape(1, 10, 30)
    _roundtrip(s, x)
    assert s.forward(np.array([[[6000.0]]]))[0, 0, 0] == 1.0  # clipped
    rng = np.random.default_rng(0)
    data = rng.gamma(3, 400, (2, 200, 200)).astype(np.uint16)
    path = write_raster(tmp_path / "s2.tif", data)
    with open_raster(path) as src:
        fitted = get_scaling("optical_reflectance", mode="percentile", p_low=2, p_high=98).fit_source(src)
    lo, hi = fitted.params["low"], fitted.params["high"]
    assert len(lo) == 2 and lo[0] == pytest.approx(np.percentile(data[0], 2), rel=0.05)
    assert hi[1] == pytest.approx(np.percentile(data[1], 98), rel=0.05)
    inside = np.clip(data.astype(float), np.array(lo)[:, None, None], np.array(hi)[:, None, None])
    _roundtrip(fitted, inside)


@pytest.mark.parametrize("kind", ["amplitude", "intensity", "db"])
def test_sar_db_same_result_whatever_the_input_units(kind) -> None:
    rng = np.random.default_rng(1)
    intensity = rng.gamma(1.0, 0.05, (1, 50, 50)) + 1e-3
    x = {"amplitude": np.sqrt(intensity), "intensity": intensity, "db": 10 * np.log10(intensity)}[kind]
    s = get_scaling("sar", input=kind, method="db", db_min=-30, db_max=5)
    ref = get_scaling("sar", input="intensity", method="db", db_min=-30, db_max=5)
    np.testing.assert_allclose(s.forward(x), ref.forward(intensity), atol=1e-5)
    _roundtrip(s, x, rtol=1e-3)


def test_sar_quantile_is_a_scene_statistic() -> None:
    """sar2rgb-style scaling: linear value / its 99% scene quantile, clipped to 1."""
    with open_raster(GRD) as src:
        s = get_scaling("sar", input="amplitude", method="quantile", quantile=0.99).fit_source(src)
        data, valid = src.read_decimated(10**7)  # the whole scene
    q = np.quantile(data[0][valid[0]].astype(float) ** 2, 0.99)
    assert s.params["scale"][0] == pytest.approx(q, rel=0.1)
    with pytest.raises(InputError, match="not fitted"):
        get_scaling("sar", method="quantile").forward(np.ones((1, 2, 2)))
    # the same pixel gets the same value in any window: scaling is per scene, not per tile
    with rasterio.open(GRD) as raw:
        block = raw.read(1, window=rasterio.windows.Window(100, 100, 64, 64)).astype(float)[None]
    a = s.forward(block)[:, 10:20, 10:20]
    b = s.forward(block[:, 10:20, 10:20])
    np.testing.assert_array_equal(a, b)


def test_dsm_methods(tmp_path) -> None:
    h = np.add.outer(np.linspace(100, 120, 64), np.zeros(64))[None] + 0.0
    h[0, 20:30, 20:30] += 15  # a building
    s = get_scaling("dsm", method="scene_min", p_low=0, max_height=50).fit(h)
    assert s.params["base"] == [pytest.approx(100.0)]
    _roundtrip(s, h)
    dtm = np.add.outer(np.linspace(100, 120, 64), np.zeros(64))[None]
    above = get_scaling("dsm", method="dtm", max_height=30)
    y = above.forward(h, aux=dtm)
    assert y[0, 25, 25] == pytest.approx(0.0)  # 15 m of 30 m -> middle of [-1, 1]
    assert y[0, 5, 5] == pytest.approx(-1.0)
    with pytest.raises(InputError, match="needs the DTM"):
        above.forward(h)
    local = get_scaling("dsm", method="local_min", radius=8, max_height=30)
    assert local.halo == 8
    assert local.forward(h)[0, 25, 25] > 0.9 * y[0, 25, 25] - 0.1


def test_unknown_names_and_params_refused() -> None:
    with pytest.raises(InputError, match="unknown sensor"):
        get_scaling("lidar2")
    with pytest.raises(InputError, match="unknown parameter"):
        get_scaling("sar", db_mn=-20)
    with pytest.raises(InputError):
        get_scaling("sar", method="log")
    assert set(SENSORS) == {"optical_u8", "optical_reflectance", "sar", "dsm"}


def test_invalid_pixels_map_to_zero() -> None:
    with rasterio.open(RGB) as ds:
        x = ds.read(window=rasterio.windows.Window(0, 0, 64, 64))
        valid = ds.read_masks(window=rasterio.windows.Window(0, 0, 64, 64)) > 0
    y = get_scaling("optical_u8").forward(x, valid)
    assert (y[~valid] == 0).all()


def test_sar_auto_input_brings_dn_sigma0_and_db_to_one_distribution() -> None:
    """A real GRD subset as amplitude DN, as calibrated σ⁰ linear (DN² / A²) and as dB: with
    input 'auto' and the scene 99% quantile, all three reach the same scaled values."""
    from conftest import GRD
    from rasterio.windows import Window

    from geo2map.raster.open import open_raster
    from geo2map.sensors import SAR

    with open_raster(GRD, nodata=0) as src:
        dn, valid = src.read(Window(0, 0, src.width, src.height))
    sigma0 = (dn.astype(np.float64) ** 2 / 420.0**2).astype("float32")
    db = (10 * np.log10(np.maximum(sigma0, 1e-10))).astype("float32")
    scaling = get_scaling("sar", input="auto", method="quantile", quantile=0.99)
    outs = {}
    for kind, x in (("amplitude", dn), ("intensity", sigma0), ("db", db)):
        fitted = scaling.fit(x, valid)
        assert fitted.params["input"] == kind == SAR.detect_input(x, valid)
        outs[kind] = fitted.forward(x, valid)
    np.testing.assert_allclose(outs["intensity"], outs["amplitude"], atol=1e-5)
    np.testing.assert_allclose(outs["db"], outs["amplitude"], atol=1e-5)
    assert (outs["amplitude"][valid] > -1).mean() > 0.5  # a real spread, not all clipped


@pytest.mark.parametrize("name", ["optical_u8", "optical_reflectance", "sar", "dsm"])
def test_inverse_in_place_equals_a_copy_and_leaves_inputs_alone(name) -> None:
    scaling = get_scaling(name) if name != "sar" else get_scaling("sar", method="db")
    y = np.random.default_rng(0).uniform(-1.2, 1.2, (3, 8, 8)).astype(np.float32)
    kept = y.copy()
    out = scaling.inverse(y)
    np.testing.assert_array_equal(y, kept)  # not in place: the input is untouched
    inplace = scaling.inverse(y, in_place=True)
    np.testing.assert_array_equal(inplace, out)
    frozen = kept.copy()
    frozen.setflags(write=False)  # a read-only array is never written
    np.testing.assert_array_equal(scaling.inverse(frozen, in_place=True), out)
    np.testing.assert_array_equal(frozen, kept)


@pytest.mark.parametrize(
    ("scaling", "affine"),
    [
        (get_scaling("optical_u8"), True),
        (get_scaling("optical_reflectance", low=[100, 200, 300], high=[3000, 2500, 4000]), True),
        (get_scaling("sar", input="amplitude", method="db"), False),  # dB → amplitude: not affine
    ],
)
def test_affine_inverse_commutes_with_the_mosaics_weighted_mean(scaling, affine) -> None:
    """Where ``affine_inverse`` is claimed, un-scaling the blend of tiles equals blending the
    un-scaled tiles, so the mosaic may un-scale each output pixel once (a scaling that does not
    claim it is un-scaled per tile, as always)."""
    rng = np.random.default_rng(0)
    tiles = rng.uniform(-1, 1, (4, 3 if scaling.name.startswith("optical") else 1, 8, 8)).astype(np.float32)
    w = rng.uniform(0.1, 1, (4, 1, 8, 8)).astype(np.float32)
    blend_then_unscale = scaling.inverse((w * tiles).sum(0) / w.sum(0))
    unscale_then_blend = (w * np.stack([scaling.inverse(t) for t in tiles])).sum(0) / w.sum(0)
    assert scaling.affine_inverse is affine
    assert np.allclose(blend_then_unscale, unscale_then_blend, rtol=1e-5, atol=1e-3) is affine


def test_sar_quantile_scaling_skips_the_square_root_round_trip_with_the_same_values() -> None:
    """amplitude in, amplitude quantile (sar2rgb's card): x / q, as sqrt(x²) / q gave."""
    x = np.random.default_rng(1).integers(0, 65535, (1, 64, 64)).astype(np.uint16)
    s = get_scaling("sar", input="amplitude", method="quantile", linear="amplitude").fit(x)
    lin = x.astype(np.float32)
    want = np.clip(np.sqrt(np.square(lin)) / np.float32(s.params["scale"][0]), 0, 1) * 2 - 1
    assert s.params["scale"][0] == pytest.approx(float(np.quantile(lin, 0.99)), rel=1e-6)
    np.testing.assert_allclose(s.forward(x), want, rtol=0, atol=2e-7)
