"""Transposed convolutions projected onto resize-convolutions, and fine-tuning from a model file (init_from)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from train_helpers import tiny

from geo2map.errors import InputError
from geo2map.models.networks import build_generator
from geo2map.models.networks.common import ResizeConv
from geo2map.models.package import load_model
from geo2map.models.resize_projection import (
    _RESIZE,
    deconv_to_resize_kernel,
    project_generator_state,
    resize_to_deconv_taps,
)
from geo2map.train.loop import Trainer


def _tie(net: torch.nn.Module, seed: int = 0) -> None:
    """Give every 4x4 transposed conv of ``net`` the taps of a random 3x3 resize-conv kernel."""
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, torch.nn.ConvTranspose2d):
            i, o = m.weight.shape[:2]
            k = torch.randn(o, i, 3, 3, generator=g, dtype=torch.float64) * 0.1
            m.weight.data = torch.from_numpy(resize_to_deconv_taps(k.numpy())).float()


def test_a_resize_convolution_is_a_transposed_convolution_with_tied_phases() -> None:
    """Nearest x2 + 3x3 conv equals the 4x4 stride-2 transposed conv with taps A K Aᵀ, and the
    projection gives K back."""
    torch.manual_seed(0)
    rc = ResizeConv(5, 7, True).double()
    k = rc.conv.weight.detach().numpy()
    dc = torch.nn.ConvTranspose2d(5, 7, 4, 2, 1).double()
    dc.weight.data = torch.from_numpy(resize_to_deconv_taps(k))
    dc.bias.data = rc.conv.bias.detach().clone()
    x = torch.randn(2, 5, 9, 11, dtype=torch.float64)
    assert torch.allclose(dc(x), rc(x), atol=1e-12)
    np.testing.assert_allclose(deconv_to_resize_kernel(dc.weight.detach().numpy()), k, atol=1e-12)


def test_the_projection_is_the_least_squares_nearest_resize_kernel() -> None:
    """The residual W - A K Aᵀ of any transposed conv is orthogonal to every resize kernel's taps."""
    w = np.random.default_rng(0).normal(size=(3, 4, 4, 4))
    k = deconv_to_resize_kernel(w)
    residual = w - resize_to_deconv_taps(k)
    basis = np.eye(9).reshape(9, 3, 3)
    for b in basis:  # <residual, A b Aᵀ> = 0 for each basis kernel b
        taps = _RESIZE @ b @ _RESIZE.T
        assert np.abs(np.einsum("iokl,kl->io", residual, taps)).max() < 1e-10
    # a 3x3 transposed conv (the ResNet decoder's) projects too
    assert deconv_to_resize_kernel(np.ones((2, 3, 3, 3))).shape == (3, 2, 3, 3)


