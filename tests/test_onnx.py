"""ONNX: export with the card, onnxruntime inference through the same pipeline, parity with torch,
and inference without torch (simulated here; .ci/run also runs tests/torchfree in a venv without it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import rasterio
import torch
from conftest import DATA, RGB, save_tiny_model

from geo2map.cli.main import cli
from geo2map.models.card import Architecture, Band, ModelCard
from geo2map.models.networks import build_generator
from geo2map.models.onnx_model import CARD_KEY, export_onnx
from geo2map.models.package import load_model, read_card, save_model
from geo2map.models.registry import BUILTIN_DIR, resolve
from geo2map.translate import translate_raster

SEN12 = DATA / "s1_vh_sen12_059.tif"
NAMES = ("sar2rgb", "sat2map", "dsm2rgb")


def _levels(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read().astype(np.int32)


def _parity(a: Path, b: Path) -> float:
    return float((np.abs(_levels(a) - _levels(b)) <= 1).mean())


def test_export_carries_the_card_and_runs_in_plain_onnxruntime(tmp_path: Path, runner) -> None:
    out = tmp_path / "sar2rgb.onnx"
    res = runner.invoke(cli, ["models", "export", "sar2rgb", "-o", str(out)])
    assert res.exit_code == 0, res.output
    proto = onnx.load(out)
    onnx.checker.check_model(proto)
    card = json.loads({p.key: p.value for p in proto.metadata_props}[CARD_KEY])
    ref = read_card(resolve("sar2rgb")).to_dict()
    assert card.pop("training")["onnx_export"]["dropout"] == "expectation (identity)"
    assert {k: v for k, v in card.items()} == {k: v for k, v in ref.items() if k != "training"}
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    net = load_model(resolve("sar2rgb")).generator.float().eval()
    for shape in [(1, 1, 256, 256), (3, 1, 512, 768)]:  # dynamic batch, height and width
        x = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
        y = sess.run(None, {"input": x})[0]
        with torch.no_grad():
            np.testing.assert_allclose(y, net(torch.from_numpy(x)).numpy(), atol=1e-4)
    res = runner.invoke(cli, ["models", "export", "sar2rgb", "-o", str(out)])
    assert res.exit_code == 1 and "exists" in res.output  # no silent overwrite
    res = runner.invoke(cli, ["models", "export", "identity", "-o", str(tmp_path / "i.onnx")])
    assert res.exit_code == 1 and "no network" in res.output
    res = runner.invoke(cli, ["models", "export", "sar2rgb", "-o", str(tmp_path / "x.tif")])
    assert res.exit_code == 1 and ".onnx" in res.output


def test_unet_translation_equals_torch_fp32_on_a_real_scene(tmp_path: Path) -> None:
    onnx_path = export_onnx("sar2rgb", tmp_path / "m.onnx", half=True)
    translate_raster(SEN12, tmp_path / "torch.tif", "sar2rgb", precision="fp32", device="cpu")
    translate_raster(SEN12, tmp_path / "onnx.tif", onnx_path)
    assert _parity(tmp_path / "torch.tif", tmp_path / "onnx.tif") >= 0.999
    with rasterio.open(tmp_path / "onnx.tif") as a, rasterio.open(tmp_path / "torch.tif") as b:
        assert a.profile == b.profile and a.descriptions == b.descriptions  # the card drives the output alike


def test_resnet_translation_equals_torch_fp32_on_a_real_scene(tmp_path: Path) -> None:
    model = save_tiny_model(tmp_path / "r.safetensors", "tiny", {"name": "optical_u8", "params": {}})
    onnx_path = export_onnx(model, tmp_path / "r.onnx")
    assert read_card(onnx_path).architecture.generator == "resnet_6blocks"
    translate_raster(RGB, tmp_path / "torch.tif", model, bidx="1", precision="fp32", device="cpu")
    translate_raster(RGB, tmp_path / "onnx.tif", onnx_path, bidx="1")
    assert _parity(tmp_path / "torch.tif", tmp_path / "onnx.tif") >= 0.999


def test_train_mode_card_exports_a_deterministic_graph(tmp_path: Path) -> None:
    """pix2pix's train-mode inference (per-tile statistics, dropout) → per-tile instance statistics
    with the batch-norm weights and dropout's expectation: the torch path with dropout off."""
    torch.manual_seed(0)
    net = build_generator("unet_128", 3, 3, ngf=8, norm="batch", dropout=True)
    card = ModelCard(
        name="trainmode",
        task="pix2pix",
        architecture=Architecture("unet_128", 3, 3, 8, "batch", True),
        input_scaling={"name": "optical_u8", "params": {}},
        output_scaling={"name": "optical_u8", "params": {}},
        input_bands=[Band("r"), Band("g"), Band("b")],
        output_bands=[Band("r"), Band("g"), Band("b")],
        tile_size=128,
        overlap=32,
        inference_mode="train",
    )
    path = save_model(tmp_path / "t.safetensors", net, card)
    onnx_path = export_onnx(path, tmp_path / "t.onnx")
    how = read_card(onnx_path).training["onnx_export"]
    assert "per-tile instance statistics" in how["normalisation"] and "expectation" in how["dropout"]
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).uniform(-1, 1, (2, 3, 128, 128)).astype(np.float32)
    y1, y2 = sess.run(None, {"input": x})[0], sess.run(None, {"input": x})[0]
    assert np.array_equal(y1, y2)
    from geo2map.inference import prepare_generator

    ref = prepare_generator(load_model(path).generator, "train")
    for m in ref.modules():
        if isinstance(m, torch.nn.Dropout):
            m.eval()
    with torch.no_grad():
        np.testing.assert_allclose(y1, ref(torch.from_numpy(x)).numpy(), atol=1e-4)
        # per-tile statistics: a tile's output does not depend on the other tiles in its batch
        np.testing.assert_allclose(y1[:1], sess.run(None, {"input": x[:1]})[0], atol=1e-5)


