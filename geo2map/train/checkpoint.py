"""What a run folder's ``checkpoint.pt`` holds and how a resume checks it: weights-only loading,
the options a resume must not change, the RNG states that make a resume exact.
"""

from __future__ import annotations

import os
import random
from typing import TYPE_CHECKING, Any

import numpy as np

from geo2map.errors import InputError
from geo2map.train.config import TrainConfig

if TYPE_CHECKING:
    import torch


def load_checkpoint(path: str, device: torch.device) -> dict[str, Any]:
    """Our own checkpoint.pt, read weights-only (never executed). Runs before this fix stored the
    cosine schedule's learning rates as numpy scalars: those (and only those) numpy types are allowed."""
    import warnings

    import torch

    unreadable = f"{path} is not a readable geo2map checkpoint; use another out_dir=FOLDER or resume=False"
    with warnings.catch_warnings():  # a foreign pickle's protocol warning: the one-line error says it all
        warnings.simplefilter("ignore", UserWarning)
        try:
            return torch.load(path, map_location=device, weights_only=True)  # type: ignore[no-any-return]
        except Exception as exc:  # noqa: BLE001 - pickle.UnpicklingError for numpy scalars
            if "numpy" not in str(exc):
                raise InputError(unreadable) from None
        allowed = [
            np._core.multiarray.scalar,  # type: ignore[attr-defined]
            np.dtype,
            type(np.dtype("float64")),
        ]
        try:
            with torch.serialization.safe_globals(allowed):
                return torch.load(path, map_location=device, weights_only=True)  # type: ignore[no-any-return]
        except Exception:  # noqa: BLE001 - other globals: a pickle that is not ours
            raise InputError(unreadable) from None


#: options a checkpoint's weights and optimiser state depend on: a resume must not change them
ARCHITECTURE_OPTIONS = (
    "mode",
    "generator",
    "ngf",
    "ndf",
    "norm",
    "dropout",
    "upsample",
    "padding",
    "num_d",
    "n_layers_d",
)


def resume_conflicts(saved: dict[str, Any], cfg: TrainConfig) -> list[str]:
    """``option value`` for each architecture option the checkpoint was trained with and ``cfg`` changes."""
    now = cfg.to_dict()
    return [f"{k} {saved[k]}" for k in ARCHITECTURE_OPTIONS if k in saved and k in now and saved[k] != now[k]]


def card_time_s(run: str, epoch: int) -> float:
    """Training seconds from the run's model card, for checkpoints that predate ``time_s``."""
    from geo2map.models.package import read_card

    try:
        training = read_card(os.path.join(run, "model.safetensors")).training
    except Exception:  # noqa: BLE001 - no card or an unreadable one: the time is unknown
        return 0.0
    return float(training.get("time_s") or 0.0) if training.get("epochs") == epoch else 0.0


def rng_state() -> dict[str, Any]:
    """Every random generator's state (Python, NumPy, torch), for an exact resume."""
    import torch

    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore :func:`rng_state`'s output."""
    import torch

    torch.set_rng_state(state["torch"].cpu())
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
