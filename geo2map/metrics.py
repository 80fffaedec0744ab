"""Accuracy metrics in 8-bit levels of a card's output scaling: RMSE, MAE, PSNR, SSIM, δ5/δ10.

The same numbers ``geo2map evaluate`` reports and the recipe study compares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from geo2map.errors import InputError

if TYPE_CHECKING:
    from geo2map.sensors import Scaling


@dataclass
class Accumulator:
    """Pixel-weighted sums over everything evaluated."""

    sq: float = 0.0
    ab: float = 0.0
    n: int = 0
    pix: int = 0
    d5: int = 0
    d10: int = 0
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)

    def add(self, out: np.ndarray, tgt: np.ndarray, valid: np.ndarray) -> tuple[float, float]:
        """Add one pair (or window): (bands, h, w) levels; returns its (mse, ssim)."""
        d = np.abs(out - tgt)
        dv = d[:, valid]
        self.sq += float((dv**2).sum())
        self.ab += float(dv.sum())
        self.n += dv.size
        mx = dv.max(axis=0) if dv.size else dv
        self.pix += int(valid.sum())
        self.d5 += int((mx < 5).sum())
        self.d10 += int((mx < 10).sum())
        mse = float((dv**2).mean()) if dv.size else float("nan")
        return mse, ssim_levels(out, tgt, valid)

    def metrics(self) -> dict[str, float]:
        """The aggregated metrics so far (RMSE, MAE, PSNR, SSIM, δ5, δ10)."""
        if not self.n:
            raise InputError("no valid pixel to evaluate")
        return {
            "rmse": float(np.sqrt(self.sq / self.n)),
            "mae": self.ab / self.n,
            "psnr": float(np.mean(self.psnr)),
            "ssim": float(np.mean(self.ssim)),
            "acc_delta5": self.d5 / self.pix,
            "acc_delta10": self.d10 / self.pix,
        }


def psnr_levels(mse: float) -> float:
    """PSNR in dB of two arrays in 8-bit levels (peak 255)."""
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ssim_levels(out: np.ndarray, tgt: np.ndarray, valid: np.ndarray) -> float:
    """torchmetrics SSIM (data range 255) of two (bands, h, w) arrays; invalid pixels set equal."""
    import torch
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim

    if min(out.shape[1:]) < 11:
        return float("nan")
    o = np.where(valid, out, tgt)
    value = ssim(torch.from_numpy(o[None]).double(), torch.from_numpy(tgt[None]).double(), data_range=255.0)
    return float(value)  # type: ignore[arg-type]  # one tensor without return_full_image


def to_levels(scaling: Scaling, x: np.ndarray) -> np.ndarray:
    """[-1, 1]-scaled values of ``x`` as 8-bit levels (0-255) of ``scaling``."""
    # rounded to 1e-4 level: float32 scaling must not turn a difference of exactly 5 levels into 4.9999995
    return np.round((scaling.forward(x).astype(np.float64) + 1.0) * 127.5, 4)
