"""How translate makes and runs tiles: identity on real rasters, scene-level scaling in every tile,
halos, the CPU batch, train-mode inference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from conftest import DATA, GRD, RGB, SLC, smooth_field, write_raster

from geo2map.cli.main import cli
from geo2map.models.card import Architecture, Band, ModelCard
from geo2map.models.package import LoadedModel, load_model
from geo2map.raster.open import open_raster
from geo2map.sensors import scaling_from_dict
from geo2map.translate import translate_raster

BEN = DATA / "bigearthnet"


@pytest.mark.parametrize(
    "src, options",
    [
        (RGB, {}),  # uint8, nodata 0
        (GRD, {"nodata": 0}),  # uint16 DN, GCP-only: warped onto UTM
        (SLC, {}),  # complex I/Q → amplitude float32, GCP-only
        (BEN / "B" / "29SND_56_35.tif", {"tile_size": 64, "overlap": 16}),  # Sentinel-2 uint16, 3 bands
    ],
    ids=["landsat7-rgb", "s1-grd", "s1-slc", "s2-uint16"],
)
def test_identity_reproduces_real_rasters(tmp_path: Path, src: Path, options: dict) -> None:
    out = tmp_path / "out.tif"
    result = translate_raster(src, out, "identity", **options)
    read_opts = {k: v for k, v in options.items() if k == "nodata"}
    with open_raster(src, **read_opts) as s, open_raster(out) as o:
        assert (o.crs, o.width, o.height, o.count, o.dtype) == (s.crs, s.width, s.height, s.count, s.dtype)
        assert o.transform.almost_equals(s.transform)
        from rasterio.windows import Window

        a, va = s.read(Window(0, 0, s.width, s.height))
        b, vb = o.read(Window(0, 0, o.width, o.height))
    va = np.ones(a.shape, bool) if va is None else np.broadcast_to(va, a.shape)
    vb = np.ones(b.shape, bool) if vb is None else np.broadcast_to(vb, b.shape)
    np.testing.assert_array_equal(va, vb)
    if a.dtype.kind == "f":
        np.testing.assert_allclose(b[vb], a[va], rtol=1e-5, atol=1e-6 * float(np.abs(a[va]).max()))
    else:
        np.testing.assert_array_equal(b[vb], a[va])
    assert result.translated + result.skipped == result.tiles


def test_the_cpu_default_batch_holds_about_four_256_px_tiles() -> None:
    from geo2map.inference import Translator, cpu_batch_size

    assert [cpu_batch_size(s) for s in (128, 256, 384, 512, 640)] == [16, 4, 1, 1, 1]
    sat2map = load_model("sat2map")  # 640-px tiles
    assert Translator(sat2map, device="cpu").batch_size == 1
    assert Translator(sat2map, device="cpu", tile_size=256).batch_size == 4
    assert Translator(sat2map, device="cpu", batch_size=3).batch_size == 3


class _Passthrough(torch.nn.Module):
    """A 'network' returning its (scaled) input: makes the scaled values visible."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clone()


def _passthrough(input_scaling: dict, bands: int) -> LoadedModel:
    card = ModelCard(
        name="passthrough",
        task="pix2pix",
        architecture=Architecture("resnet_6blocks", bands, bands, 8, "none"),
        input_scaling=input_scaling,
        output_scaling={"name": "optical_reflectance", "params": {"low": -1, "high": 1, "clip": False}},
        input_bands=[Band(f"b{i}") for i in range(bands)],
        output_bands=[Band(f"b{i}") for i in range(bands)],
        output_dtype="float32",
        tile_size=64,
        overlap=16,
    ).validate()
    return LoadedModel(card, _Passthrough(), "passthrough")


