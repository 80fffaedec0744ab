"""Training: real learning on real pairs, exact resume, every data format, CycleGAN."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from conftest import DATA, RGB, write_raster

from geo2map.cli.main import cli
from geo2map.models.package import load_model
from geo2map.train.config import resolve_config
from geo2map.train.loop import Trainer, build_datasets

BEN = DATA / "bigearthnet"
SAR = {"name": "sar", "params": {"input": "db", "method": "db", "db_min": -30, "db_max": 5}}
S2 = {"name": "optical_reflectance", "params": {"mode": "fixed", "low": 0, "high": 3000}}


def _tiny(tmp: Path, **kw):
    base = dict(
        data=str(BEN),
        scaling_a=SAR,
        scaling_b=S2,
        generator="resnet_6blocks",
        ngf=8,
        ndf=8,
        norm="instance",
        dropout=False,
        crop_size=64,
        tile_size=64,
        epochs=2,
        val_fraction=0.34,
        checkpoint_every=1,
        device="cpu",
        samples=2,
        seed=3,
    )
    base.update(kw)
    return resolve_config(base.pop("mode", "pix2pix"), "paper", None, base)


def _l1(gen, ds) -> float:
    gen.eval()
    with torch.no_grad():
        return float(
            np.mean(
                [
                    torch.nn.functional.l1_loss(gen(s["A"][None]), s["B"][None]).item()
                    for s in (ds[i] for i in range(len(ds)))
                ]
            )
        )


def test_overfits_real_sentinel1_to_sentinel2_pairs(tmp_path: Path) -> None:
    """Real learning: on 4 real S1 (VV, VH dB) → S2 (RGB) pairs, 150 Pix2Pix steps (about 20 CPU
    seconds) bring the L1 to under a third of its starting value."""
    cfg = _tiny(tmp_path, val_fraction=0.34, flip=False, rot90=False, lr_g=2e-3, lr_d=2e-4, lr_schedule="constant")
    data = build_datasets(cfg)
    assert len(data.train) == 4 and len(data.val) == 2
    from geo2map.train.gans import Pix2Pix

    torch.manual_seed(0)
    model = Pix2Pix(cfg, 2, 3, torch.device("cpu"))
    data.train.train = False  # fixed centre crops: the same 4 targets every step
    batch = {
        "A": torch.stack([data.train[i]["A"] for i in range(4)]),
        "B": torch.stack([data.train[i]["B"] for i in range(4)]),
    }
    start = _l1(model.generator(), data.train)
    losses = []
    for _ in range(150):
        model.train(True)
        losses.append(model.step(batch)["G_L1"])
    end = _l1(model.generator(), data.train)
    assert end < start / 3, (start, end)
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) / 2


def test_resume_is_exact(tmp_path: Path) -> None:
    """N epochs in one go == N/2 epochs, a stop, a resume and N/2 more (fixed seed, CPU)."""
    cfg = _tiny(
        tmp_path,
        epochs=4,
        instance_noise=0.1,
        label_smoothing=0.1,
        band_jitter=0.1,
        border_reflect=0.5,
        dropout=True,
        lr_schedule="linear",
    )
    Trainer(cfg, tmp_path / "one").fit()
    _fit_until(Trainer(cfg, tmp_path / "two"), 2)
    half = torch.load(tmp_path / "two" / "checkpoint.pt", weights_only=True)
    assert half["epoch"] == 2 and half["time_s"] > 0
    t0 = time.perf_counter()
    Trainer(cfg, tmp_path / "two").fit(resume=True)
    resumed = time.perf_counter() - t0
    # the card's training time is the whole run's, not the resumed part's
    total = load_model(tmp_path / "two" / "model.safetensors").card.training["time_s"]
    assert half["time_s"] + 0.5 * resumed < total < half["time_s"] + resumed + 1, (half["time_s"], resumed, total)
    a = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "two" / "checkpoint.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 4
    for net in a["model"]["nets"]:
        for k, v in a["model"]["nets"][net].items():
            assert torch.equal(v, b["model"]["nets"][net][k]), f"{net}.{k} differs after resume"
    assert [h["G_L1"] for h in a["history"]] == [h["G_L1"] for h in b["history"]]


def test_resume_with_the_cosine_schedule(tmp_path: Path) -> None:
    """The 'stable' preset's cosine schedule must leave a weights-only checkpoint that resumes;
    keep_every keeps per-epoch model files to pick one by held-out metrics."""
    cfg = _tiny(tmp_path, epochs=3, lr_schedule="cosine_onecycle", keep_every=2, checkpoint_every=5)
    _fit_until(Trainer(cfg, tmp_path / "run"), 2)
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)  # no numpy scalars inside
    assert state["epoch"] == 2  # a kept epoch is also a checkpoint
    Trainer(cfg, tmp_path / "run").fit(resume=True)
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["epoch"] == 3
    # keep_every: the model file of epoch 2 is kept beside the final one, with its own card
    kept = sorted(p.name for p in (tmp_path / "run" / "models").iterdir())
    assert kept == ["epoch_002.safetensors"]
    assert load_model(tmp_path / "run" / "models" / kept[0]).card.training["epochs"] == 2
    assert load_model(tmp_path / "run" / "model.safetensors").card.training["epochs"] == 3


def _fit_until(trainer: Trainer, epochs: int) -> None:
    """Run a trainer but stop (as a crash would) after ``epochs`` epochs."""

    class Stop(Exception):
        pass

    def progress(info):
        if info.get("epoch_end") == epochs:
            raise Stop

    trainer.progress = progress
    with pytest.raises(Stop):
        trainer.fit()


def test_run_folder_contents_and_model_card(tmp_path: Path, runner) -> None:
    out = tmp_path / "run"
    res = runner.invoke(
        cli,
        [
            "train",
            "--data",
            str(BEN),
            "--out",
            str(out),
            "--epochs",
            "2",
            "-q",
            "--generator",
            "resnet_6blocks",
            "--ngf",
            "8",
            "--crop-size",
            "64",
            "--set",
            "ndf=8",
            "--set",
            "norm=instance",
            "--set",
            "device=cpu",
            "--set",
            f"scaling_a={SAR}".replace("'", '"'),
            "--set",
            f"scaling_b={S2}".replace("'", '"'),
            "--set",
            "data_licence=CDLA-Permissive-1.0",
            "--set",
            "val_fraction=0.34",
        ],
    )
    assert res.exit_code == 0, res.output
    for name in (
        "config.yaml",
        "model.safetensors",
        "checkpoint.pt",
        "losses.png",
        "history.json",
        "samples/epoch_001.png",
        "samples/epoch_002.png",
    ):
        assert (out / name).exists(), name
    m = load_model(out / "model.safetensors")
    card = m.card
    assert card.architecture.in_bands == 2 and card.architecture.out_bands == 3
    assert card.input_scaling["name"] == "sar" and card.output_scaling["name"] == "optical_reflectance"
    assert SAR["params"].items() <= card.input_scaling["params"].items()  # every parameter recorded
    assert card.output_dtype == "uint16" and card.tile_size == 64
    assert card.training["epochs"] == 2 and card.training["data_licence"] == "CDLA-Permissive-1.0"
    tr = card.training
    assert tr["iterations"] == 2 * (tr["train_samples"] // tr["batch_size"]) > 0  # the true budget, for the card
    assert tr["images_seen"] == tr["iterations"] * tr["batch_size"]
    assert "CPU" in card.training["hardware"] and "threads" in card.training["hardware"] and card.training["command"]
    assert card.training["precision"] in ("fp32", "bf16 autocast")
    assert {"val_L1", "val_PSNR", "val_SSIM"} <= set(card.metrics)
    import yaml

    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["epochs"] == 2 and saved["generator"] == "resnet_6blocks" and saved["lambda_l1"] == 100.0


def test_validation_metrics_match_library_values_on_known_pairs(tmp_path: Path) -> None:
    """val_* are the means over the validation set of MAE, PSNR (checked against scikit-image)
    and SSIM (torchmetrics) on outputs and targets in [0, 1]."""
    from skimage.metrics import peak_signal_noise_ratio
    from torchmetrics.functional.image import structural_similarity_index_measure

    cfg = _tiny(tmp_path, epochs=1)
    ds = build_datasets(cfg).val
    assert len(ds) == 2

    class FirstBandAsRGB(torch.nn.Module):  # a known, deterministic "generator"
        def forward(self, x):
            return x[:, :1].repeat(1, 3, 1, 1)

    (tmp_path / "samples").mkdir()
    m = Trainer(cfg, tmp_path).validate(FirstBandAsRGB(), ds, torch.device("cpu"), 1)
    maes, psnrs, ssims = [], [], []
    for i in range(len(ds)):
        s = ds[i]
        f = ((s["A"][:1].repeat(3, 1, 1) + 1) / 2).numpy().astype(np.float64)
        r = ((s["B"] + 1) / 2).numpy().astype(np.float64)
        maes.append(np.abs(f - r).mean())
        psnrs.append(peak_signal_noise_ratio(r, f, data_range=1.0))
        ssims.append(
            float(
                structural_similarity_index_measure(
                    torch.from_numpy(f)[None].float(), torch.from_numpy(r)[None].float(), data_range=1.0
                )
            )
        )
    assert m["val_L1"] == pytest.approx(np.mean(maes), rel=1e-4)
    assert m["val_PSNR"] == pytest.approx(np.mean(psnrs), rel=1e-4)
    assert m["val_SSIM"] == pytest.approx(np.mean(ssims), rel=1e-4)
    assert (tmp_path / "samples" / "epoch_001.png").exists()


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
    cfg = _tiny(
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
        cfg = _tiny(
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


def test_cyclegan_unpaired(tmp_path: Path) -> None:
    folder = tmp_path / "unpaired"
    for side, src in (("trainA", BEN / "B"), ("trainB", BEN / "B")):
        (folder / side).mkdir(parents=True)
        for f in sorted(src.glob("*.tif"))[: 3 if side == "trainA" else 4]:
            shutil.copy(f, folder / side / f.name)
    cfg = _tiny(
        tmp_path,
        mode="cyclegan",
        data=str(folder),
        scaling_a=S2,
        scaling_b=S2,
        epochs=1,
        val_fraction=0.34,
        pool_size=2,
    )
    assert cfg.gan_mode == "lsgan" and cfg.lambda_cycle == 10 and cfg.lambda_identity == 0.5
    Trainer(cfg, tmp_path / "cg").fit()
    assert (tmp_path / "cg" / "model.safetensors").exists()
    back = load_model(tmp_path / "cg" / "model_BtoA.safetensors")
    assert back.card.task == "cyclegan"


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


def test_numbers_in_e_notation_without_a_dot_are_numbers() -> None:
    """YAML 1.1 reads 3e-5 as a string; --set lr_g=3e-5 (and lr_g: 3e-5 in a config file) still means 3e-5."""
    from geo2map.cli.train import _parse_sets

    cfg = resolve_config("pix2pix", "paper", None, {"data": str(BEN), **_parse_sets(("lr_g=3e-5", "lr_d=2E-4"))})
    assert cfg.lr_g == 3e-5 and cfg.lr_d == 2e-4


def test_training_budget_of_cards_with_and_without_recorded_iterations() -> None:
    """Iterations and images seen: as recorded, else epochs x whole batches (capped per epoch), else unknown."""
    from geo2map.train.config import training_budget

    assert training_budget({"iterations": 1998, "images_seen": 7992, "epochs": 1}) == (1998, 7992)
    old = {"epochs": 12, "batch_size": 4, "train_samples": 1314}  # 328 whole batches an epoch
    assert training_budget(old) == (3936, 15744)
    assert training_budget(old, batch_size=1, max_steps=222) == (12 * 222, 12 * 222)
    assert training_budget({"epochs": 3}) == (None, None)


def test_a_failing_start_leaves_nothing_behind(tmp_path: Path, runner) -> None:
    bad = tmp_path / "bad"
    for side in ("trainA", "trainB"):
        (bad / side).mkdir(parents=True)
        (bad / side / "a.png").write_text("not an image")
    res = runner.invoke(cli, ["train", "--data", str(bad), "--out", str(tmp_path / "r"), "-q"])
    assert res.exit_code == 1 and "a.png" in res.output and "Traceback" not in res.output, res.output
    assert not (tmp_path / "r").exists()  # no config.yaml, no samples/ of a run that never started


def test_resume_refuses_other_architectures_and_foreign_checkpoints(tmp_path: Path) -> None:
    from geo2map.errors import InputError

    Trainer(_tiny(tmp_path, epochs=1), tmp_path / "r").fit()
    ckpt = tmp_path / "r" / "checkpoint.pt"
    good = ckpt.read_bytes()
    with pytest.raises(InputError, match="was trained with generator resnet_6blocks"):
        Trainer(_tiny(tmp_path, generator="unet_128"), tmp_path / "r").fit()
    ckpt.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(InputError, match="not a readable geo2map checkpoint"):
        Trainer(_tiny(tmp_path), tmp_path / "r").fit()
    import pickle

    ckpt.write_bytes(pickle.dumps({"run": print}))  # a pickle naming a global: never executed, refused
    with pytest.raises(InputError, match="not a readable geo2map checkpoint"):
        Trainer(_tiny(tmp_path), tmp_path / "r").fit()
    torch.save({"x": torch.zeros(2)}, ckpt)
    with pytest.raises(InputError, match="not a geo2map training checkpoint"):
        Trainer(_tiny(tmp_path), tmp_path / "r").fit()
    ckpt.write_bytes(good)
    assert Trainer(_tiny(tmp_path), tmp_path / "r").fit()["epoch"] == 2


def test_tahoe_dsm_to_aerial_pair(tmp_path: Path) -> None:
    """The lidar DSM + aerial photo pair (bundled copies) trains from the two GeoTIFFs directly."""
    tahoe = DATA / "tahoe"
    cfg = _tiny(
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


def test_cpu_training_autocasts_to_bf16_where_amx_runs_it(tmp_path: Path) -> None:
    """`amp: auto` on CPU: bf16 autocast on AMX CPUs (3.2x faster per step here), fp32 elsewhere;
    `bf16` forces it, `off` never; a bf16 step gives finite losses and moves the fp32 weights."""
    from geo2map.inference import cpu_has_fast_bf16
    from geo2map.train.gans import Pix2Pix
    from geo2map.train.schedule import autocast_dtype

    cpu = torch.device("cpu")
    assert autocast_dtype("off", cpu) is None and autocast_dtype("fp16", cpu) is None
    assert autocast_dtype("bf16", cpu) == torch.bfloat16
    assert autocast_dtype("auto", cpu) == (torch.bfloat16 if cpu_has_fast_bf16() else None)
    cfg = _tiny(tmp_path)
    torch.manual_seed(0)
    model = Pix2Pix(cfg, 2, 3, cpu, torch.bfloat16)
    before = {k: v.clone() for k, v in model.generator().state_dict().items()}
    losses = model.step({"A": torch.randn(2, 2, 64, 64), "B": torch.rand(2, 3, 64, 64) * 2 - 1})
    assert all(np.isfinite(v) for v in losses.values()), losses
    after = model.generator().state_dict()
    assert all(after[k].dtype == v.dtype for k, v in before.items())  # master weights stay fp32
    assert any(not torch.equal(after[k], v) for k, v in before.items() if v.is_floating_point())


def _same_checkpoints(a_dir: Path, b_dir: Path) -> None:
    a = torch.load(a_dir / "checkpoint.pt", weights_only=True)
    b = torch.load(b_dir / "checkpoint.pt", weights_only=True)
    assert a["epoch"] == b["epoch"]
    for net in a["model"]["nets"]:
        for k, v in a["model"]["nets"][net].items():
            assert torch.equal(v, b["model"]["nets"][net][k]), f"{net}.{k} differs after resume"
    assert a["history"] == [{**h} for h in b["history"]]


def _unpaired(tmp: Path) -> Path:
    folder = tmp / "unpaired"
    for side in ("trainA", "trainB"):
        (folder / side).mkdir(parents=True)
        for f in sorted((BEN / "B").glob("*.tif"))[: 3 if side == "trainA" else 4]:
            shutil.copy(f, folder / side / f.name)
    return folder


@pytest.mark.parametrize("mode", ["pix2pix", "cyclegan"])
def test_hd_objective_trains_and_resumes_exactly(tmp_path: Path, mode: str) -> None:
    """Multi-scale D + feature matching (preset hd), with the new generator options, for both GANs."""
    extra = {"data": str(_unpaired(tmp_path)), "scaling_a": S2, "pool_size": 2} if mode == "cyclegan" else {}
    base = dict(
        generator="unet_32", upsample="resize", padding="reflect", norm="batch", ngf=4, ndf=8, epochs=2,
        data=str(BEN), scaling_a=SAR, scaling_b=S2, crop_size=64, tile_size=64, val_fraction=0.34,
        checkpoint_every=1, device="cpu", samples=1, seed=5, mode=mode,
    )  # fmt: skip
    base.update(extra)
    cfg = resolve_config(mode, "hd", None, base)
    assert cfg.num_d == 2 and cfg.lambda_fm == 10 and cfg.gan_mode == "lsgan"
    Trainer(cfg, tmp_path / "one").fit()
    _fit_until(Trainer(cfg, tmp_path / "two"), 1)
    Trainer(cfg, tmp_path / "two").fit(resume=True)
    _same_checkpoints(tmp_path / "one", tmp_path / "two")
    history = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=True)["history"]
    assert all(h["G_FM"] > 0 for h in history)
    d = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=True)["model"]["nets"][
        "D" if mode == "pix2pix" else "D_A"
    ]
    assert any(k.startswith("scales.1.") for k in d)  # two discriminators, one a scale coarser
    card = load_model(tmp_path / "one" / "model.safetensors").card
    assert (card.architecture.upsample, card.architecture.padding) == ("resize", "reflect")
    # 64-px crops are narrower than the 158-px receptive field: trained without interior context,
    # so the card keeps the training tile (see test_inference_tiling_follows_the_receptive_field)
    assert not card.grid_independent and (card.tile_size, card.overlap) == (64, 16)


def test_inference_tiling_follows_the_receptive_field() -> None:
    from geo2map.train.schedule import inference_tiling

    def cfg(**kw):
        return resolve_config("pix2pix", "stable", None, {"data": "x", **kw})

    assert inference_tiling(cfg(generator="unet_32", crop_size=256)) == (640, 160)  # 4x the overlap it needs
    assert inference_tiling(cfg(generator="unet_64", crop_size=512)) == (1280, 320)
    assert inference_tiling(cfg(generator="unet_256", crop_size=256)) == (256, 64)  # sees the whole tile
    assert inference_tiling(cfg(generator="unet_32", crop_size=256, norm="instance")) == (256, 64)
    assert inference_tiling(cfg(generator="unet_32", crop_size=256, inference_mode="train")) == (256, 64)
    assert inference_tiling(cfg(generator="unet_32", crop_size=256, overlap=192)) == (640, 192)


def test_feature_matching_and_multiscale_discriminator() -> None:
    from geo2map.models.networks import build_discriminator
    from geo2map.train.losses import feature_matching

    d = build_discriminator("basic", 4, ndf=8, num_d=3)
    x = torch.randn(2, 4, 256, 256)
    feats = d.features(x)
    assert len(feats) == 3 and [f[-1].shape[-1] for f in feats] == [30, 14, 6]  # 256, 128, 64 px inputs
    assert torch.equal(d(x), feats[0][-1])
    assert feature_matching(feats, feats) == 0
    other = d.features(x + 0.5)
    assert feature_matching(other, feats) > 0 and feature_matching(other, feats, paired=False) > 0
    with pytest.raises(ValueError, match="num_d"):
        build_discriminator("basic", 4, num_d=4)
