"""What runs on a Dask worker: one scene translated, the model loaded once per worker process."""

from __future__ import annotations

import os
import threading
import time
from importlib.util import find_spec
from typing import Any

from geo2map.batch.inputs import KEY_TAG
from geo2map.errors import Geo2MapError, one_line
from geo2map.raster.safety import remove_stale_temps

# ---------------------------------------------------------------------------
# the task (runs on workers)
# ---------------------------------------------------------------------------
_CACHE: dict[tuple[str, str], Any] = {}
_CACHE_LOCK = threading.Lock()
_LOADS = {"n": 0}


def _worker_model(model: str, device: str) -> Any:
    """The model for this worker process, loaded once (``identity`` needs no loading)."""
    from geo2map.models.registry import IDENTITY

    if model == IDENTITY:
        return model
    with _CACHE_LOCK:
        key = (model, device)
        if key not in _CACHE:
            from geo2map.inference import prepare_generator, resolve_device
            from geo2map.models.onnx_model import OnnxGenerator, is_onnx
            from geo2map.models.package import load_model
            from geo2map.models.registry import resolve

            path = resolve(model)
            loaded = load_model(path, device=device if is_onnx(path) else str(resolve_device(device)))
            if loaded.generator is not None and not isinstance(loaded.generator, OnnxGenerator):
                prepare_generator(loaded.generator, loaded.card.inference_mode)
            _CACHE[key] = loaded
            _LOADS["n"] += 1
        return _CACHE[key]


def _device_for_worker(device: str) -> str:
    """On a multi-GPU machine, spread local workers named 0, 1, ... over the GPUs."""
    if device not in ("auto", "cuda"):
        return device
    try:
        import torch

        n = torch.cuda.device_count()
        if n > 1:
            from distributed import get_worker

            name = str(get_worker().name)
            if name.isdigit():
                return f"cuda:{int(name) % n}"
    except Exception:  # noqa: BLE001 - not in a worker, no CUDA: keep the device as given
        pass
    return device


def translate_scene(
    src: str, dst: str, model: str, options: dict[str, Any], key: str, torch_threads: int | None = None
) -> dict[str, Any]:
    """Translate one scene on a worker; never raises for a bad scene (returns the error instead)."""
    import socket

    t0 = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        if torch_threads and find_spec("torch") is not None:
            import torch

            if torch.get_num_threads() != torch_threads:
                torch.set_num_threads(torch_threads)
        opts = dict(options)
        opts["device"] = _device_for_worker(opts.get("device", "auto"))
        loaded = _worker_model(model, opts["device"])
        os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
        remove_stale_temps(dst, only_dead=False)
        from geo2map.translate import translate_raster

        res = translate_raster(src, dst, loaded, overwrite=True, tags={KEY_TAG: key}, **opts)
        return {
            "state": "done",
            "seconds": time.perf_counter() - t0,
            "tiles": res.translated,
            "worker": worker,
            "model_loads": _LOADS["n"],
        }
    except Exception as exc:  # noqa: BLE001 - whatever goes wrong, the scene fails alone
        error = one_line(exc)
        if not isinstance(exc, Geo2MapError | OSError | ValueError | MemoryError | RuntimeError):
            error = f"{type(exc).__name__}: {error}"  # rasterio and other errors: say what kind
        return {"state": "failed", "error": error, "worker": worker, "seconds": time.perf_counter() - t0}
