"""The pix2pixHD objective: multi-scale discriminators, feature matching, tiling by receptive field."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from train_helpers import BEN, S2, SAR, fit_until, same_checkpoints, unpaired

from geo2map.models.package import load_model
from geo2map.train.config import resolve_config
from geo2map.train.loop import Trainer


@pytest.mark.parametrize("mode", ["pix2pix", "cyclegan"])
def test_hd_objective_trains_and_resumes_exactly(tmp_path: Path, mode: str) -> None:
    """Multi-scale D + feature matching (preset hd), with the new generator options, for both GANs."""
    extra = {"data": str(unpaired(tmp_path)), "scaling_a": S2, "pool_size": 2} if mode == "cyclegan" else {}
    base = dict(
        generator="unet_32", upsample="resize", padding="reflect", norm="batch", ngf=4, ndf=8, epochs=2,
        data=str(BEN), scaling_a=SAR, scaling_b=S2, crop_size=64, tile_size=64, val_fraction=0.34,
        checkpoint_every=1, device="cpu", samples=1, seed=5, mode=mode,
    )  # fmt: skip
    base.update(extra)
    cfg = resolve_config(mode, "hd", None, base)
    assert cfg.num_d == 2 and cfg.lambda_fm == 10 and cfg.gan_mode == "lsgan"
    Trainer(cfg, tmp_path / "one").fit()
    fit_until(Trainer(cfg, tmp_path / "two"), 1)
    Trainer(cfg, tmp_path / "two").fit(resume=True)
    same_checkpoints(tmp_path / "one", tmp_path / "two")
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
