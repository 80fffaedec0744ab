"""Training: real learning on real pairs, exact resume, run folders and cards, CycleGAN.

Data formats are in test_train_data.py, the pix2pixHD objective in test_train_objective.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from train_helpers import BEN, S2, SAR, fit_until, tiny, unpaired

from geo2map.cli.main import cli
from geo2map.models.package import load_model
from geo2map.train.loop import Trainer, build_datasets


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
    cfg = tiny(tmp_path, val_fraction=0.34, flip=False, rot90=False, lr_g=2e-3, lr_d=2e-4, lr_schedule="constant")
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
    cfg = tiny(
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
    fit_until(Trainer(cfg, tmp_path / "two"), 2)
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
    cfg = tiny(tmp_path, epochs=3, lr_schedule="cosine_onecycle", keep_every=2, checkpoint_every=5)
    fit_until(Trainer(cfg, tmp_path / "run"), 2)
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)  # no numpy scalars inside
    assert state["epoch"] == 2  # a kept epoch is also a checkpoint
    Trainer(cfg, tmp_path / "run").fit(resume=True)
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["epoch"] == 3
    # keep_every: the model file of epoch 2 is kept beside the final one, with its own card
    kept = sorted(p.name for p in (tmp_path / "run" / "models").iterdir())
    assert kept == ["epoch_002.safetensors"]
    assert load_model(tmp_path / "run" / "models" / kept[0]).card.training["epochs"] == 2
    assert load_model(tmp_path / "run" / "model.safetensors").card.training["epochs"] == 3


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

    cfg = tiny(tmp_path, epochs=1)
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


def test_cyclegan_unpaired(tmp_path: Path) -> None:
    cfg = tiny(
        tmp_path,
        mode="cyclegan",
        data=str(unpaired(tmp_path)),
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


def test_training_budget_of_cards_with_and_without_recorded_iterations() -> None:
    """Iterations and images seen: as recorded, else epochs x whole batches (capped per epoch), else unknown."""
    from geo2map.train.config import training_budget

    assert training_budget({"iterations": 1998, "images_seen": 7992, "epochs": 1}) == (1998, 7992)
    old = {"epochs": 12, "batch_size": 4, "train_samples": 1314}  # 328 whole batches an epoch
    assert training_budget(old) == (3936, 15744)
    assert training_budget(old, batch_size=1, max_steps=222) == (12 * 222, 12 * 222)
    assert training_budget({"epochs": 3}) == (None, None)


def test_resume_refuses_other_architectures_and_foreign_checkpoints(tmp_path: Path) -> None:
    from geo2map.errors import InputError

    Trainer(tiny(tmp_path, epochs=1), tmp_path / "r").fit()
    ckpt = tmp_path / "r" / "checkpoint.pt"
    good = ckpt.read_bytes()
    with pytest.raises(InputError, match="was trained with generator resnet_6blocks"):
        Trainer(tiny(tmp_path, generator="unet_128"), tmp_path / "r").fit()
    ckpt.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(InputError, match="not a readable geo2map checkpoint"):
        Trainer(tiny(tmp_path), tmp_path / "r").fit()
    import pickle

    ckpt.write_bytes(pickle.dumps({"run": print}))  # a pickle naming a global: never executed, refused
    with pytest.raises(InputError, match="not a readable geo2map checkpoint"):
        Trainer(tiny(tmp_path), tmp_path / "r").fit()
    torch.save({"x": torch.zeros(2)}, ckpt)
    with pytest.raises(InputError, match="not a geo2map training checkpoint"):
        Trainer(tiny(tmp_path), tmp_path / "r").fit()
    ckpt.write_bytes(good)
    assert Trainer(tiny(tmp_path), tmp_path / "r").fit()["epoch"] == 2


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
    cfg = tiny(tmp_path)
    torch.manual_seed(0)
    model = Pix2Pix(cfg, 2, 3, cpu, torch.bfloat16)
    before = {k: v.clone() for k, v in model.generator().state_dict().items()}
    losses = model.step({"A": torch.randn(2, 2, 64, 64), "B": torch.rand(2, 3, 64, 64) * 2 - 1})
    assert all(np.isfinite(v) for v in losses.values()), losses
    after = model.generator().state_dict()
    assert all(after[k].dtype == v.dtype for k, v in before.items())  # master weights stay fp32
    assert any(not torch.equal(after[k], v) for k, v in before.items() if v.is_floating_point())
