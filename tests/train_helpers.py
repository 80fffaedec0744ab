"""Small training configurations and checks shared by the training tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from conftest import DATA

from geo2map.train.config import resolve_config
from geo2map.train.loop import Trainer

BEN = DATA / "bigearthnet"
SAR = {"name": "sar", "params": {"input": "db", "method": "db", "db_min": -30, "db_max": 5}}
S2 = {"name": "optical_reflectance", "params": {"mode": "fixed", "low": 0, "high": 3000}}


def tiny(tmp: Path, **kw):
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


def fit_until(trainer: Trainer, epochs: int) -> None:
    """Run a trainer but stop (as a crash would) after ``epochs`` epochs."""

    class Stop(Exception):
        pass

    def progress(info):
        if info.get("epoch_end") == epochs:
            raise Stop

    trainer.progress = progress
    with pytest.raises(Stop):
        trainer.fit()


def same_checkpoints(a_dir: Path, b_dir: Path) -> None:
    a = torch.load(a_dir / "checkpoint.pt", weights_only=True)
    b = torch.load(b_dir / "checkpoint.pt", weights_only=True)
    assert a["epoch"] == b["epoch"]
    for net in a["model"]["nets"]:
        for k, v in a["model"]["nets"][net].items():
            assert torch.equal(v, b["model"]["nets"][net][k]), f"{net}.{k} differs after resume"
    assert a["history"] == [{**h} for h in b["history"]]


def unpaired(tmp: Path) -> Path:
    """An unpaired trainA/trainB folder of three and four real Sentinel-2 patches."""
    folder = tmp / "unpaired"
    for side in ("trainA", "trainB"):
        (folder / side).mkdir(parents=True)
        for f in sorted((BEN / "B").glob("*.tif"))[: 3 if side == "trainA" else 4]:
            shutil.copy(f, folder / side / f.name)
    return folder
