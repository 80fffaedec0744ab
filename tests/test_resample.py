"""``resample="auto"``: a scene far from the model's training pixel size is translated at the
model's pixel size and resampled back exactly onto its own grid, in bounded memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from conftest import write_raster
from rasterio.transform import from_origin

from geo2map.cli.main import cli
from geo2map.errors import InputError
from geo2map.models.package import read_card
from geo2map.raster.open import open_raster
from geo2map.scene_checks import resample_plan
from geo2map.translate import translate_raster

DATA = Path(__file__).parent / "data"
AERIAL = DATA / "tahoe" / "tahoe_highrez.tif"  # real 8-bit RGB aerial, about 0.54 m


def _photo(size: int = 200) -> np.ndarray:
    with rasterio.open(AERIAL) as ds:
        return ds.read(window=((0, size), (0, size)))


def _scene(tmp_path: Path, name: str, data: np.ndarray, pixel: float, **kw) -> Path:
    return write_raster(tmp_path / name, data, transform=from_origin(600000, 4300000, pixel, pixel), **kw)


@pytest.mark.parametrize(
    ("pixel", "expected"),
    [
        (0.5, ("average", "bilinear", 125)),  # 4x finer than sat2map's 2 m: averaged down
        (1.2, ("average", "bilinear", 300)),  # 1.67x finer
        (1.4, None),  # 1.43x: within 1.5x, the scene's own grid
        (2.9, None),
        (6.0, ("bilinear", "average", 1500)),  # 3x coarser: brought up
        (20.0, None),  # 10x coarser: too coarse to bring up (a note says so)
    ],
)
def test_the_plan_follows_the_pixel_size_ratio(tmp_path: Path, pixel: float, expected) -> None:
    path = _scene(tmp_path, "s.tif", np.zeros((3, 500, 500), "uint8"), pixel)
    with open_raster(path) as src:
        plan = resample_plan(read_card("sat2map"), src)
        assert resample_plan(read_card("sat2map"), src, "off") is None
    assert (plan if plan is None else (plan.read, plan.write, plan.width)) == expected


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    path = _scene(tmp_path, "s.tif", np.zeros((3, 50, 50), "uint8"), 0.5)
    with open_raster(path) as src, pytest.raises(InputError, match="resample='nearest' is not one of auto, off"):
        resample_plan(read_card("sat2map"), src, "nearest")


def test_a_fine_scene_translates_like_the_same_scene_at_the_model_pixel_size(tmp_path: Path) -> None:
    """A 2 m photo repeated 4x4 onto 0.5 m pixels: averaged back down it is the 2 m photo exactly,
    so the auto translation is the 2 m translation brought up onto the 0.5 m grid."""
    photo = _photo()
    coarse = _scene(tmp_path, "coarse.tif", photo, 2.0)
    fine = _scene(tmp_path, "fine.tif", photo.repeat(4, axis=1).repeat(4, axis=2), 0.5)
    a, b, off = tmp_path / "a.tif", tmp_path / "b.tif", tmp_path / "off.tif"
    assert translate_raster(coarse, a, "sat2map", precision="fp32").notes == []
    result = translate_raster(fine, b, "sat2map", precision="fp32")
    assert "translated at 2 m (averaged down)" in result.notes[0], result.notes
    translate_raster(fine, off, "sat2map", precision="fp32", resample="off")
    with rasterio.open(a) as da, rasterio.open(b) as db, rasterio.open(fine) as src, rasterio.open(off) as do:
        assert (db.crs, db.transform, db.shape) == (src.crs, src.transform, src.shape)
        assert db.descriptions == da.descriptions and "GEO2MAP_RESAMPLED" in db.tags()
        want, got = da.read().astype(float), db.read().astype(float)
        blocks = got.reshape(3, 200, 4, 200, 4).mean(axis=(2, 4))
        inner = (slice(None), slice(2, -2), slice(2, -2))  # bilinear needs neighbours
        assert np.abs(blocks - want)[inner].mean() < 1.5
        native = do.read().astype(float).reshape(3, 200, 4, 200, 4).mean(axis=(2, 4))
        assert np.abs(native - want)[inner].mean() > 3 * np.abs(blocks - want)[inner].mean()


def test_nodata_stays_exactly_where_the_scene_has_it(tmp_path: Path) -> None:
    photo = _photo(100).repeat(4, axis=1).repeat(4, axis=2)
    photo[:, 37:211, 53:170] = 0  # an odd-shaped hole, not on the 4x4 grid
    fine = _scene(tmp_path, "fine.tif", photo, 0.5, nodata=0)
    out = tmp_path / "o.tif"
    translate_raster(fine, out, "sat2map")
    with rasterio.open(out) as ds, rasterio.open(fine) as src:
        np.testing.assert_array_equal(ds.dataset_mask() > 0, src.dataset_mask() > 0)


def test_the_cli_says_what_it_did_and_off_keeps_the_grid(tmp_path: Path, runner) -> None:
    fine = _scene(tmp_path, "fine.tif", _photo(100).repeat(4, axis=1).repeat(4, axis=2), 0.5)
    res = runner.invoke(cli, ["translate", str(fine), "-m", "sat2map", "-o", str(tmp_path / "a.tif"), "-q"])
    assert res.exit_code == 0, res.output
    assert "translated at 2 m (averaged down)" in res.output and "--resample off keeps" in res.output
    res = runner.invoke(
        cli, ["translate", str(fine), "-m", "sat2map", "-o", str(tmp_path / "b.tif"), "-q", "--resample", "off"]
    )
    assert res.exit_code == 0, res.output
    assert "average it down first" in res.output
    with rasterio.open(tmp_path / "b.tif") as ds:
        assert "GEO2MAP_RESAMPLED" not in ds.tags()