def test_the_builtins_ship_as_onnx_with_the_same_cards() -> None:
    for name in NAMES:
        card = read_card(BUILTIN_DIR / f"{name}.onnx").to_dict()
        ref = read_card(BUILTIN_DIR / f"{name}.safetensors").to_dict()
        assert card.pop("training").pop("onnx_export")["weights"].startswith("float16")
        ref.pop("training")
        assert card == ref, f"{name}.onnx is stale: re-export it (geo2map models export {name} --half)"


def test_onnx_sessions_do_not_spin() -> None:
    from geo2map.models.onnx_model import OnnxGenerator

    gen = OnnxGenerator(str(BUILTIN_DIR / "sat2map.onnx"))
    assert gen.session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_a_builtin_name_with_onnx_picks_its_onnx_export(tmp_path: Path) -> None:
    assert resolve("sat2map.onnx") == str(BUILTIN_DIR / "sat2map.onnx")
    translate_raster(SEN12, tmp_path / "a.tif", "sar2rgb.onnx")
    with rasterio.open(tmp_path / "a.tif") as ds:
        assert ds.tags()["GEO2MAP_MODEL"] == "sar2rgb"


def test_onnx_options_are_checked(tmp_path: Path) -> None:
    from geo2map.errors import Geo2MapError

    with pytest.raises(Geo2MapError, match="float32"):
        translate_raster(SEN12, tmp_path / "o.tif", BUILTIN_DIR / "sar2rgb.onnx", precision="bf16")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(Geo2MapError, match="onnxruntime-gpu"):
            translate_raster(SEN12, tmp_path / "o.tif", BUILTIN_DIR / "sar2rgb.onnx", device="cuda")
    assert not (tmp_path / "o.tif").exists()


NO_TORCH = (
    "import sys; sys.modules['torch'] = None\nfrom geo2map.cli.main import cli\nif __name__ == '__main__': cli()\n"
)


