"""Training data: GeoTIFF pairs split in space, side-by-side images, A/B folders, the Tahoe pair, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from conftest import DATA, RGB, write_raster
from train_helpers import BEN, tiny

from geo2map.cli.main import cli
from geo2map.models.package import load_model
from geo2map.train.config import resolve_config
from geo2map.train.loop import Trainer, build_datasets


def test_geotiff_pair_spatial_split(tmp_path: Path) -> None:
    """Two rasters on different grids: tiled on the fly; no validation tile overlaps a training tile."""
    from rasterio.warp import calculate_default_transform, reproject

    with rasterio.open(RGB) as src:
        t, w, h = calculate_default_transform(src.crs, "EPSG:4326", src.width, src.height, *src.bounds)
        grey = np.zeros((1, h, w), "float32")
        reproject(
            src.read(2).astype("float32")[None],
            grey,
            src_transform=src.transform,
            src_crs=src.crs,
            dst_transform=t,
            dst_crs="EPSG:4326",
            src_nodata=0,
            dst_nodata=np.nan,
        )
    target = write_raster(tmp_path / "green_4326.tif", grey, crs="EPSG:4326", transform=t)
    cfg = tiny(
        tmp_path,
        data=str(RGB),
        pair=str(target),
        scaling_a=None,
        scaling_b=None,
        crop_size=64,
        tile_size=64,
        tile_overlap=16,
        val_fraction=0.2,
        split_block=3,
        epochs=1,
    )
    data = build_datasets(cfg)
    assert data.fmt == "geotiff_pair" and len(data.val) > 0 and len(data.train) > len(data.val)
    for tr in data.train.items:
        for va in data.val.items:
            assert not (
                tr.col_off < va.col_off + 64
                and va.col_off < tr.col_off + 64
                and tr.row_off < va.row_off + 64
                and va.row_off < tr.row_off + 64
            )
    s = data.train[0]
    assert s["A"].shape == (3, 64, 64) and s["B"].shape == (1, 64, 64)
    assert float(s["A"].min()) >= -1 and float(s["B"].max()) <= 1
    Trainer(cfg, tmp_path / "run").fit()
    assert (tmp_path / "run" / "model.safetensors").exists()


def test_side_by_side_and_direction(tmp_path: Path) -> None:
    """The seeds' A|B image format (real Landsat crops), both directions."""
    from PIL import Image

    with rasterio.open(RGB) as ds:
        img = ds.read(window=((200, 328), (200, 456)))
    folder = tmp_path / "ab"
    folder.mkdir()
    for i in range(4):
        left = np.roll(img[:, :, :128], i * 7, axis=2)
        right = 255 - left
        Image.fromarray(np.moveaxis(np.concatenate([left, right], axis=2), 0, -1)).save(folder / f"{i}.png")
    for direction in ("AtoB", "BtoA"):
        cfg = tiny(
            tmp_path,
            data=str(folder),
            scaling_a=None,
            scaling_b=None,
            direction=direction,
            val_fraction=0.25,
            crop_size=64,
            load_size=96,
            epochs=1,
        )
        data = build_datasets(cfg)
        assert data.fmt == "side_by_side" and len(data.train) == 3
        data.train.train = False
        s = data.train[0]
        expect = -s["B"] if direction == "AtoB" else -s["A"]
        got = s["A"] if direction == "AtoB" else s["B"]
        assert torch.allclose(got, expect, atol=0.05)  # right = 255 - left


def test_tahoe_dsm_to_aerial_pair(tmp_path: Path) -> None:
    """The lidar DSM + aerial photo pair (bundled copies) trains from the two GeoTIFFs directly."""
    tahoe = DATA / "tahoe"
    cfg = tiny(
        tmp_path,
        data=str(tahoe / "tahoe_lidar_highesthit.tif"),
        pair=str(tahoe / "tahoe_highrez.tif"),
        scaling_a={"name": "dsm", "params": {"method": "scene_min", "max_height": 40}},
        scaling_b=None,
        crop_size=64,
        tile_size=64,
        split_block=2,
        val_fraction=0.2,
        epochs=1,
    )
    Trainer(cfg, tmp_path / "tahoe").fit()
    card = load_model(tmp_path / "tahoe" / "model.safetensors").card
    assert card.input_scaling["name"] == "dsm" and card.input_scaling["params"]["base"] is not None


def test_ab_folders_pair_files_by_name_without_extension(tmp_path: Path) -> None:
    """Potsdam-style folders: A/x.png (heights, lossless) with B/x.jpg (photo)."""
    from PIL import Image

    from geo2map.train.data import match_pairs

    rng = np.random.default_rng(0)
    for side in ("trainA", "trainB"):
        (tmp_path / side).mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(tmp_path / "trainA" / f"p{i}.png")
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "trainB" / f"p{i}.jpg")
    (tmp_path / "trainB" / "extra.jpg").write_bytes((tmp_path / "trainB" / "p0.jpg").read_bytes())
    cfg = resolve_config("pix2pix", "paper", None, dict(data=str(tmp_path), crop_size=64, val_fraction=0.34))
    data = build_datasets(cfg)
    assert len(data.train) + len(data.val) == 3
    assert match_pairs(["a/x.png", "a/y.png"], ["b/y.jpg", "b/x.jpg"]) == [
        ("a/x.png", "b/x.jpg"),
        ("a/y.png", "b/y.jpg"),
    ]


def test_bad_training_input(tmp_path: Path, runner) -> None:
    res = runner.invoke(cli, ["train", "--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "r")])
    assert res.exit_code != 0 and "Traceback" not in res.output and "does not exist" in res.output
    res = runner.invoke(cli, ["train", "--data", str(BEN), "--out", str(tmp_path / "r"), "--set", "lamda=3"])
    assert res.exit_code != 0 and "unknown training option" in res.output


@pytest.mark.parametrize(
    "setting,match",
    [
        ("lambda_l1=abc", "lambda_l1 must be a number"),
        ("batch_size=[1,2]", "batch_size must be an integer"),
        ("flip=3", "flip must be true or false"),
        ("scaling_a=x", "scaling_a must be a mapping"),
    ],
)
def test_wrong_option_types_are_one_line_and_leave_no_run_folder(tmp_path: Path, runner, setting, match) -> None:
    out = tmp_path / "r"
    res = runner.invoke(cli, ["train", "--data", str(BEN), "--out", str(out), "--set", setting])
    assert res.exit_code == 1 and match in res.output and "Traceback" not in res.output, res.output
    assert not out.exists()


def test_a_failing_start_leaves_nothing_behind(tmp_path: Path, runner) -> None:
    bad = tmp_path / "bad"
    for side in ("trainA", "trainB"):
        (bad / side).mkdir(parents=True)
        (bad / side / "a.png").write_text("not an image")
    res = runner.invoke(cli, ["train", "--data", str(bad), "--out", str(tmp_path / "r"), "-q"])
    assert res.exit_code == 1 and "a.png" in res.output and "Traceback" not in res.output, res.output
    assert not (tmp_path / "r").exists()  # no config.yaml, no samples/ of a run that never started


def test_numbers_in_e_notation_without_a_dot_are_numbers() -> None:
    """YAML 1.1 reads 3e-5 as a string; --set lr_g=3e-5 (and lr_g: 3e-5 in a config file) still means 3e-5."""
    from geo2map.cli.train import _parse_sets

    cfg = resolve_config("pix2pix", "paper", None, {"data": str(BEN), **_parse_sets(("lr_g=3e-5", "lr_d=2E-4"))})
    assert cfg.lr_g == 3e-5 and cfg.lr_d == 2e-4
