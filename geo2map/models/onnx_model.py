"""ONNX model files: export a generator with its card, run it with onnxruntime (no torch needed).

An exported file is one ``.onnx`` graph ``input (batch, bands, height, width) float32
in [-1, 1] → output (batch, out_bands, height, width)``, batch, height and width
dynamic (height and width must stay multiples of the architecture's stride, as in
torch). The card is the same JSON as in a ``.safetensors`` model file, under the
``metadata_props`` key ``geo2map_card``; ``card.training["onnx_export"]`` says how
the graph was made.

The graph is deterministic. A card in ``eval`` inference mode exports exactly the
torch model in eval mode. A pix2pix card in ``train`` mode (the reference's
``test.py``: batch statistics of each tile, dropout on) exports as the equivalent
deterministic graph: each tile normalised by its own statistics with the batch-norm
weights (exactly what geo2map's torch path does), and dropout replaced by its
expectation (identity: torch's dropout rescales during training, so the expected
activation is the input). Only that dropout noise differs from the torch run.

Weights can be stored as float16 (``half``) and cast to float32 inside the graph:
half the size, the same float32 arithmetic.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import numpy as np

from geo2map.errors import InputError, ModelError, one_line
from geo2map.models.card import ModelCard

CARD_KEY = "geo2map_card"
OPSET = 17
INSTALL_HINT = "onnxruntime is not installed: pip install 'geo2map[onnx]' (or onnxruntime-gpu for CUDA)"


def is_onnx(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names an ONNX model file."""
    return os.fspath(path).lower().endswith(".onnx")