def _no_torch(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    script = tmp / "no_torch.py"
    script.write_text(NO_TORCH)
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=300)


def test_without_torch_builtins_run_as_onnx_and_torch_models_say_what_to_install(tmp_path: Path) -> None:
    out = tmp_path / "out.tif"
    r = _no_torch(tmp_path, "translate", str(SEN12), "--model", "sar2rgb", "-o", str(out), "-q")
    assert r.returncode == 0, r.stderr
    translate_raster(SEN12, tmp_path / "torch.tif", "sar2rgb", precision="fp32", device="cpu")
    assert _parity(out, tmp_path / "torch.tif") >= 0.999
    r = _no_torch(tmp_path, "translate", str(SEN12), "--model", str(BUILTIN_DIR / "sar2rgb.safetensors"), "-o", "x.tif")
    assert r.returncode == 1 and "pip install 'geo2map[torch]'" in r.stderr and "Traceback" not in r.stderr
    r = _no_torch(tmp_path, "train", "--data", str(tmp_path), "--out", str(tmp_path / "run"))
    assert r.returncode == 1 and "needs torch" in r.stderr and "Traceback" not in r.stderr
    r = _no_torch(tmp_path, "models", "list")
    assert r.returncode == 0 and "unreadable" not in r.stdout


@pytest.mark.parametrize(
    "arch,norm,size", [("unet_32", "batch", 64), ("unet_64", "batch", 128), ("resnet_6blocks", "instance", 64)]
)
@pytest.mark.parametrize("upsample,padding", [("deconv", "zeros"), ("resize", "reflect")])
def test_every_generator_and_option_exports(tmp_path: Path, arch, norm, size, upsample, padding) -> None:
    torch.manual_seed(0)
    net = build_generator(arch, 2, 3, ngf=4, norm=norm, upsample=upsample, padding=padding, init="kaiming")
    card = ModelCard(
        name="x",
        task="pix2pix",
        architecture=Architecture(arch, 2, 3, 4, norm, False, upsample, padding),
        input_scaling={"name": "optical_u8", "params": {}},
        output_scaling={"name": "optical_u8", "params": {}},
        tile_size=size,
        overlap=size // 4,
    )
    path = save_model(tmp_path / "m.safetensors", net, card)
    sess = ort.InferenceSession(export_onnx(path, tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(2).uniform(-1, 1, (2, 2, 2 * size, size)).astype(np.float32)
    with torch.no_grad():
        ref = load_model(path).generator(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(sess.run(None, {"input": x})[0], ref, atol=1e-4)


def test_evaluate_and_augment_take_an_onnx_model(tmp_path: Path, runner) -> None:
    from PIL import Image

    with rasterio.open(RGB) as ds:
        img = ds.read(window=((200, 456), (200, 456)))
    for side in ("valA", "valB"):
        (tmp_path / "pairs" / side).mkdir(parents=True)
        Image.fromarray(np.moveaxis(img, 0, -1)).save(tmp_path / "pairs" / side / "a.png")
    onnx_rep = tmp_path / "onnx_rep"
    res = runner.invoke(cli, ["evaluate", "-m", "sat2map.onnx", "--data", str(tmp_path / "pairs"), "-o", str(onnx_rep)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        cli, ["evaluate", "-m", "sat2map", "--data", str(tmp_path / "pairs"), "-o", str(tmp_path / "torch_rep")]
    )
    assert res.exit_code == 0, res.output
    a = json.loads((onnx_rep / "report.json").read_text())["metrics"]
    b = json.loads((tmp_path / "torch_rep" / "report.json").read_text())["metrics"]
    assert abs(a["rmse"] - b["rmse"]) < 0.5  # evaluate runs torch in fp32: the same numbers within rounding
    res = runner.invoke(cli, ["augment", "-m", "sat2map.onnx", str(tmp_path / "pairs"), str(tmp_path / "aug"), "-q"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "aug" / "valA" / "a.png").exists()
