"""The two training setups: Pix2Pix (paired) and CycleGAN (unpaired).

Each owns its networks and optimisers and exposes ``step(batch, noise_sigma)``
returning a dict of float losses, plus ``generator()`` (the A→B network that
goes into the model file), ``state_dict()`` / ``load_state_dict()`` for exact
checkpoints.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from geo2map.models.networks import build_discriminator, build_generator
from geo2map.train.config import TrainConfig
from geo2map.train.losses import (
    GANLoss,
    ImagePool,
    feature_matching,
    instance_noise,
    multiscale_gan,
    set_requires_grad,
)


class _Base:
    nets: dict[str, nn.Module]
    opts: dict[str, torch.optim.Optimizer]

    def __init__(
        self,
        cfg: TrainConfig,
        in_bands: int,
        out_bands: int,
        device: torch.device,
        autocast_dtype: torch.dtype | None = None,
    ) -> None:
        self.cfg = cfg
        self.in_bands, self.out_bands = in_bands, out_bands
        self.device = device
        self.autocast_dtype = autocast_dtype
        self.gan = GANLoss(cfg.gan_mode, cfg.label_smoothing).to(device)
        self.scaler = torch.amp.GradScaler(device.type, enabled=autocast_dtype == torch.float16)
        self._build(cfg, in_bands, out_bands)
        self.init_record: dict[str, Any] | None = None  # what init_from loaded, for the card
        if cfg.init_from:
            from geo2map.train.init_from import load_initial_generator

            self.init_record = load_initial_generator(self.generator(), cfg, in_bands, out_bands)

    def _build(self, cfg: TrainConfig, in_bands: int, out_bands: int) -> None:
        """Create the networks and optimisers (each GAN's own)."""
        raise NotImplementedError

    def _options(self, **names: str) -> dict[str, Any]:
        """Config fields as keyword arguments: ``name=field``."""
        return {arg: getattr(self.cfg, name) for arg, name in names.items()}

    def _g(self, i: int, o: int) -> nn.Module:
        shared = self._options(norm="norm", init="init", init_gain="init_gain")
        arch = self._options(ngf="ngf", dropout="dropout", upsample="upsample", padding="padding")
        return build_generator(self.cfg.generator, i, o, **shared, **arch)

    def _d(self, i: int) -> nn.Module:
        shared = self._options(norm="norm", init="init", init_gain="init_gain")
        return build_discriminator(self.cfg.discriminator, i, ndf=self.cfg.ndf, n_layers=self.cfg.n_layers_d,
                                   num_d=self.cfg.num_d, **shared)  # fmt: skip

    def _judge(self, d: nn.Module, x: torch.Tensor, noise_sigma: float = 0.0) -> list[list[torch.Tensor]]:
        """D's features on ``x`` (with instance noise), every scale: see ``features``."""
        return d.features(instance_noise(x, noise_sigma))  # type: ignore[operator,no-any-return]

    def _fm(self, d: nn.Module, fake: torch.Tensor, real: torch.Tensor, paired: bool) -> torch.Tensor:
        """λ_fm x discriminator feature matching of ``fake`` against ``real`` (0 when λ_fm is 0)."""
        if self.cfg.lambda_fm <= 0:
            return torch.zeros((), device=self.device)
        with torch.no_grad():
            real_feats = self._judge(d, real)
        return self.cfg.lambda_fm * feature_matching(self._judge(d, fake), real_feats, paired)

    def _finish(self) -> None:
        fmt = torch.channels_last if self.cfg.channels_last else torch.contiguous_format
        for net in self.nets.values():
            net.to(self.device, memory_format=fmt)  # type: ignore[call-overload]

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _to(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.cfg.channels_last else x

    def _backward_step(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        self.scaler.scale(loss).backward()
        self.scaler.step(opt)
        self.scaler.update()

    def generator(self) -> nn.Module:
        """The A→B generator (the one that goes into the model file)."""
        raise NotImplementedError

    def train(self, flag: bool = True) -> None:
        for net in self.nets.values():
            net.train(flag)

    def state_dict(self) -> dict[str, Any]:
        return {
            "nets": {k: v.state_dict() for k, v in self.nets.items()},
            "opts": {k: v.state_dict() for k, v in self.opts.items()},
            "scaler": self.scaler.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, v in self.nets.items():
            v.load_state_dict(state["nets"][k])
        for k, o in self.opts.items():
            o.load_state_dict(state["opts"][k])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])


class Pix2Pix(_Base):
    """cGAN + λ·L1 (Isola et al. 2017): D sees (input, output) pairs."""

    def _build(self, cfg: TrainConfig, in_bands: int, out_bands: int) -> None:
        self.nets = {"G": self._g(in_bands, out_bands), "D": self._d(in_bands + out_bands)}
        self._finish()
        betas = (cfg.beta1, cfg.beta2)
        self.opts = {
            "G": torch.optim.Adam(self.nets["G"].parameters(), lr=cfg.lr_g, betas=betas),
            "D": torch.optim.Adam(self.nets["D"].parameters(), lr=cfg.lr_d, betas=betas),
        }

    def generator(self) -> nn.Module:
        """The generator being trained."""
        return self.nets["G"]

    def step(self, batch: dict[str, Any], noise_sigma: float = 0.0) -> dict[str, float]:
        """One optimisation step on a batch; returns the losses."""
        G, D = self.nets["G"], self.nets["D"]
        real_a, real_b = self._to(batch["A"]), self._to(batch["B"])
        with self.autocast():
            fake_b = G(real_a)
        # discriminator
        set_requires_grad([D], True)
        self.opts["D"].zero_grad(set_to_none=True)
        with self.autocast():
            pred_fake = self._judge(D, torch.cat([real_a, fake_b.detach()], 1), noise_sigma)
            pred_real = self._judge(D, torch.cat([real_a, real_b], 1), noise_sigma)
            loss_d = 0.5 * (multiscale_gan(self.gan, pred_fake, False) + multiscale_gan(self.gan, pred_real, True))
        self._backward_step(loss_d, self.opts["D"])
        # generator
        set_requires_grad([D], False)
        self.opts["G"].zero_grad(set_to_none=True)
        with self.autocast():
            fake_ab = torch.cat([real_a, fake_b], 1)
            loss_g_gan = multiscale_gan(self.gan, self._judge(D, fake_ab), True, for_discriminator=False)
            loss_l1 = F.l1_loss(fake_b.float(), real_b.float())
            loss_fm = self._fm(D, fake_ab, torch.cat([real_a, real_b], 1), paired=True)
            loss_g = loss_g_gan + self.cfg.lambda_l1 * loss_l1 + loss_fm
        self._backward_step(loss_g, self.opts["G"])
        losses = {"D": float(loss_d.detach()), "G_GAN": float(loss_g_gan.detach()), "G_L1": float(loss_l1.detach())}
        if self.cfg.lambda_fm > 0:
            losses["G_FM"] = float(loss_fm.detach())
        return losses


class CycleGAN(_Base):
    """Two generators, two discriminators, cycle and identity losses (Zhu et al. 2017)."""

    def _build(self, cfg: TrainConfig, in_bands: int, out_bands: int) -> None:
        self.nets = {
            "G_A": self._g(in_bands, out_bands),  # A -> B
            "G_B": self._g(out_bands, in_bands),  # B -> A
            "D_A": self._d(out_bands),  # judges B-domain images
            "D_B": self._d(in_bands),
        }
        self._finish()
        betas = (cfg.beta1, cfg.beta2)
        g_params = list(self.nets["G_A"].parameters()) + list(self.nets["G_B"].parameters())
        d_params = list(self.nets["D_A"].parameters()) + list(self.nets["D_B"].parameters())
        self.opts = {
            "G": torch.optim.Adam(g_params, lr=cfg.lr_g, betas=betas),
            "D": torch.optim.Adam(d_params, lr=cfg.lr_d, betas=betas),
        }
        self.pool_a, self.pool_b = ImagePool(cfg.pool_size), ImagePool(cfg.pool_size)
        # identity loss needs G_A(B) to make sense: only when the band counts match
        self.use_identity = cfg.lambda_identity > 0 and in_bands == out_bands

    def generator(self) -> nn.Module:
        """The A → B generator (what a model file keeps)."""
        return self.nets["G_A"]

    def step(self, batch: dict[str, Any], noise_sigma: float = 0.0) -> dict[str, float]:
        """One optimisation step on a batch of unpaired A and B; returns the losses."""
        n = self.nets
        c = self.cfg
        real_a, real_b = self._to(batch["A"]), self._to(batch["B"])
        set_requires_grad([n["D_A"], n["D_B"]], False)
        self.opts["G"].zero_grad(set_to_none=True)
        with self.autocast():
            fake_b = n["G_A"](real_a)
            rec_a = n["G_B"](fake_b)
            fake_a = n["G_B"](real_b)
            rec_b = n["G_A"](fake_a)
            loss_idt = torch.zeros((), device=self.device)
            if self.use_identity:
                loss_idt = (
                    (
                        F.l1_loss(n["G_A"](real_b).float(), real_b.float())
                        + F.l1_loss(n["G_B"](real_a).float(), real_a.float())
                    )
                    * c.lambda_cycle
                    * c.lambda_identity
                )
            loss_gan = multiscale_gan(self.gan, self._judge(n["D_A"], fake_b), True, False) + multiscale_gan(
                self.gan, self._judge(n["D_B"], fake_a), True, False
            )
            loss_cycle = (
                F.l1_loss(rec_a.float(), real_a.float()) + F.l1_loss(rec_b.float(), real_b.float())
            ) * c.lambda_cycle
            loss_fm = self._fm(n["D_A"], fake_b, real_b, paired=False) + self._fm(n["D_B"], fake_a, real_a, False)
            loss_g = loss_gan + loss_cycle + loss_idt + loss_fm
        self._backward_step(loss_g, self.opts["G"])
        set_requires_grad([n["D_A"], n["D_B"]], True)
        self.opts["D"].zero_grad(set_to_none=True)
        with self.autocast():
            pb = self.pool_b.query(fake_b)
            pa = self.pool_a.query(fake_a)
            loss_d_a = 0.5 * (
                multiscale_gan(self.gan, self._judge(n["D_A"], real_b, noise_sigma), True)
                + multiscale_gan(self.gan, self._judge(n["D_A"], pb.detach(), noise_sigma), False)
            )
            loss_d_b = 0.5 * (
                multiscale_gan(self.gan, self._judge(n["D_B"], real_a, noise_sigma), True)
                + multiscale_gan(self.gan, self._judge(n["D_B"], pa.detach(), noise_sigma), False)
            )
        self._backward_step(loss_d_a + loss_d_b, self.opts["D"])
        losses = {
            "D_A": float(loss_d_a.detach()),
            "D_B": float(loss_d_b.detach()),
            "G_GAN": float(loss_gan.detach()),
            "cycle": float(loss_cycle.detach()),
            "idt": float(loss_idt.detach()),
        }
        if c.lambda_fm > 0:
            losses["G_FM"] = float(loss_fm.detach())
        return losses

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimisers, the loss scaler and the image pools, for the checkpoint."""
        state = super().state_dict()
        state["pools"] = {"A": self.pool_a.state(), "B": self.pool_b.state()}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output."""
        super().load_state_dict(state)
        self.pool_a.load(state["pools"]["A"], self.device)
        self.pool_b.load(state["pools"]["B"], self.device)


#: What the training loop drives: one of the two GAN setups.
GAN = Pix2Pix | CycleGAN