def read_onnx_card(path: str | os.PathLike[str]) -> ModelCard:
    """The card in an ONNX file's metadata (the graph is not loaded into a runtime)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelError(f"model file {path} does not exist")
    try:
        import onnx
    except ImportError:
        raise ModelError(INSTALL_HINT) from None
    try:
        proto = onnx.load(path, load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise ModelError(f"{path} is not a readable ONNX file ({one_line(exc)})") from None
    meta = {p.key: p.value for p in proto.metadata_props}
    if CARD_KEY not in meta:
        raise ModelError(f"{path} is an ONNX file without a geo2map model card")
    try:
        return ModelCard.from_dict(json.loads(meta[CARD_KEY]))
    except json.JSONDecodeError:
        raise ModelError(f"{path} has a corrupt model card") from None


def onnx_providers(device: str) -> list[str]:
    """onnxruntime execution providers for ``device`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise InputError(INSTALL_HINT) from None
    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "auto":
        return (["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []) + ["CPUExecutionProvider"]
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in available:
            raise InputError(f"device={device!r}: this onnxruntime has no CUDA provider (pip install onnxruntime-gpu)")
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise InputError(f"unknown device {device!r} for an ONNX model; use auto, cpu or cuda")


class OnnxGenerator:
    """An onnxruntime session that maps float32 ``(n, bands, h, w)`` arrays like the torch generator."""

    def __init__(self, path: str, device: str = "cpu") -> None:
        import onnxruntime as ort

        self.path = path
        self.providers = onnx_providers(device)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        # idle pool threads sleep instead of spinning: beside other work on the cores, 60 sat2map tiles
        # took 1.29 s instead of 1.76; on a quiet machine the same (docs/benchmarks.md)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(path, sess_options=opts, providers=self.providers)
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own error types
            raise ModelError(f"onnxruntime cannot load {path}: {one_line(exc)}") from None
        self.input = self.session.get_inputs()[0].name
        device_of = {"CUDAExecutionProvider": "cuda", "CPUExecutionProvider": "cpu"}
        self.device = device_of.get(self.session.get_providers()[0], "cpu")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        y = self.session.run(None, {self.input: np.ascontiguousarray(x, dtype=np.float32)})[0]
        return np.asarray(y, dtype=np.float32)


def load_onnx(path: str | os.PathLike[str], device: str = "cpu") -> Any:
    """A :class:`~geo2map.models.package.LoadedModel` whose generator is an :class:`OnnxGenerator`."""
    from geo2map.models.package import LoadedModel

    path = os.fspath(path)
    card = read_onnx_card(path)
    return LoadedModel(card, OnnxGenerator(path, device), path)


# ---------------------------------------------------------------------------
# export (needs torch and onnx)
# ---------------------------------------------------------------------------
def _deterministic(net: Any, inference_mode: str) -> Any:
    """The generator as the graph to export: eval, or train mode made deterministic (module docstring)."""
    from torch import nn

    from geo2map.inference import prepare_generator

    net = prepare_generator(net.float(), inference_mode)
    for module in net.modules():
        if isinstance(module, nn.Dropout | nn.Dropout2d):
            module.eval()  # inverted dropout's expectation is the identity
    return net


def _half_initializers(proto: Any) -> None:
    """Store float32 weights as float16 and cast them back inside the graph."""
    from onnx import TensorProto, helper, numpy_helper

    casts = []
    for init in proto.graph.initializer:
        if init.data_type != TensorProto.FLOAT or int(np.prod(init.dims)) < 16:
            continue
        arr = numpy_helper.to_array(init).astype(np.float16)
        name = init.name
        init.CopyFrom(numpy_helper.from_array(arr, name + "_fp16"))
        casts.append(helper.make_node("Cast", [name + "_fp16"], [name], to=TensorProto.FLOAT))
    nodes = list(proto.graph.node)
    del proto.graph.node[:]
    proto.graph.node.extend(casts + nodes)


def export_onnx(model: Any, dst: str | os.PathLike[str], *, overwrite: bool = False, half: bool = False) -> str:
    """Export ``model`` (built-in name, model file or LoadedModel) to ``dst`` with its card.

    Raises:
        ModelError: identity (no network) or a model that cannot be exported.
        OutputExistsError: ``dst`` exists and not ``overwrite``.
    """
    import dataclasses
    import io

    import onnx
    import torch

    from geo2map.models.package import LoadedModel, load_model
    from geo2map.models.registry import IDENTITY, resolve
    from geo2map.raster.write import atomic_path

    if not isinstance(model, LoadedModel) and os.fspath(model) == IDENTITY and not os.path.exists(IDENTITY):
        raise ModelError("the identity model has no network to export")
    loaded = model if isinstance(model, LoadedModel) else load_model(resolve(model))
    card = loaded.card
    if card.task == "identity" or loaded.generator is None:
        raise ModelError("the identity model has no network to export")
    if isinstance(loaded.generator, OnnxGenerator):
        raise ModelError(f"{loaded.path} is already an ONNX model")
    from geo2map.models.resize_projection import resize_as_transposed

    # resize-convs as the transposed convs they equal: the same output, 4/9 of the decoder's work
    net = _deterministic(resize_as_transposed(loaded.generator.cpu()), card.inference_mode)
    a = card.architecture
    x = torch.zeros(1, a.in_bands, card.tile_size, card.tile_size)
    axes = {0: "batch", 2: "height", 3: "width"}
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            net,
            (x,),
            buf,  # type: ignore[arg-type]  # torch.onnx.export writes to file-like objects too
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": axes, "output": axes},
            opset_version=OPSET,
            dynamo=False,
        )
    proto = onnx.load_from_string(buf.getvalue())
    if half:
        _half_initializers(proto)
    how = {
        "opset": OPSET,
        "weights": "float16, cast to float32 in the graph" if half else "float32",
        "normalisation": "per-tile instance statistics with the batch-norm weights"
        if card.inference_mode == "train"
        else "as trained (eval mode)",
        "dropout": "expectation (identity)" if a.dropout else "none",
    }
    out_card = dataclasses.replace(card, training={**card.training, "onnx_export": how})
    onnx.helper.set_model_props(proto, {CARD_KEY: out_card.to_json()})
    proto.producer_name = "geo2map"
    onnx.checker.check_model(proto)
    with atomic_path(dst, overwrite) as tmp:
        onnx.save(proto, tmp)
    return os.fspath(dst)
