"""How a run trains: learning-rate schedule, autocast precision, the hardware record, the tiling a
trained model recommends.
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from geo2map.train.config import TrainConfig

if TYPE_CHECKING:
    import torch


# ---------------------------------------------------------------------------
# schedules, devices
# ---------------------------------------------------------------------------
def lr_lambda(cfg: TrainConfig) -> Callable[[int], float]:
    """Per-epoch LR factor."""
    n = cfg.epochs
    if cfg.lr_schedule == "linear":  # the paper: constant, then linear decay to 0
        n_const = int(round(cfg.decay_start * n))
        n_decay = max(n - n_const, 1)
        return lambda e: 1.0 - max(0, e + 1 - n_const) / float(n_decay + 1)
    if cfg.lr_schedule == "cosine_onecycle":  # 10% warm-up from 0.1, then cosine to 0
        warm = max(1, int(round(0.1 * n)))

        def f(e: int) -> float:
            if e < warm:
                return 0.1 + 0.9 * e / warm
            t = (e - warm) / max(1, n - warm)
            return float(0.5 * (1 + math.cos(math.pi * t)))  # a Python float: checkpoints stay weights-only

        return f
    return lambda e: 1.0


def autocast_dtype(amp: str, device: torch.device) -> Any:
    """The autocast dtype for a precision on a device (None: float32)."""
    import torch

    if amp == "off":
        return None
    if device.type == "cpu":
        # CPU autocast is bf16 only; it pays where AMX or AVX512-BF16 runs it (3.2x for a U-Net-256
        # ngf 16 training step with AMX, 2.0x with AVX512-BF16, README), elsewhere it is emulated
        from geo2map.inference import cpu_has_fast_bf16

        return torch.bfloat16 if amp == "bf16" or (amp == "auto" and cpu_has_fast_bf16()) else None
    if device.type != "cuda":
        return None
    if amp in ("auto", "bf16"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float16


def hardware(device: torch.device) -> str:
    """The hardware the run uses, in words, for the model card."""
    import torch

    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    return (
        f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads on {os.cpu_count()} cores"
    )


def inference_tiling(cfg: TrainConfig) -> tuple[int, int]:
    """The card's tile size and overlap for a model trained with ``cfg``.

    A generator whose receptive field fits in the training crop (``unet_32`` on 256-px
    crops) and
    whose normalisation has no per-tile statistics runs on tiles of 4x the overlap its
    receptive field needs (:func:`~geo2map.models.architectures.context_overlap`), so a
    tiled translation equals a whole-scene one and fewer pixels are computed twice.
    Otherwise: the training crop, a quarter of it as overlap. ``cfg.overlap`` wins.
    """
    from geo2map.models.architectures import context_overlap, generator_multiple, per_tile_statistics

    per_tile_stats = per_tile_statistics(cfg.norm, cfg.inference_mode)
    # the receptive field must fit the training crop: interior pixels learnt with real context
    ov = None if per_tile_stats else context_overlap(cfg.generator, 2 * cfg.crop_size)
    if ov is None:
        return cfg.crop_size, cfg.overlap if cfg.overlap is not None else cfg.crop_size // 4
    mult = generator_multiple(cfg.generator)
    tile = max(cfg.crop_size, -(-4 * ov // mult) * mult)
    return tile, cfg.overlap if cfg.overlap is not None else ov
