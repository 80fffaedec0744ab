"""Artefact-free translation: generator options, receptive fields, scene-border context, grid
independence, and the artefact metrics that measure them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from conftest import DATA, RGB
from torch import nn

from geo2map.artefacts import checker_ratio, crop_consistency, crop_window, ring_inner
from geo2map.models.card import Architecture, Band, ModelCard
from geo2map.models.networks import GENERATORS, build_generator, context_overlap, receptive_field
from geo2map.models.package import load_model, save_model
from geo2map.raster.padding import reflect_index
from geo2map.translate import translate_raster

S2 = DATA / "s2_rgb_sen12_059.tif"


def _measured_rf(arch: str, upsample: str, n: int) -> int:
    """The support of one output pixel's gradient in a linearised copy with positive weights
    (no cancellation can hide a tap), worst over output phases along the diagonal."""
    net = build_generator(arch, 1, 1, ngf=1, norm="none", upsample=upsample).double()
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.ReLU | nn.LeakyReLU | nn.Tanh | nn.Dropout):
                setattr(module, name, nn.Identity())
    with torch.no_grad():
        for p in net.parameters():
            p.abs_().add_(0.1)
    width = 0
    for phase in range(GENERATORS[arch].multiple + 1):
        x = torch.zeros(1, 1, n, n, dtype=torch.double, requires_grad=True)
        c = n // 2 + phase
        net(x)[0, 0, c, c].backward()
        rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
        width = max(width, int(rows.max() - rows.min() + 1))
    return width


@pytest.mark.parametrize("arch,n", [("unet_32", 512), ("unet_64", 1024), ("resnet_6blocks", 256)])
@pytest.mark.parametrize("upsample", ["deconv", "resize"])
def test_receptive_field_is_what_the_network_really_sees(arch: str, n: int, upsample: str) -> None:
    assert _measured_rf(arch, upsample, n) == receptive_field(arch)


def test_generator_options_keep_the_reference_layout_by_default() -> None:
    ref = build_generator("unet_256", 3, 3, ngf=8)
    assert not any(isinstance(m, nn.Upsample) for m in ref.modules())
    assert all(m.padding_mode == "zeros" for m in ref.modules() if isinstance(m, nn.Conv2d))
    new = build_generator("unet_256", 3, 3, ngf=8, upsample="resize", padding="reflect")
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in new.modules())
    assert all(m.padding_mode == "reflect" for m in new.modules() if isinstance(m, nn.Conv2d) and m.padding != (0, 0))
    res = build_generator("resnet_6blocks", 2, 3, ngf=8, norm="instance", upsample="resize", padding="reflect")
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in res.modules())
    with torch.no_grad():
        assert res(torch.randn(1, 2, 64, 64)).shape == (1, 3, 64, 64)
    with pytest.raises(ValueError, match="upsample"):
        build_generator("unet_32", 1, 1, upsample="pixelshuffle")  # type: ignore[arg-type]


def test_context_overlap_covers_the_receptive_field() -> None:
    assert context_overlap("unet_32", 640) == 160  # rf 158 -> margin 79 -> 158 -> a multiple of 32
    assert context_overlap("unet_64", 1280) == 320
    assert context_overlap("unet_256", 256) is None  # sees far more than a tile


def test_reflect_index() -> None:
    idx = np.arange(-7, 12)
    assert np.array_equal(reflect_index(idx, 5), np.pad(np.arange(5), 7, mode="reflect")[: len(idx)])
    assert np.array_equal(reflect_index(np.arange(-3, 3), 1), np.zeros(6, int))


def _bounded_model(path: Path, seed: int = 0, tile: int = 640, overlap: int = 160) -> Path:
    """A unet_32 (resize, reflect, batch norm in eval mode) with random weights and random BN statistics."""
    torch.manual_seed(seed)
    net = build_generator("unet_32", 3, 3, ngf=4, norm="batch", upsample="resize", padding="reflect")
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2)
    card = ModelCard(
        name="bounded",
        task="pix2pix",
        architecture=Architecture("unet_32", 3, 3, 4, "batch", False, "resize", "reflect"),
        input_scaling={"name": "optical_u8", "params": {}},
        output_scaling={"name": "optical_u8", "params": {}},
        input_bands=[Band("red"), Band("green"), Band("blue")],
        output_bands=[Band("red"), Band("green"), Band("blue")],
        tile_size=tile,
        overlap=overlap,
    )
    save_model(path, net, card)
    return path


def _translate(tmp: Path, src: Path, model: Path, name: str, **kw) -> np.ndarray:
    out = tmp / f"{name}.tif"
    translate_raster(src, out, model, precision="fp32", overwrite=True, **kw)
    with rasterio.open(out) as ds:
        return ds.read().astype(np.int16)


def test_bounded_model_translation_does_not_depend_on_the_tile_grid(tmp_path: Path) -> None:
    """unet_32 at the overlap its receptive field needs: 256-px and 640-px tiles give the same pixels,
    scene border included (both tile the same reflection-padded canvas, at the same stride phase)."""
    model = _bounded_model(tmp_path / "m.safetensors")
    assert load_model(model).card.grid_independent
    a = _translate(tmp_path, RGB, model, "a", tile_size=256)
    b = _translate(tmp_path, RGB, model, "b", tile_size=640)
    c = _translate(tmp_path, RGB, model, "c", tile_size=416, blend="linear")
    assert a.std() > 5  # not a constant output
    assert np.abs(a - b).max() <= 1 and np.abs(a - c).max() <= 1


def test_scene_border_sees_reflected_context_not_zeros(tmp_path: Path) -> None:
    """The scene's translation equals the translation of the scene mirrored outwards by more than half
    the receptive field, cropped back: a border pixel is treated exactly like an interior pixel."""
    model = _bounded_model(tmp_path / "m.safetensors")
    with rasterio.open(S2) as ds:
        img = ds.read(window=((100, 420), (200, 580)))
        profile = {"driver": "GTiff", "count": 3, "dtype": "uint8", "crs": ds.crs}
        t = ds.window_transform(((100, 420), (200, 580)))
    pad = 96  # a multiple of 32: the stride phase stays
    big = np.pad(img, ((0, 0), (pad, pad), (pad, pad)), mode="reflect")
    scene, mirrored = tmp_path / "scene.tif", tmp_path / "mirrored.tif"
    with rasterio.open(scene, "w", width=380, height=320, transform=t, **profile) as ds:
        ds.write(img)
    with rasterio.open(
        mirrored, "w", width=380 + 2 * pad, height=320 + 2 * pad, transform=t * t.translation(-pad, -pad), **profile
    ) as ds:
        ds.write(big)
    out = _translate(tmp_path, scene, model, "scene")
    ref = _translate(tmp_path, mirrored, model, "mirrored")[:, pad:-pad, pad:-pad]
    ring = np.zeros(out.shape[1:], bool)
    ring[:16], ring[-16:], ring[:, :16], ring[:, -16:] = True, True, True, True
    assert np.abs(out - ref)[:, ring].max() <= 1  # no frame: the border is computed as the interior is


def _crop(tmp: Path, src: Path, r: int, c: int, h: int, w: int) -> Path:
    """A window of ``src`` written as a GeoTIFF of its own (its own transform), as gdal_translate -srcwin does."""
    with rasterio.open(src) as ds:
        profile = {**ds.profile, "width": w, "height": h, "transform": ds.window_transform(((r, r + h), (c, c + w)))}
        for key in ("blockxsize", "blockysize", "tiled"):
            profile.pop(key, None)
        crop = ds.read(window=((r, r + h), (c, c + w)))
    with rasterio.open(tmp / "crop.tif", "w", **profile) as ds:
        ds.write(crop)
    return tmp / "crop.tif"


def test_a_crop_at_any_offset_matches_the_whole_scene_beyond_the_receptive_field(tmp_path: Path) -> None:
    """Tiles are anchored to the CRS's pixel lattice: a crop at odd offsets is cut at the same stride phase."""
    model = _bounded_model(tmp_path / "m.safetensors")
    whole = _translate(tmp_path, S2, model, "whole")
    r, c, h, w = 61, 93, 509, 483
    alone = _translate(tmp_path, _crop(tmp_path, S2, r, c, h, w), model, "alone")
    m = 80  # half the receptive field, rounded up
    diff = np.abs(alone - whole[:, r : r + h, c : c + w])
    assert diff[:, m:-m, m:-m].max() <= 1
    assert diff[:, :16].mean() > diff[:, m:-m, m:-m].mean()  # near the crop's edge the context differs


