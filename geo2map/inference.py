"""Batched network inference on scaled tiles: device, precision, batching, overlap.

:class:`Translator` turns a stream of ``(key, x)`` — ``x`` a float32 ``(bands, h, w)``
array already scaled to [-1, 1] — into a stream of ``(key, y)`` in the same order.
It owns everything about running the generator well:

* **Device**: ``auto`` = CUDA when present, else CPU; ``cuda``, ``cuda:1``, ``cpu``.
* **Precision**: ``auto`` = bf16 autocast on CUDA devices that support it and on
  CPUs with AMX bf16 units, float32 elsewhere (README has the speed and the
  measured fp32-vs-bf16 output differences); ``fp32``, ``bf16``, ``fp16`` force one.
* **The card's inference mode**: ``eval``, or ``train`` as the reference pix2pix
  ``test.py`` runs U-Nets — dropout active and batch norm with the statistics of
  the tile itself. Batch norm is swapped for a per-sample normalisation with the
  same weights, so a tile's output does not depend on which tiles share its batch
  (identical to the reference's batch size 1, at any batch size).
* **Overlap**: the input stream is consumed in a background thread (reading and
  scaling the next tiles while the network runs), inputs go through pinned memory
  with non-blocking copies on CUDA, and a batch's results are collected only after
  the next batch has been queued on the GPU.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np

from geo2map.errors import InputError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from geo2map.models.package import LoadedModel

K = TypeVar("K")
Precision = Literal["auto", "fp32", "bf16", "fp16"]
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def resolve_device(device: str = "auto") -> Any:
    """``auto``/``cpu``/``cuda``/``cuda:N`` → a usable :class:`torch.device` (or a clear error)."""
    try:
        import torch
    except ImportError:
        from geo2map.models.package import TORCH_HINT

        raise InputError(f"this model {TORCH_HINT}") from None

    text = (device or "auto").strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(text)
    except RuntimeError:
        raise InputError(f"device={device!r} is not a device (use auto, cpu, cuda or cuda:N)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device={device!r}: CUDA is not available in this PyTorch build or machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device={device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type == "mps":
        if not torch.backends.mps.is_available():
            raise InputError(f"device={device!r}: this PyTorch build or machine has no MPS (Apple GPU) support")
    elif dev.type != "cpu":
        raise InputError(f"device={device!r}: use auto, cpu, cuda or cuda:N")
    return dev


def check_device(model: str | os.PathLike[str], device: str) -> None:
    """Fail early, with one line, when ``device`` cannot run ``model`` (a name or path) here."""
    from geo2map.models.onnx_model import is_onnx, onnx_providers
    from geo2map.models.registry import IDENTITY, resolve

    if os.fspath(model) == IDENTITY and not os.path.exists(IDENTITY):
        return
    if is_onnx(resolve(model)):
        onnx_providers(device)
    else:
        resolve_device(device)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` → ``bf16`` on CUDA with bf16 support, else ``fp32``; check explicit choices."""
    import torch

    if precision not in PRECISIONS:
        raise InputError(f"precision must be one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        return "bf16" if device.type == "cpu" and cpu_has_fast_bf16() else "fp32"
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise InputError("this GPU has no bfloat16 support; use precision=fp16 or precision=fp32")
    return precision


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU computes bf16 natively: AMX tiles (Intel Sapphire Rapids and later) or
    AVX512-BF16 (e.g. AMD Zen 4). There bf16 autocast is clearly faster than fp32 (2-3x for
    the built-ins' U-Net, README); elsewhere it is emulated and slower."""
    import torch

    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    try:
        return cpu_has_amx() or (bool(probe()) if probe else False)
    except Exception:  # noqa: BLE001 - a private probe: absent or failing means no
        return False


def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tiles (bf16 matrix units: Intel Sapphire Rapids and later).

    Only there is bf16 autocast on CPU clearly faster than fp32 (3x for a U-Net-256
    here, README); elsewhere it is emulated and slower.
    """
    import torch

    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        return bool(probe()) if probe else False
    except Exception:  # noqa: BLE001 - a private probe: absent or failing means no
        return False


def _per_sample_norm(bn: Any) -> Any:
    """A module normalising each sample by its own statistics with ``bn``'s affine weights.

    Equal to ``bn`` in training mode with a batch of one (what the reference code
    does at test time without ``--eval``), whatever the batch size.
    """
    import torch.nn.functional as F
    from torch import nn

    class PerSampleNorm(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight, self.bias, self.eps = bn.weight, bn.bias, bn.eps

        def forward(self, x: Any) -> Any:
            return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)

    return PerSampleNorm()


def prepare_generator(net: nn.Module, inference_mode: str) -> Any:
    """Put a generator in the card's inference mode (see the module docstring)."""
    from torch import nn

    from geo2map.models.networks.common import replace_module

    net.eval()
    if inference_mode == "train":
        for name, module in list(net.named_modules()):
            if isinstance(module, nn.BatchNorm2d):
                replace_module(net, name, _per_sample_norm(module))
            elif isinstance(module, nn.Dropout | nn.Dropout2d):
                module.train()
    return net


def background(items: Iterable[Any], depth: int = 2, name: str = "geo2map-prefetch") -> Iterator[Any]:
    """Iterate ``items`` in a background thread, at most ``depth`` items ahead.

    Errors in the thread are raised here; closing this generator early stops the
    thread (the source iterator is closed in the thread that consumed it).
    """
    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        it = iter(items)
        try:
            for item in it:
                if not put(("item", item)):
                    break
            else:
                put(("end", None))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
            put(("error", exc))
        finally:
            close = getattr(it, "close", None)
            if close:
                close()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()
        thread.join()


def _batches(items: Iterable[tuple[K, np.ndarray]], size: int) -> Iterator[tuple[list[K], np.ndarray]]:
    keys: list[K] = []
    arrays: list[np.ndarray] = []
    for key, x in items:
        keys.append(key)
        arrays.append(x)
        if len(keys) == size:
            yield keys, np.stack(arrays)
            keys, arrays = [], []
    if keys:
        yield keys, np.stack(arrays)


def cpu_batch_size(tile_size: int) -> int:
    """The CPU's default batch: about four 256-px tiles' worth of pixels, at least one tile.

    Measured with the shipped sat2map (U-Net-32, 640-px tiles) on a 3000² scene, 2 cores,
    bf16: batch 1, 2 and 4 all took 7-9 s, while peak RSS grew 0.65 → 0.84 → 1.2 GB
    (docs/benchmarks.md): past a few hundred thousand pixels a batch, a bigger batch
    costs memory and buys no speed on a CPU.
    """
    return max(1, (4 * 256 * 256) // max(1, tile_size * tile_size))


class Translator:
    """Run a loaded model's generator over a stream of scaled tiles.

    Args:
        model: A :class:`~geo2map.models.package.LoadedModel` (``generator`` None =
            the identity model: outputs are the inputs).
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N``.
        precision: ``auto``, ``fp32``, ``bf16``, ``fp16`` (autocast).
        batch_size: Tiles per forward pass. Default: 32 on CUDA; on CPU, four 256-px tiles'
            worth of pixels (:func:`cpu_batch_size` of ``tile_size``, the card's by default).
        channels_last: NHWC memory format (default on: faster on CUDA and, per
            ``benchmarks/bench_models.py``, on CPU too).
        seed: Seeds dropout for models run in ``train`` inference mode, so runs repeat.
    """

    def __init__(
        self,
        model: LoadedModel,
        *,
        device: str = "auto",
        precision: str = "auto",
        batch_size: int | None = None,
        channels_last: bool | None = None,
        seed: int = 0,
        tile_size: int | None = None,
    ) -> None:
        from geo2map.models.onnx_model import OnnxGenerator

        cpu_default = cpu_batch_size(tile_size or model.card.tile_size)

        self.card = model.card
        self.net = model.generator
        self.seed = seed
        self.onnx = isinstance(self.net, OnnxGenerator)
        if self.onnx:  # onnxruntime: no torch at all; the session already chose its device
            self.device: Any = self.net.device
            if precision not in ("auto", "fp32"):
                raise InputError(
                    f"an ONNX model runs in float32 (got precision={precision}); use precision=fp32 or precision=auto"
                )
            self.precision = "fp32"
            self.batch_size = int(batch_size or (32 if self.device == "cuda" else cpu_default))
            if self.batch_size < 1:
                raise InputError("batch size must be >= 1")
            self.channels_last = False
            return
        if self.net is None:  # the identity model: no network, no torch (its import alone takes ~2 s)
            if (device or "auto").strip().lower() not in ("auto", "cpu"):
                resolve_device(device)  # still a clear error for a device this machine lacks
            self.device, self.precision, self.channels_last, self._random = "cpu", "no network", False, False
            self.batch_size = int(batch_size or 4)
            if self.batch_size < 1:
                raise InputError("batch size must be >= 1")
            return
        import torch
        from torch import nn

        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        cuda = self.device.type == "cuda"
        self.batch_size = int(batch_size or (32 if cuda else cpu_default))
        if self.batch_size < 1:
            raise InputError("batch size must be >= 1")
        self.channels_last = True if channels_last is None else channels_last
        from geo2map.models.resize_projection import resize_as_transposed

        # resize-convs run as the transposed convs they equal: the same output in 4/9 of the multiply-adds
        self.net = prepare_generator(resize_as_transposed(self.net).to(self.device), self.card.inference_mode)
        if self.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self._dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        # only active dropout draws random numbers; seeding costs ~1 ms a batch (torch.manual_seed
        # also seeds every accelerator backend), so it is done only then, on the device's generator
        self._random = any(isinstance(m, nn.Dropout | nn.Dropout2d) and m.training for m in self.net.modules())

    def _seed(self, seed: int) -> None:
        import torch

        if self.device.type == "cuda":
            with torch.cuda.device(self.device):  # this device's generator, which fork_rng restores
                torch.cuda.manual_seed(seed)
        torch.default_generator.manual_seed(seed)

    def run_batch(self, x: np.ndarray) -> np.ndarray:
        """One batch ``(n, bands, h, w)`` float32 → ``(n, out_bands, h, w)`` float32 (synchronous)."""
        return np.stack([y for _, y in self._run(list(enumerate(x)))])

    def __call__(self, items: Iterable[tuple[K, np.ndarray]], prefetch: bool = True) -> Iterator[tuple[K, np.ndarray]]:
        """Translate ``(key, x)`` items, yielding ``(key, y)`` in order.

        With ``prefetch`` the input iterator (reading and scaling tiles) runs in a
        background thread, batches ahead of the network.
        """
        return self._run(items, prefetch)

    def _forward(self, x: np.ndarray, index: int) -> tuple[Any, Any]:
        """Start one batch; returns the float32 result (pinned host memory on CUDA) and a CUDA event."""
        import torch

        cuda = self.device.type == "cuda"
        with torch.random.fork_rng(devices=[self.device] if cuda else [], enabled=self._random), torch.inference_mode():
            if self._random:  # dropout noise repeats run to run
                self._seed(self.seed * 1_000_003 + index)
            xt = torch.from_numpy(x)
            if cuda:
                xt = xt.pin_memory().to(self.device, non_blocking=True)
            if self.channels_last:
                xt = xt.contiguous(memory_format=torch.channels_last)
            if self._dtype is not None:
                with torch.autocast(self.device.type, dtype=self._dtype):
                    y = self.net(xt)
            else:
                y = self.net(xt)
            # one copy: bf16 channels-last → float32 NCHW (``.float()`` then ``.contiguous()`` made two)
            y = y.to(dtype=torch.float32, memory_format=torch.contiguous_format)
            if not cuda:
                return y, None
            host = torch.empty(y.shape, dtype=torch.float32, pin_memory=True)
            host.copy_(y, non_blocking=True)
            done = torch.cuda.Event()
            done.record()
            return host, done

    def _run(self, items: Iterable[tuple[K, np.ndarray]], prefetch: bool = False) -> Iterator[tuple[K, np.ndarray]]:
        if self.net is None:  # identity: tiles are read and scaled in a thread while the caller blends
            yield from (background(items, depth=2 * self.batch_size) if prefetch else items)
            return
        batches: Iterable[tuple[list[K], np.ndarray]] = _batches(items, self.batch_size)
        if prefetch:
            batches = background(batches, depth=2)
        if self.onnx:
            for keys, x in batches:
                yield from zip(keys, self.net(x), strict=True)
            return
        # on CUDA one batch stays in flight while the previous one is handed out
        in_flight = 2 if self.device.type == "cuda" else 1
        pending: deque[tuple[list[K], Any, Any]] = deque()
        for index, (keys, x) in enumerate(batches):
            pending.append((keys, *self._forward(x, index)))
            if len(pending) >= in_flight:
                yield from self._collect(pending.popleft())
        while pending:
            yield from self._collect(pending.popleft())

    @staticmethod
    def _collect(item: tuple[list[K], Any, Any]) -> Iterator[tuple[K, np.ndarray]]:
        keys, y, done = item
        if done is not None:
            done.synchronize()
        arr = y.contiguous().numpy()
        for i, key in enumerate(keys):
            yield key, arr[i]
