"""The model file: one ``.safetensors`` file with the generator's weights and its card.

The card (JSON, see :mod:`geo2map.models.card`) lives in the safetensors header
metadata under ``geo2map_card``, so a model file always says its own
architecture, band layout, scaling and tile size. Loading never unpickles
anything: safetensors holds raw tensors only, and a pickle checkpoint is refused
(import it with ``geo2map models import``).
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from typing import Any, TypeAlias

from geo2map.errors import ModelError, one_line
from geo2map.models.card import ModelCard
from geo2map.raster.write import usual_mode

CARD_KEY = "geo2map_card"
_PICKLE_HINT = (
    "is a PyTorch pickle checkpoint, which geo2map never unpickles; convert it with "
    "'geo2map models import CKPT --arch ...' (reads weights only)"
)


def _sniff(path: str) -> None:
    """Refuse files that are clearly not safetensors before parsing them."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc.strerror}") from None
    if len(head) >= 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] <= 100_000_000:
        return  # safetensors: an 8-byte header length, then the JSON header (its length may start with 0x80)
    if head.startswith(b"PK\x03\x04") or (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")):
        raise ModelError(f"{path} {_PICKLE_HINT}")
    if len(head) < 9:
        raise ModelError(f"{path} is not a geo2map model file (too short)")
    raise ModelError(f"{path} is not a geo2map model file (not safetensors)")


def _resolve(path: str | os.PathLike[str]) -> str:
    """A model file path as given, or the file of a built-in/plugin model name (``sar2rgb``)."""
    text = os.fspath(path)
    if os.path.exists(text):
        if os.path.isdir(text):
            raise ModelError(f"{text} is a folder, not a model file (.safetensors or .onnx)")
        return text
    from geo2map.models.registry import IDENTITY, available, resolve

    if text != IDENTITY and (text in available() or text.endswith(".onnx")):
        try:
            return resolve(text)
        except ModelError:
            pass
    return text


def read_card(path: str | os.PathLike[str]) -> ModelCard:
    """Read only the card of a model file, ``.safetensors`` or ``.onnx`` (no weights loaded)."""
    from geo2map.models.onnx_model import is_onnx, read_onnx_card

    path = _resolve(path)
    if is_onnx(path):
        return read_onnx_card(path)
    from safetensors import safe_open

    if not os.path.isfile(path):
        raise ModelError(f"model file {path} does not exist")
    _sniff(path)
    try:
        with safe_open(path, framework="numpy") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types
        raise ModelError(f"{path} is not a readable safetensors file ({one_line(exc)})") from None
    if CARD_KEY not in meta:
        raise ModelError(f"{path} is a safetensors file without a geo2map model card")
    try:
        card = json.loads(meta[CARD_KEY])
    except json.JSONDecodeError:
        raise ModelError(f"{path} has a corrupt model card") from None
    return ModelCard.from_dict(card)


@dataclass
class LoadedModel:
    """A generator ready for inference, with its card."""

    card: ModelCard
    generator: Any  # torch.nn.Module, or None for the identity model
    path: str


#: What a ``model`` parameter takes: a built-in name, a model file path, or a loaded model.
ModelRef: TypeAlias = "str | os.PathLike[str] | LoadedModel"


def save_model(path: str | os.PathLike[str], generator: Any, card: ModelCard, *, half: bool = False) -> str:
    """Write ``generator``'s weights and ``card`` to a ``.safetensors`` file (atomically).

    Args:
        half: Store floating-point weights as float16 (half the size; loaded back as float32).
    """
    import torch
    from safetensors.torch import save_file

    card.validate()
    tensors = {}
    for k, v in generator.state_dict().items():
        t = v.detach().to("cpu")
        if half and t.is_floating_point():
            t = t.to(torch.float16)
        tensors[k] = t.contiguous()
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        save_file(tensors, tmp, metadata={CARD_KEY: card.to_json(), "format": "pt"})
        usual_mode(tmp)  # safetensors creates the file 0600
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


TORCH_HINT = (
    "is a PyTorch model and PyTorch is not installed: pip install 'geo2map[torch]' (a CPU-only or CUDA "
    "build of torch, see pytorch.org), or run an ONNX export of it (geo2map models export)"
)


def load_model(path: str | os.PathLike[str], device: str = "cpu") -> LoadedModel:
    """Load a model file: rebuild the generator from its card and load the weights.

    An ``.onnx`` file gives an onnxruntime session instead (no torch needed).
    """
    from geo2map.models.onnx_model import is_onnx, load_onnx

    path = _resolve(path)
    if is_onnx(path):
        return load_onnx(path, device)  # type: ignore[no-any-return]
    try:
        import torch
        from safetensors.torch import load_file
    except ImportError:
        card = read_card(path)
        if card.task == "identity":
            return LoadedModel(card, None, os.fspath(path))
        raise ModelError(f"{os.fspath(path)} {TORCH_HINT}") from None

    from geo2map.models.networks import build_generator

    path = os.fspath(path)
    card = read_card(path)
    a = card.architecture
    if card.task == "identity":
        return LoadedModel(card, None, path)
    net = build_generator(
        a.generator,
        a.in_bands,
        a.out_bands,
        ngf=a.ngf,
        norm=a.norm,  # type: ignore[arg-type]
        dropout=a.dropout,
        init=None,
        upsample=a.upsample,
        padding=a.padding,
    )
    try:
        state = load_file(path, device="cpu")
    except Exception as exc:
        raise ModelError(f"cannot read the weights in {path}: {one_line(exc)}") from None
    own = net.state_dict()
    wrong = [k for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if wrong:
        k = wrong[0]
        raise ModelError(
            f"{path}: weights do not fit the card's architecture ({a.generator}, ngf {a.ngf}): {len(wrong)} "
            f"tensor(s) of another shape, e.g. {k} is {tuple(state[k].shape)}, the card implies {tuple(own[k].shape)}"
        )
    if not all(bool(torch.isfinite(v).all()) for v in state.values() if v.is_floating_point()):
        raise ModelError(
            f"{path}: the weights hold NaN or infinite values (a diverged training?): the model is unusable"
        )
    state = {k: v.to(own[k].dtype) if k in own else v for k, v in state.items()}
    result = net.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ModelError(
            f"{path}: weights do not fit the card's architecture ({a.generator}): "
            f"{len(result.missing_keys)} missing, {len(result.unexpected_keys)} unexpected keys"
        )
    net.to(torch.device(device))
    net.train(card.inference_mode == "train")
    return LoadedModel(card, net, path)