class _PerTile(nn.Module):
    """Each tile's output depends on the whole tile (instance norm): the U-Net-256 case, exaggerated."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(0.5 * nn.functional.instance_norm(x))


def test_a_crop_of_a_whole_tile_model_matches_the_whole_scene_where_its_tiles_are_the_same(tmp_path: Path) -> None:
    """A model whose every pixel depends on its whole tile: the crop's tiles coincide with the scene's
    (anchored at multiples of the stride), so pixels whose tiles all lie inside the crop are the same."""
    from geo2map.models.package import LoadedModel

    card = load_model(_bounded_model(tmp_path / "m.safetensors", tile=128, overlap=32)).card
    card = dataclasses.replace(card, architecture=dataclasses.replace(card.architecture, norm="instance"))
    assert not card.grid_independent
    model = LoadedModel(card, _PerTile(), "per-tile")
    whole = _translate(tmp_path, S2, model, "whole")
    r, c, h, w = 61, 93, 509, 483
    alone = _translate(tmp_path, _crop(tmp_path, S2, r, c, h, w), model, "alone")
    diff = np.abs(alone - whole[:, r : r + h, c : c + w])
    deep = 128 + 96  # a tile and a stride from the crop's edge: every tile covering the pixel is inside
    assert diff[:, deep:-deep, deep:-deep].max() <= 1
    assert diff.mean() > 1  # elsewhere the crop's edge changes the tiles (a real test of the model)


def test_grid_origin_is_the_transform_origin_in_pixels() -> None:
    from rasterio.transform import Affine

    from geo2map.raster.padding import grid_origin

    assert grid_origin(Affine(10, 0, 500000, 0, -10, 4200000)) == (50000, -420000)
    assert grid_origin(Affine(10, 0, 500020, 0, -10, 4199960)) == (50002, -419996)
    assert grid_origin(Affine(10, 1, 500000, 1, -10, 4200000)) is None  # rotated: not anchored


def test_nodata_stays_nodata_and_never_leaks_in(tmp_path: Path) -> None:
    model = _bounded_model(tmp_path / "m.safetensors")
    with rasterio.open(S2) as ds:
        img = ds.read(window=((0, 300), (0, 300)))
        profile = {"driver": "GTiff", "width": 300, "height": 300, "count": 3, "dtype": "uint8", "crs": ds.crs}
        profile["transform"] = ds.transform
    img[:, :, :40] = 0  # a nodata strip along the western border
    src = tmp_path / "nd.tif"
    with rasterio.open(src, "w", nodata=0, **profile) as ds:
        ds.write(img)
    out = tmp_path / "out.tif"
    translate_raster(src, out, model, precision="fp32")
    with rasterio.open(out) as ds:
        valid = ds.dataset_mask() > 0
    assert not valid[:, :40].any() and valid[:, 40:].all()


# ---------------------------------------------------------------------------
# the metrics
# ---------------------------------------------------------------------------
def test_checker_ratio_separates_a_deconvolution_checkerboard_from_natural_images() -> None:
    with rasterio.open(S2) as ds:
        natural = ds.read().astype(np.float64)
    with rasterio.open(RGB) as ds:
        landsat = ds.read().astype(np.float64)
    assert checker_ratio(natural) < 1.5
    assert checker_ratio(landsat, np.broadcast_to(landsat.sum(0) > 0, landsat.shape)) < 1.5
    # what a stride-2 transposed conv with uneven kernel overlap adds: a 2/4-px periodic pattern
    yy, xx = np.mgrid[: natural.shape[1], : natural.shape[2]]
    pattern = 4 * ((yy % 2) + (xx % 2)) + 2 * ((yy // 2) % 2)
    assert checker_ratio(natural + pattern) > 10
    # a real transposed conv: a random-init deconv U-Net's output is far more periodic than a resize-conv one's
    x = torch.from_numpy(natural[None, :, :256, :256] / 127.5 - 1).float()
    torch.manual_seed(0)
    with torch.no_grad():
        deconv = build_generator("unet_32", 3, 3, ngf=8, norm="none", init="kaiming")(x)[0].numpy()
        torch.manual_seed(0)
        resize = build_generator("unet_32", 3, 3, ngf=8, norm="none", init="kaiming", upsample="resize")(x)
    assert checker_ratio(deconv) > 3 * checker_ratio(resize[0].numpy())


def test_crop_consistency_of_a_grid_independent_translation_is_zero() -> None:
    with rasterio.open(S2) as ds:
        img = ds.read().astype(np.float64)

    def local(x: np.ndarray) -> np.ndarray:  # a 3x3 mean with reflected borders: depends only on neighbours
        p = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="reflect")
        return sum(p[:, i : i + x.shape[1], j : j + x.shape[2]] for i in range(3) for j in range(3)) / 9

    def tinted(x: np.ndarray) -> np.ndarray:  # what a whole-tile receptive field does: the content tints all
        return x + 2 * x.mean()

    r = crop_consistency(local, img)
    assert r["inner"] == 0 and r["ring"] < 1
    t = crop_consistency(tinted, img)
    assert t["inner"] > 1 and t["ring"] > 1
    assert crop_window(1024, 1024) == (213, 213, 600, 600)
    assert ring_inner(np.ones((1, 40, 40)))["ring"] == 1


def test_evaluate_reports_artefact_metrics(tmp_path: Path) -> None:
    from geo2map.evaluate import evaluate

    data = tmp_path / "pairs"
    with rasterio.open(S2) as ds:
        img = ds.read()
    from PIL import Image

    (data / "valA").mkdir(parents=True)
    (data / "valB").mkdir(parents=True)
    for i in range(3):
        tile = img[:, 256 * i : 256 * i + 256, :256].transpose(1, 2, 0)
        Image.fromarray(tile).save(data / "valA" / f"{i}.png")
        Image.fromarray(tile).save(data / "valB" / f"{i}.png")
    rep = evaluate("identity", str(data), str(tmp_path / "rep"), crop_pairs=2)
    assert rep.metrics["crop_ring"] == rep.metrics["crop_inner"] == 0
    assert 0.5 < rep.metrics["checker"] < 1.5
    assert "crop_ring" in rep.per_pair[1] and "crop_ring" not in rep.per_pair[2]
