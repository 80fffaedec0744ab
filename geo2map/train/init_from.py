"""Start a training's generator from a trained model file (``init_from=MODEL``): fine-tuning.

The model (a built-in name or a model file) must have the generator the configuration
builds: the same architecture, width, normalisation, padding and bands. One change is
allowed: a transposed-convolution model can start a resize-convolution training
(``upsample: resize``); its decoder weights are then projected onto the nearest
resize-convolutions (:mod:`geo2map.models.resize_projection`), which keeps what the
model learnt and drops its checkerboard. The discriminator always starts afresh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from geo2map.errors import InputError, ModelError
from geo2map.train.config import TrainConfig, training_budget

if TYPE_CHECKING:
    from torch import nn


def _mismatch(card: Any, cfg: TrainConfig, in_bands: int, out_bands: int) -> str | None:
    """What keeps the model's generator from starting this training, or None."""
    a = card.architecture
    wanted = {
        "generator": cfg.generator,
        "ngf": cfg.ngf,
        "norm": cfg.norm,
        "padding": cfg.padding,
        "in_bands": in_bands,
        "out_bands": out_bands,
    }
    for field, value in wanted.items():
        if getattr(a, field) != value:
            return f"its {field} is {getattr(a, field)}, this training's {value}"
    if a.upsample != cfg.upsample and not (a.upsample == "deconv" and cfg.upsample == "resize"):
        return f"its upsample is {a.upsample}, this training's {cfg.upsample} (only deconv -> resize converts)"
    return None


def load_initial_generator(net: nn.Module, cfg: TrainConfig, in_bands: int, out_bands: int) -> dict[str, Any]:
    """Load ``cfg.init_from``'s generator weights into ``net``; returns what the card records.

    Raises :class:`~geo2map.errors.InputError` (one line) when the model cannot start it.
    """
    from geo2map.models.package import load_model
    from geo2map.models.registry import resolve
    from geo2map.models.resize_projection import project_generator_state

    ref = str(cfg.init_from)
    try:
        loaded = load_model(resolve(ref))
    except ModelError as exc:
        raise InputError(f"init_from={ref}: {exc}") from None
    card = loaded.card
    if card.task == "identity" or loaded.generator is None or not hasattr(loaded.generator, "state_dict"):
        raise InputError(f"init_from={ref} is not a trained PyTorch generator (an ONNX or identity model?)")
    why = _mismatch(card, cfg, in_bands, out_bands)
    if why:
        raise InputError(f"init_from={ref} cannot start this training: {why}")
    state = loaded.generator.state_dict()
    projected = card.architecture.upsample != cfg.upsample
    if projected:
        state = project_generator_state(state, net)
    net.load_state_dict(state)
    iterations, images = training_budget(card.training)
    return {
        "model": card.name or ref,
        "path": ref,
        "images_seen": images,
        "iterations": iterations,
        "upsample": card.architecture.upsample,
        "projected_to_resize": projected,
    }
