"""GAN losses (a registry with one signature), image pool, instance noise.

``GANLoss(mode)(pred, target_is_real, for_discriminator)``:

* ``vanilla``: binary cross-entropy on logits (the original pix2pix objective);
* ``lsgan``: least squares (CycleGAN's choice, more stable gradients);
* ``hinge``: hinge loss for D, ``-D(G(x))`` for G.

One-sided label smoothing makes the discriminator's *real* target
``1 - label_smoothing`` (never the generator's, never the fake target).
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from torch import nn

GAN_MODES = ("vanilla", "lsgan", "hinge")


class GANLoss(nn.Module):
    """The GAN objective (``vanilla``, ``lsgan`` or ``hinge``) against real or fake targets."""

    def __init__(self, mode: str = "vanilla", label_smoothing: float = 0.0) -> None:
        super().__init__()
        if mode not in GAN_MODES:
            raise ValueError(f"unknown gan_mode {mode!r}; choose one of {', '.join(GAN_MODES)}")
        self.mode = mode
        self.real_label = 1.0 - label_smoothing

    def forward(self, pred: torch.Tensor, target_is_real: bool, for_discriminator: bool = True) -> torch.Tensor:
        """The loss of discriminator output ``pred`` for target ``real``."""
        pred = pred.float()
        if self.mode == "hinge":
            if not for_discriminator:
                return -pred.mean()
            return F.relu(1.0 - pred).mean() if target_is_real else F.relu(1.0 + pred).mean()
        value = (self.real_label if for_discriminator else 1.0) if target_is_real else 0.0
        target = torch.full_like(pred, value)
        if self.mode == "vanilla":
            return F.binary_cross_entropy_with_logits(pred, target)
        return F.mse_loss(pred, target)


class ImagePool:
    """The CycleGAN history buffer: D sees generated images from earlier steps too."""

    def __init__(self, size: int = 50) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        """Images for the discriminator: the new ones, or with probability 0.5 older ones from the pool."""
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif random.random() > 0.5:
                i = random.randint(0, self.size - 1)
                out.append(self.images[i].clone())
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state(self) -> list[torch.Tensor]:
        """The pool's images, for the checkpoint."""
        return [t.cpu() for t in self.images]

    def load(self, images: list[torch.Tensor], device: torch.device) -> None:
        """Restore :meth:`state`'s output."""
        self.images = [t.to(device) for t in images]


def instance_noise(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian noise on discriminator inputs (annealed by the caller)."""
    return x + sigma * torch.randn_like(x) if sigma > 0 else x


def set_requires_grad(nets: list[nn.Module], flag: bool) -> None:
    """Switch gradients of every parameter of ``nets`` on or off."""
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


def multiscale_gan(
    gan: GANLoss, scales: list[list[torch.Tensor]], target_is_real: bool, for_discriminator: bool = True
) -> torch.Tensor:
    """The GAN loss on each scale's logits (the last feature), averaged over scales."""
    losses = [gan(feats[-1], target_is_real, for_discriminator) for feats in scales]
    return torch.stack(losses).mean()


def feature_matching(
    fake: list[list[torch.Tensor]], real: list[list[torch.Tensor]], paired: bool = True
) -> torch.Tensor:
    """Discriminator feature matching: mean L1 between D's activations on fake and real, over layers and scales.

    ``paired`` (pix2pix; pix2pixHD's loss): sample by sample, pixel by pixel, as D
    sees (input, fake) and (input, real) of the same pair. Unpaired (CycleGAN): fake
    and real are different images, so the per-channel means over the batch and the
    image are matched instead (Salimans et al. 2016). The logits are not matched.
    Real activations are constants here (detached).
    """
    terms = []
    for f_scale, r_scale in zip(fake, real, strict=True):
        for f, r in zip(f_scale[:-1], r_scale[:-1], strict=True):
            f, r = f.float(), r.detach().float()
            if not paired:
                f, r = f.mean(dim=(0, 2, 3)), r.mean(dim=(0, 2, 3))
            terms.append(F.l1_loss(f, r))
    return torch.stack(terms).mean()
