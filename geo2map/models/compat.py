"""Import checkpoints of the reference pix2pix/CycleGAN implementation
(junyanz/pytorch-CycleGAN-and-pix2pix), e.g. its published ``latest_net_G.pth``.

The file is read with ``torch.load(weights_only=True)``: tensors and plain
containers only, never arbitrary pickled objects. As the reference does when it
loads, the running statistics that PyTorch < 0.4 stored for InstanceNorm layers
are dropped, and a ``module.`` prefix from DataParallel is removed.
"""

from __future__ import annotations

import os
import re
from typing import Any

from geo2map.errors import ModelError, one_line
from geo2map.models.card import Architecture, Band, ModelCard
from geo2map.models.package import save_model


def _load_weights_only(path: str) -> Any:
    """torch.load with ``weights_only``: tensors and plain containers, never code."""
    import warnings

    import torch

    try:
        with warnings.catch_warnings():  # a foreign pickle protocol: the error below says what matters
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"checkpoint {path} does not exist") from None
    except Exception as exc:  # noqa: BLE001 - UnpicklingError, RuntimeError, EOFError...
        text = one_line(exc)
        if "Weights only load failed" in text:  # torch's text goes on to suggest weights_only=False: not ours
            found = re.search(r"WeightsUnpickler error: (.*?)(?: Check the documentation|$)", text)
            why = f" (the weights-only reader stopped at: {found.group(1).strip()})" if found else ""
            raise ModelError(
                f"{path} is not a file of weights only{why}; geo2map never unpickles code: in the code that "
                "made it, save the generator's state_dict (torch.save(net.state_dict(), PATH)) and import that"
            ) from None
        raise ModelError(f"cannot read {path} as a PyTorch checkpoint ({one_line(exc, 200)})") from None


def _unwrap(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "netG", "generator", "G"):
            if key in obj and isinstance(obj[key], dict):
                return _unwrap(obj[key])
        return obj
    raise ModelError("the checkpoint does not hold a state dict")


def patch_instance_norm_state_dict(state: dict[str, Any], net: Any) -> dict[str, Any]:
    """Drop InstanceNorm running stats that the modules do not track (old checkpoints)."""
    import torch

    modules = dict(net.named_modules())
    out = {}
    for key, value in state.items():
        parent, _, leaf = key.rpartition(".")
        mod = modules.get(parent)
        if (
            isinstance(mod, torch.nn.InstanceNorm2d)
            and leaf in ("running_mean", "running_var", "num_batches_tracked")
            and getattr(mod, leaf, None) is None
        ):
            continue
        out[key] = value
    return out


def import_reference_checkpoint(
    ckpt: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    arch: str,
    in_bands: int,
    out_bands: int,
    ngf: int = 64,
    norm: str | None = None,
    dropout: bool | None = None,
    name: str | None = None,
    task: str | None = None,
    input_scaling: dict[str, Any] | None = None,
    output_scaling: dict[str, Any] | None = None,
    tile_size: int | None = None,
    overlap: int | None = None,
    licence: str = "",
    inference_mode: str | None = None,
    half: bool = False,
) -> ModelCard:
    """Convert a reference ``.pth`` generator checkpoint to a geo2map model file.

    Defaults follow the reference: U-Nets are pix2pix (batch norm, dropout) and,
    like the reference's ``test.py`` without ``--eval``, run in train mode (dropout
    and batch statistics at inference); ResNets are CycleGAN (instance norm, no
    dropout, eval mode).
    """

    from geo2map.models.networks import GENERATORS, build_generator

    if arch not in GENERATORS:
        raise ModelError(f"unknown arch={arch!r}; choose one of {', '.join(GENERATORS)}")
    unet = arch.startswith("unet")
    norm = norm or ("batch" if unet else "instance")
    dropout = unet if dropout is None else dropout
    raw = _load_weights_only(os.fspath(ckpt))
    state = _unwrap(raw)
    if any(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    net = build_generator(arch, in_bands, out_bands, ngf=ngf, norm=norm, dropout=dropout, init=None)  # type: ignore[arg-type]
    state = patch_instance_norm_state_dict(state, net)
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        hint = ""
        if wrong and any(k.endswith(".weight") for k in wrong):
            hint = " (check in_bands=, out_bands= and ngf=)"
        elif missing or unexpected:
            hint = " (check arch=, norm= and dropout=)"
        raise ModelError(
            f"{ckpt} does not fit {arch} with {in_bands}→{out_bands} bands, ngf {ngf}, norm {norm}: "
            f"{len(missing)} missing, {len(unexpected)} unexpected, {len(wrong)} mis-shaped keys{hint}"
        )
    net.load_state_dict(state, strict=True)
    size = tile_size or (128 if arch in ("unet_128", "resnet_6blocks") else 256)
    card = ModelCard(
        name=name or os.path.splitext(os.path.basename(os.fspath(ckpt)))[0],
        task=task or ("pix2pix" if unet else "cyclegan"),
        summary=f"imported from reference checkpoint {os.path.basename(os.fspath(ckpt))}",
        architecture=Architecture(arch, in_bands, out_bands, ngf, norm, dropout),  # type: ignore[arg-type]
        input_bands=[Band(f"band{i + 1}") for i in range(in_bands)],
        output_bands=[Band(f"band{i + 1}") for i in range(out_bands)],
        input_scaling=input_scaling or {"name": "optical_u8", "params": {}},
        output_scaling=output_scaling or {"name": "optical_u8", "params": {}},
        output_dtype="uint8",
        output_colorinterp=["red", "green", "blue"] if out_bands == 3 else [],
        tile_size=size,
        overlap=overlap if overlap is not None else size // 4,
        inference_mode=inference_mode or ("train" if unet else "eval"),  # type: ignore[arg-type]
        training={
            "source": "reference pytorch-CycleGAN-and-pix2pix checkpoint",
            "checkpoint": os.path.basename(os.fspath(ckpt)),
        },
        licence=licence,
    )
    save_model(output, net, card, half=half)
    return card