@pytest.mark.parametrize(
    "scaling",
    [
        {"name": "sar", "params": {"input": "amplitude", "method": "quantile", "quantile": 0.98}},
        {"name": "optical_reflectance", "params": {"mode": "percentile", "p_low": 5, "p_high": 95}},
    ],
    ids=["sar-quantile", "percentile"],
)
def test_a_pixel_gets_the_same_scaled_value_in_every_tile(tmp_path: Path, scaling: dict) -> None:
    """Per-tile statistics would make overlapping tiles disagree: blend none vs cosine and
    different tile sizes would then differ, and none would match the whole-scene scaling."""
    model = _passthrough(scaling, 1)
    outs = []
    for i, (blend, size, overlap) in enumerate([("none", 64, 16), ("cosine", 64, 32), ("linear", 128, 40)]):
        out = tmp_path / f"{i}.tif"
        translate_raster(GRD, out, model, nodata=0, blend=blend, tile_size=size, overlap=overlap, device="cpu")
        with rasterio.open(out) as o:
            outs.append(o.read(1, masked=True))
    with open_raster(GRD, nodata=0) as s:
        fitted = scaling_from_dict(scaling).fit_source(s)
        data, valid = s.read(rasterio.windows.Window(0, 0, s.width, s.height))
    expected = fitted.forward(data, valid)[0]
    for o in outs:
        np.testing.assert_array_equal(o.mask, ~valid[0])
        np.testing.assert_allclose(o.filled(0)[valid[0]], expected[valid[0]], atol=1e-5)


def test_dsm_local_minimum_reads_a_halo(tmp_path: Path) -> None:
    """local_min needs pixels around each tile: the result equals the whole-scene computation."""
    rng = np.random.default_rng(4)
    dsm = (smooth_field(rng, 1, 300, 260) * 40 + rng.uniform(0, 3, (1, 300, 260))).astype("float32")
    src = write_raster(tmp_path / "dsm.tif", dsm)
    scaling = {"name": "dsm", "params": {"method": "local_min", "radius": 20, "max_height": 40}}
    out = tmp_path / "ndsm.tif"
    translate_raster(src, out, _passthrough(scaling, 1), overlap=16)
    with rasterio.open(out) as o:
        got = o.read(1)
    expected = scaling_from_dict(scaling).forward(dsm)[0]
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_train_mode_inference_equals_reference_batch_of_one() -> None:
    """The reference runs pix2pix U-Nets in train mode with batch 1: batch norm then uses each
    tile's own statistics. Ours gives exactly that at any batch size."""
    from geo2map.inference import prepare_generator
    from geo2map.models.networks import build_generator

    torch.manual_seed(0)
    net = build_generator("unet_128", 2, 3, ngf=8, norm="batch", dropout=False)
    for m in net.modules():  # non-trivial affine weights and running statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.normal_(m.weight, 1, 0.3)
            torch.nn.init.normal_(m.bias, 0, 0.3)
            m.running_mean.normal_(0, 1)
    x = torch.randn(5, 2, 128, 128)
    import copy

    ref = copy.deepcopy(net).train()
    with torch.no_grad():
        expected = torch.cat([ref(x[i : i + 1]) for i in range(5)])
        got = prepare_generator(copy.deepcopy(net), "train")(x)
        evaluated = prepare_generator(copy.deepcopy(net), "eval")(x)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    assert (evaluated - expected).abs().max() > 1e-2  # eval mode (running statistics) differs


def test_train_mode_dropout_is_seeded(tmp_path: Path) -> None:
    from geo2map.inference import Translator
    from geo2map.models.networks import build_generator

    torch.manual_seed(0)
    net = build_generator("unet_128", 1, 1, ngf=8, norm="batch", dropout=True)
    card = ModelCard(
        name="drop",
        task="pix2pix",
        architecture=Architecture("unet_128", 1, 1, 8, "batch", True),
        input_scaling={"name": "optical_u8", "params": {}},
        output_scaling={"name": "optical_u8", "params": {}},
        tile_size=128,
        overlap=32,
        inference_mode="train",
    )
    x = np.random.default_rng(0).uniform(-1, 1, (3, 1, 128, 128)).astype("float32")
    runs = [Translator(LoadedModel(card, net, "x"), device="cpu", seed=s).run_batch(x) for s in (0, 0, 1)]
    np.testing.assert_array_equal(runs[0], runs[1])  # the same seed repeats exactly
    assert np.abs(runs[0] - runs[2]).max() > 1e-3  # dropout is active: another seed differs


def test_models_list_and_info_show_identity(runner) -> None:
    res = runner.invoke(cli, ["models", "list"])
    assert res.exit_code == 0 and res.output.startswith("identity"), res.output
    res = runner.invoke(cli, ["models", "info", "identity"])
    assert res.exit_code == 0 and "task            identity" in res.output, res.output
