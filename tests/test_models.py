"""Networks, the model file and its card, reference-checkpoint import."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from conftest import DATA

from geo2map.cli.main import cli
from geo2map.errors import ModelError
from geo2map.models.card import Architecture, Band, ModelCard
from geo2map.models.networks import GENERATORS, NORMS, build_discriminator, build_generator
from geo2map.models.package import load_model, read_card, save_model

REF = json.loads((DATA / "reference_keys.json").read_text())


def _keys(net: torch.nn.Module) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in net.state_dict().items()}


@pytest.mark.parametrize(
    "case,build",
    [
        ("unet_256_batch_dropout_3to3", lambda: build_generator("unet_256", 3, 3, norm="batch", dropout=True)),
        ("resnet_9blocks_instance_3to3", lambda: build_generator("resnet_9blocks", 3, 3, norm="instance")),
        (
            "resnet_9blocks_instance_dropout_3to3",
            lambda: build_generator("resnet_9blocks", 3, 3, norm="instance", dropout=True),
        ),
        ("basic_D_batch_6", lambda: build_discriminator("basic", 6, norm="batch")),
        ("basic_D_instance_3", lambda: build_discriminator("basic", 3, norm="instance")),
    ],
)
def test_state_dict_keys_match_the_reference(case, build) -> None:
    assert _keys(build()) == REF[case]


SIZES = {"unet_32": 32, "unet_64": 64, "unet_128": 128, "unet_256": 256, "resnet_6blocks": 32, "resnet_9blocks": 32}


@pytest.mark.parametrize("arch", list(GENERATORS))
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("bands", [(2, 3), (1, 3), (3, 5)])
def test_every_generator_any_bands_forward_shape(arch, norm, bands) -> None:
    i, o = bands
    net = build_generator(arch, i, o, ngf=4, norm=norm, dropout=True).eval()
    s = SIZES[arch]
    with torch.no_grad():
        y = net(torch.randn(2, i, s, s))
    assert y.shape == (2, o, s, s)
    assert y.abs().max() <= 1  # tanh


@pytest.mark.parametrize("kind", ["basic", "n_layers", "pixel"])
@pytest.mark.parametrize("norm", NORMS)
def test_discriminators(kind, norm) -> None:
    net = build_discriminator(kind, 5, ndf=8, n_layers=2, norm=norm)
    y = net(torch.randn(2, 5, 64, 64))
    assert y.shape[:2] == (2, 1)
    if kind == "basic":
        assert y.shape[2:] == (6, 6)  # 70x70 receptive field patches on a 64 px input


def _card(**kw) -> ModelCard:
    base = dict(
        name="t",
        task="pix2pix",
        summary="test model",
        architecture=Architecture("resnet_6blocks", 2, 3, 8, "instance", False),
        input_bands=[Band("VV"), Band("VH")],
        output_bands=[Band("red"), Band("green"), Band("blue")],
        input_scaling={"name": "sar", "params": {"input": "db", "db_min": -30, "db_max": 5}},
        output_scaling={"name": "optical_reflectance", "params": {"low": 0, "high": 3000}},
        output_dtype="uint16",
        output_colorinterp=["red", "green", "blue"],
        tile_size=128,
        overlap=32,
        training={"data": "x", "data_licence": "CDLA-Permissive-1.0"},
        metrics={"val_L1": 0.1},
        licence="CC-BY-4.0",
    )
    base.update(kw)
    return ModelCard(**base)


@pytest.mark.parametrize("half", [False, True])
def test_model_file_round_trip(tmp_path: Path, half: bool) -> None:
    card = _card()
    net = build_generator("resnet_6blocks", 2, 3, ngf=8, norm="instance")
    path = save_model(tmp_path / "m.safetensors", net, card, half=half)
    assert read_card(path).to_dict() == card.to_dict()
    umask = os.umask(0o022)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask  # readable by others, like any file the user writes
    loaded = load_model(path)
    assert loaded.card.to_dict() == card.to_dict()
    assert not loaded.generator.training  # eval mode recorded in the card
    x = torch.randn(1, 2, 64, 64)
    with torch.no_grad():
        a, b = net.eval()(x), loaded.generator(x)
    torch.testing.assert_close(a, b, atol=2e-2 if half else 1e-6, rtol=0)
    # train-mode inference is honoured
    path2 = save_model(tmp_path / "m2.safetensors", net, _card(inference_mode="train"))
    assert load_model(path2).generator.training


def test_card_validation() -> None:
    with pytest.raises(ModelError, match="input bands"):
        _card(input_bands=[Band("VV")]).validate()
    with pytest.raises(ModelError, match="multiple"):
        _card(architecture=Architecture("unet_256", 2, 3), tile_size=128).validate()
    with pytest.raises(ModelError, match="scaling"):
        _card(input_scaling={"name": "nope"}).validate()
    with pytest.raises(ModelError, match="task"):
        _card(task="gan").validate()
    with pytest.raises(ModelError, match="newer"):
        _card(version=99).validate()


def test_pickles_and_non_models_are_refused(tmp_path: Path) -> None:
    net = build_generator("resnet_6blocks", 3, 3, ngf=4)
    pth = tmp_path / "latest_net_G.pth"
    torch.save(net.state_dict(), pth)
    with pytest.raises(ModelError, match="pickle"):
        read_card(pth)
    txt = tmp_path / "model.safetensors"
    txt.write_text("hello, not a model at all")
    with pytest.raises(ModelError, match="not a geo2map model"):
        load_model(txt)
    from safetensors.torch import save_file

    bare = tmp_path / "bare.safetensors"
    save_file({"w": torch.zeros(2)}, bare)
    with pytest.raises(ModelError, match="without a geo2map model card"):
        read_card(bare)
    with pytest.raises(ModelError, match="does not exist"):
        read_card(tmp_path / "missing.safetensors")


def test_import_reference_checkpoint(tmp_path: Path, runner) -> None:
    """A reference-style checkpoint (DataParallel prefix, old InstanceNorm running stats) imports."""
    ref = build_generator("resnet_9blocks", 3, 3, ngf=8, norm="instance")
    state = {f"module.{k}": v for k, v in ref.state_dict().items()}
    # PyTorch < 0.4 checkpoints carried running stats for InstanceNorm layers
    state["module.model.2.running_mean"] = torch.zeros(8)
    state["module.model.2.running_var"] = torch.ones(8)
    ckpt = tmp_path / "latest_net_G_A.pth"
    torch.save(state, ckpt)
    out = tmp_path / "horse2zebra.safetensors"
    res = runner.invoke(cli, ["models", "import", str(ckpt), "--arch", "resnet_9blocks", "--ngf", "8", "-o", str(out)])
    assert res.exit_code == 0, res.output
    loaded = load_model(out)
    assert loaded.card.task == "cyclegan" and loaded.card.architecture.norm == "instance"
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ref.eval()(x), loaded.generator(x))
    res = runner.invoke(cli, ["models", "info", str(out)])
    assert res.exit_code == 0 and "resnet_9blocks" in res.output
    # wrong architecture: one line, no traceback, no output file
    bad = tmp_path / "bad.safetensors"
    res = runner.invoke(cli, ["models", "import", str(ckpt), "--arch", "unet_256", "-o", str(bad)])
    assert res.exit_code != 0 and "Traceback" not in res.output and "does not fit" in res.output
    assert not bad.exists()
    res = runner.invoke(cli, ["models", "info", str(ckpt)])
    assert res.exit_code != 0 and "pickle" in res.output
    res = runner.invoke(cli, ["models", "list"])
    assert res.exit_code == 0


def test_a_header_length_starting_with_0x80_is_not_taken_for_a_pickle(tmp_path: Path) -> None:
    """safetensors starts with its header length, and 0x80 as its first byte (a pickle's first byte
    too) happened to a real card: such a file loads."""
    net = build_generator("resnet_6blocks", 2, 3, ngf=8, norm="instance")  # _card()'s architecture
    path = Path(save_model(tmp_path / "m.safetensors", net, _card()))
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = raw[8 : 8 + n].decode() + " " * ((0x80 - n) % 256)  # safetensors allows trailing spaces
    fixed = tmp_path / "x80.safetensors"
    fixed.write_bytes(len(header).to_bytes(8, "little") + header.encode() + raw[8 + n :])
    assert fixed.read_bytes()[0] == 0x80
    assert load_model(fixed).card.to_dict() == _card().to_dict()