def test_a_whole_unet_converts_exactly_and_a_real_one_loses_its_checkerboard() -> None:
    deconv = build_generator("unet_256", 1, 3, ngf=4, dropout=True).eval()
    _tie(deconv)
    resize = build_generator("unet_256", 1, 3, ngf=4, dropout=True, upsample="resize").eval()
    resize.load_state_dict(project_generator_state(deconv.state_dict(), resize))
    x = torch.randn(1, 1, 256, 256, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(deconv(x), resize(x), atol=1e-5)


def _deconv_model(tmp_path: Path) -> Path:
    """A tiny trained transposed-conv U-Net model file on the bundled BigEarthNet pairs."""
    cfg = tiny(tmp_path, generator="unet_32", norm="batch", dropout=False, crop_size=64, tile_size=64, epochs=1)
    Trainer(cfg, tmp_path / "source").fit()
    return tmp_path / "source" / "model.safetensors"


def test_init_from_starts_the_generator_from_a_model_file(tmp_path: Path) -> None:
    source = _deconv_model(tmp_path)
    cfg = tiny(tmp_path, generator="unet_32", norm="batch", dropout=False, crop_size=64, tile_size=64,
                upsample="resize", init_from=str(source), epochs=1)  # fmt: skip
    from geo2map.train.gans import Pix2Pix

    model = Pix2Pix(cfg, 2, 3, torch.device("cpu"))
    src = load_model(source).generator
    expected = project_generator_state(src.state_dict(), model.generator())
    for key, value in model.generator().state_dict().items():
        assert torch.equal(value, expected[key]), key
    assert model.init_record and model.init_record["projected_to_resize"] is True
    Trainer(cfg, tmp_path / "tuned").fit()
    card = load_model(tmp_path / "tuned" / "model.safetensors").card
    assert card.architecture.upsample == "resize"
    assert card.training["init_from"]["upsample"] == "deconv" and card.training["init_from"]["path"] == str(source)


@pytest.mark.parametrize(
    "change,match",
    [
        ({"ngf": 16}, "its ngf is 8, this training's 16"),
        ({"generator": "unet_64"}, "its generator is unet_32"),
        ({"padding": "reflect"}, "its padding is zeros"),
    ],
)
def test_init_from_refuses_a_model_that_does_not_fit(tmp_path: Path, change, match) -> None:
    source = _deconv_model(tmp_path)
    opts = dict(generator="unet_32", norm="batch", dropout=False, crop_size=64, tile_size=64, init_from=str(source))
    with pytest.raises(InputError, match=match):
        Trainer(tiny(tmp_path, **{**opts, **change}), tmp_path / "r").fit()
    assert not (tmp_path / "r").exists()
    resized = tiny(tmp_path, **{**opts, "upsample": "resize"})
    back = Trainer(resized, tmp_path / "resized")
    back.fit()
    with pytest.raises(InputError, match="only deconv -> resize converts"):  # resize -> deconv cannot
        Trainer(tiny(tmp_path, **{**opts, "init_from": str(tmp_path / "resized" / "model.safetensors")}),
                tmp_path / "r2").fit()  # fmt: skip
    with pytest.raises(InputError, match="init_from=nowhere.safetensors"):
        Trainer(tiny(tmp_path, **{**opts, "init_from": "nowhere.safetensors"}), tmp_path / "r3").fit()


@pytest.mark.parametrize(
    "arch,padding", [("unet_256", "zeros"), ("unet_32", "reflect"), ("resnet_6blocks", "reflect"), ("unet_64", "zeros")]
)
def test_inference_runs_resize_convolutions_as_the_transposed_convolutions_they_equal(arch: str, padding: str) -> None:
    """Same output (fp32 rounding), borders included, for zero and reflection padding."""
    from geo2map.models.resize_projection import resize_as_transposed

    torch.manual_seed(0)
    norm = "batch" if arch.startswith("unet") else "instance"
    net = build_generator(arch, 2, 3, ngf=8, upsample="resize", padding=padding, norm=norm).eval()
    fast = resize_as_transposed(net)
    assert not any(isinstance(m, ResizeConv) for m in fast.modules())
    assert any(isinstance(m, ResizeConv) for m in net.modules())  # the caller's network is left as it was
    x = torch.randn(2, 2, 256, 256, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert (net(x) - fast(x)).abs().max().item() < 1e-5
    deconv = build_generator(arch, 2, 3, ngf=8, norm=norm)
    assert resize_as_transposed(deconv) is deconv  # nothing to convert: no copy


def test_translator_runs_the_fast_form_and_translates_the_same(tmp_path: Path) -> None:
    import rasterio
    from conftest import DATA

    from geo2map.inference import Translator
    from geo2map.models.resize_projection import resize_as_transposed
    from geo2map.translate import translate_raster

    sat2map = load_model("sat2map")  # U-Net-32, resize-conv, reflection padding
    assert not any(isinstance(m, ResizeConv) for m in Translator(sat2map, device="cpu").net.modules())
    assert any(isinstance(m, ResizeConv) for m in sat2map.generator.modules())
    # without the output palette: a pixel that fp32 rounding moves across a snapping distance jumps to a colour
    translate_raster(DATA / "RGB.byte.tif", tmp_path / "fast.tif", sat2map, precision="fp32", palette=False)
    import geo2map.models.resize_projection as rp

    try:
        rp.resize_as_transposed = lambda net: net  # the plain resize-conv network
        translate_raster(
            DATA / "RGB.byte.tif", tmp_path / "plain.tif", load_model("sat2map"), precision="fp32", palette=False
        )
    finally:
        rp.resize_as_transposed = resize_as_transposed
    with rasterio.open(tmp_path / "fast.tif") as a, rasterio.open(tmp_path / "plain.tif") as b:
        diff = np.abs(a.read().astype(int) - b.read().astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.001
