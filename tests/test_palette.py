"""Output palettes: snapping near colours exactly, learning a palette, and translate with a palette card."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from conftest import save_tiny_model, write_raster

from geo2map.cli.main import cli
from geo2map.errors import ModelError
from geo2map.models.card import Architecture, Band, ModelCard
from geo2map.models.package import LoadedModel, load_model, save_model
from geo2map.palette import Palette, learn_palette
from geo2map.translate import translate_raster

COLOURS = np.array([[242, 239, 233], [170, 211, 223], [255, 255, 255], [205, 235, 176]], float)  # map-like


def _card(palette: dict | None = None, bands: int = 3, dtype: str = "uint8") -> ModelCard:
    return ModelCard(
        name="maps",
        task="pix2pix",
        architecture=Architecture("resnet_6blocks", bands, bands, 8, "none"),
        input_scaling={"name": "optical_u8", "params": {}},
        output_scaling={"name": "optical_u8", "params": {}},
        input_bands=[Band(f"b{i}") for i in range(bands)],
        output_bands=[Band(f"b{i}") for i in range(bands)],
        output_dtype=dtype,
        tile_size=64,
        overlap=16,
        output_palette=palette or {},
    )


def _nearest(x: np.ndarray, colours: np.ndarray, limit: float) -> np.ndarray:
    """Brute force: each pixel (bands, n) → its nearest colour if within ``limit``, else itself (rounded)."""
    r = np.rint(np.clip(x, 0, 255))
    d = ((r.T[:, None, :] - colours[None]) ** 2).sum(-1)
    near = d.min(1) <= limit**2
    out = x.copy()
    out[:, near] = colours[d.argmin(1)[near]].T
    return out


@pytest.mark.parametrize("bands", [1, 2, 3])
def test_snapping_equals_the_brute_force_nearest_colour(bands: int) -> None:
    rng = np.random.default_rng(bands)
    colours = rng.integers(0, 256, (12, bands)).astype(float)
    x = rng.uniform(-20, 275, (bands, 30000)).astype(np.float32)
    x[:, :5000] = (colours[rng.integers(0, 12, 5000)] + rng.normal(0, 6, (5000, bands))).T  # near ones
    x[0, 7] = np.nan  # nodata stays as it is
    got = Palette(colours, 9.0).snap(x.copy())
    expected = _nearest(np.nan_to_num(x, nan=-999.0), colours, 9.0)
    ok = np.isfinite(x).all(0)
    np.testing.assert_array_equal(got[:, ok], expected[:, ok])
    assert np.isnan(got[0, 7]) and (got[:, :5000] == expected[:, :5000]).all(0).mean() > 0.5
    strided = Palette(colours, 9.0).snap(x[:, ::2])  # not contiguous: the returned array holds the result
    np.testing.assert_array_equal(strided[:, ok[::2]], expected[:, ::2][:, ok[::2]])


def test_learn_palette_finds_the_colours_of_noisy_maps() -> None:
    rng = np.random.default_rng(0)
    maps = []
    for _ in range(6):
        labels = rng.integers(0, len(COLOURS), (8, 8)).repeat(16, 0).repeat(16, 1)
        maps.append(np.clip(COLOURS[labels].transpose(2, 0, 1) + rng.normal(0, 3, (3, 128, 128)), 0, 255))
    pal = learn_palette(maps, colours=4, max_distance=8, per_image=3000, seed=1)
    found = sorted(map(tuple, pal.colours.astype(int).tolist()))
    assert np.abs(np.array(found) - np.array(sorted(map(tuple, COLOURS.astype(int).tolist())))).max() <= 1
    assert pal.max_distance == 8 and pal.describe() == "4 colours, snapped within 8 levels"


@pytest.mark.parametrize(
    "palette, bands, dtype, match",
    [
        ({"colours": [[1, 2, 3]], "max_distance": 5}, 3, "float32", "uint8 output"),
        ({"colours": [[1, 2]], "max_distance": 5}, 3, "uint8", "colours of 3 band"),
        ({"colours": [[1, 2, 300]], "max_distance": 5}, 3, "uint8", "8-bit levels"),
        ({"colours": [[1, 2, 3]], "max_distance": 40}, 3, "uint8", "max_distance"),
        ({"colours": [[1, 2, 3]] * 65, "max_distance": 5}, 3, "uint8", "1-64 colours"),
        ({"colours": [[1, 2, 3, 4]], "max_distance": 5}, 4, "uint8", "1-3 bands"),
        ({"colours": "red"}, 3, "uint8", "malformed"),
    ],
)
def test_bad_palettes_are_refused(palette: dict, bands: int, dtype: str, match: str) -> None:
    with pytest.raises(ModelError, match=match):
        _card(palette, bands, dtype).validate()


def test_a_card_without_a_palette_stays_as_it_was() -> None:
    assert "output_palette" not in _card().to_dict()
    with_one = _card({"colours": COLOURS.tolist(), "max_distance": 6}).validate()
    assert ModelCard.from_dict(json.loads(with_one.to_json())).output_palette == with_one.output_palette


class _Passthrough(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clone()


def test_translate_snaps_a_noisy_map_on_any_tiling(tmp_path: Path) -> None:
    """A 'network' that returns its input, fed a map with ±3 levels of noise: with the palette
    every pixel is its exact colour again, whatever the tiles; ``palette=False`` keeps the noise."""
    rng = np.random.default_rng(2)
    labels = rng.integers(0, len(COLOURS), (12, 12)).repeat(25, 0).repeat(25, 1)
    clean = COLOURS[labels].transpose(2, 0, 1).astype(np.uint8)
    noisy = np.clip(clean + rng.integers(-3, 4, clean.shape), 0, 255).astype(np.uint8)
    src = write_raster(tmp_path / "map.tif", noisy)
    model = LoadedModel(_card({"colours": COLOURS.tolist(), "max_distance": 8}).validate(), _Passthrough(), "maps")
    for i, size in enumerate((64, 128)):
        result = translate_raster(src, tmp_path / f"snapped{i}.tif", model, tile_size=size, overlap=16)
        with rasterio.open(result.path) as o:
            np.testing.assert_array_equal(o.read(), clean)
            assert json.loads(o.tags()["GEO2MAP_PALETTE"]) == 8
    translate_raster(src, tmp_path / "raw.tif", model, palette=False)
    with rasterio.open(tmp_path / "raw.tif") as o:
        np.testing.assert_array_equal(o.read(), noisy)
        assert "GEO2MAP_PALETTE" not in o.tags()


def _snapped_where_near(path: Path, colour: np.ndarray, limit: float) -> float:
    """Share of pixels equal to ``colour``; asserts every pixel within ``limit`` of it is it."""
    with rasterio.open(path) as o:
        px = o.read().reshape(3, -1).T.astype(float)
    assert not ((((px - colour) ** 2).sum(1) <= limit**2) & (px != colour).any(1)).any()
    return float((px == colour).all(1).mean())


def test_cli_models_info_no_palette_and_onnx(tmp_path: Path, runner) -> None:
    """A real (random) network: its card's palette is applied by translate, through ONNX too,
    shown by models info, and --no-palette gives the output without it."""
    from geo2map.models.onnx_model import export_onnx

    src = write_raster(tmp_path / "in.tif", np.random.default_rng(4).integers(0, 255, (1, 150, 150)).astype("uint8"))
    plain = save_tiny_model(tmp_path / "plain.safetensors", "maps", {"name": "optical_u8", "params": {}})
    res = runner.invoke(cli, ["translate", str(src), "-m", str(plain), "-o", str(tmp_path / "plain.tif"), "-q"])
    assert res.exit_code == 0, res.output
    with rasterio.open(tmp_path / "plain.tif") as o:
        colour = np.median(o.read().reshape(3, -1), axis=1).round()
    with rasterio.open(tmp_path / "plain.tif") as o:
        before = float((o.read().reshape(3, -1).T == colour).all(1).mean())
    m = load_model(plain)
    card = dataclasses.replace(m.card, output_palette={"colours": [colour.tolist()], "max_distance": 12})
    model = tmp_path / "palette.safetensors"
    save_model(model, m.generator, card.validate())
    onnx_path = export_onnx(model, tmp_path / "palette.onnx")
    for name, ref in (("torch", model), ("onnx", onnx_path)):
        out = tmp_path / f"{name}.tif"
        assert runner.invoke(cli, ["translate", str(src), "-m", str(ref), "-o", str(out), "-q"]).exit_code == 0
        assert _snapped_where_near(out, colour, 12) > before + 0.03  # noisy random output: a few % snap
    res = runner.invoke(cli, ["translate", str(src), "-m", str(model), "-o", str(tmp_path / "off.tif"), "--no-palette"])
    assert res.exit_code == 0, res.output
    with rasterio.open(tmp_path / "off.tif") as a, rasterio.open(tmp_path / "plain.tif") as b:
        np.testing.assert_array_equal(a.read(), b.read())
    res = runner.invoke(cli, ["models", "info", str(model)])
    assert "output palette  1 colours, snapped within 12 levels" in res.output, res.output
