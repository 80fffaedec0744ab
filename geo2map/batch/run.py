"""Run a batch: plan the scenes against the manifest, submit them to Dask, record each result."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from geo2map.batch.inputs import MANIFEST, Scene, collect_inputs
from geo2map.batch.manifest import Manifest, model_fingerprint, output_is_complete, scene_key
from geo2map.batch.outputs import write_footprints, write_stac
from geo2map.batch.worker import translate_scene
from geo2map.errors import InputError, OutputError, one_line
from geo2map.raster.safety import remove_stale_temps, same_or_inside


@dataclass
class BatchSummary:
    """What :func:`run_batch` did."""

    out_dir: str
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    dashboard: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no scene failed."""
        return not self.failed


def _client(scheduler: str | None, workers: int | None, threads: int, gpu: bool) -> tuple[Any, Any, int | None]:
    """(client, local cluster or None, torch threads per task)."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            if os.path.isfile(scheduler):  # a scheduler file (dask scheduler --scheduler-file)
                client = Client(scheduler_file=scheduler, timeout="10s")
            else:
                client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        return client, None, None
    cores = os.cpu_count() or 1
    if gpu:
        import torch

        n = workers or max(torch.cuda.device_count(), 1)
        resources = {"GPU": 1}
    else:
        n = workers or max(1, cores // 2)
        resources = None
    with _interrupts_ignored():  # workers inherit it: Ctrl-C reaches this process only, which stops them
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=threads,
            processes=True,
            dashboard_address="127.0.0.1:0",
            resources=resources,
            silence_logs=40,
        )
    client = Client(cluster)
    return client, cluster, max(1, cores // (n * threads))


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """SIGINT ignored while worker processes start (an ignored signal stays ignored in a child,
    and Python then installs no KeyboardInterrupt handler): a terminal's Ctrl-C, sent to the
    whole process group, then interrupts the batch once instead of printing each worker's traceback."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_batch(
    inputs: Sequence[str],
    out_dir: str,
    model: str,
    *,
    asset: str | None = None,
    workers: int | None = None,
    threads: int = 1,
    scheduler: str | None = None,
    retry_failed: bool = False,
    overwrite: bool = False,
    translate_options: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> BatchSummary:
    """Translate every input scene into ``out_dir`` on Dask (see the module docstring).

    Args:
        inputs: Folders, globs, text files of paths, STAC JSON documents, or raster files.
        model: A built-in model name or a model file path (workers must see the same path).
        asset: The STAC asset key to translate (default: the item's data asset).
        workers, threads: Size of the embedded LocalCluster (default: one process per
            two cores, or one per GPU; ``threads`` tasks per process).
        scheduler: Address (``tcp://host:8786``) or scheduler file of an existing Dask
            cluster, instead of a local cluster.
        retry_failed: Run scenes that failed in an earlier run again.
        overwrite: Replace outputs that exist but were not written by this batch configuration.
        translate_options: Keyword arguments for :func:`~geo2map.translate.translate_raster`.
        progress: ``progress(scenes_finished, scenes_total)``.
        log: Receives one-line messages (the dashboard address, ...).
    """
    t0 = time.perf_counter()
    options = dict(translate_options or {})
    out_dir = _output_folder(inputs, out_dir)
    scenes = collect_inputs(inputs, asset)
    _make_folder(out_dir)  # only once the inputs are known to hold scenes
    model_arg = model if not os.path.exists(model) else os.path.abspath(model)
    manifest = Manifest(os.path.join(out_dir, MANIFEST))
    summary = BatchSummary(out_dir)
    todo = _plan(scenes, manifest, summary, model_fingerprint(model_arg), options, retry_failed, overwrite)
    counter = _Counter(len(scenes), len(summary.skipped) + len(summary.failed), progress)
    device = options.get("device", "auto")
    if not scheduler:  # a local cluster: a device this machine lacks fails once, here, not once per scene
        from geo2map.inference import check_device

        check_device(model, device)
    gpu = _wants_gpu(device)
    if todo:
        client, cluster, torch_threads = _client(scheduler, workers, threads, gpu and not scheduler)
        try:
            summary.dashboard = client.dashboard_link if client.dashboard_link else None
            if summary.dashboard and log:
                log(f"Dask dashboard: {summary.dashboard}")
            futures = {}
            for sc, dst, key in todo:
                manifest.set(sc.name, sc.src, key, "running")
                fut = client.submit(
                    translate_scene,
                    *(sc.src, dst, model_arg, options, key, torch_threads),
                    key=f"geo2map-{sc.name}-{key[:12]}",
                    pure=False,
                    resources={"GPU": 1} if gpu else None,
                )
                futures[fut] = (sc, dst, key)
            for sc, dst, key, res in _results(futures):
                _record(manifest, summary, sc, dst, key, res)
                counter.tick()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    _index(out_dir, scenes, summary, model, options)
    manifest.close()
    summary.seconds = time.perf_counter() - t0
    return summary


class _Counter:
    """Scenes finished, reported to ``progress(finished, total)``."""

    def __init__(self, total: int, finished: int, progress: Callable[[int, int], None] | None) -> None:
        self.total, self.finished, self.progress = total, finished, progress
        if progress:
            progress(finished, total)

    def tick(self) -> None:
        self.finished += 1
        if self.progress:
            self.progress(self.finished, self.total)


def _output_folder(inputs: Sequence[str], out_dir: str) -> str:
    """The absolute output folder; refused inside an input folder."""
    out_dir = os.path.abspath(out_dir)
    for item in inputs:  # an output folder inside an input folder: the next run translates its outputs
        if os.path.isdir(item) and same_or_inside(out_dir, item):
            raise InputError(f"the output folder {out_dir} lies inside the input folder {item}; choose one outside")
    return out_dir


def _make_folder(out_dir: str) -> None:
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {out_dir}: {exc.strerror}") from None


def _index(out_dir: str, scenes: list[Scene], summary: BatchSummary, model: str, options: dict[str, Any]) -> None:
    """Footprints of the scenes translated (and a STAC catalog for STAC inputs)."""
    done_scenes = [sc for sc in scenes if sc.name in set(summary.done) | set(summary.skipped)]
    write_footprints(out_dir, done_scenes, model)
    if any(sc.item for sc in scenes):
        write_stac(out_dir, done_scenes, model, options)


def _plan(
    scenes: list[Scene],
    manifest: Manifest,
    summary: BatchSummary,
    model_fp: str,
    options: dict[str, Any],
    retry_failed: bool,
    overwrite: bool,
) -> list[tuple[Scene, str, str]]:
    """The scenes to run as (scene, output, fingerprint); complete ones are skipped, earlier
    failures (unless ``retry_failed``) and foreign outputs (unless ``overwrite``) fail at once."""
    todo: list[tuple[Scene, str, str]] = []
    for sc in scenes:
        dst = os.path.join(summary.out_dir, sc.name)
        key = scene_key(sc.src, model_fp, options)
        row = manifest.get(sc.name)
        if output_is_complete(dst, key):
            summary.skipped.append(sc.name)
            if not row or row["state"] != "done":
                manifest.set(sc.name, sc.src, key, "done", error=None)
            continue
        if row and row["state"] == "failed" and not retry_failed:
            summary.failed[sc.name] = f"{row['error'] or 'failed'} (in an earlier run; retry_failed=True runs it again)"
            continue
        if os.path.exists(dst) and not overwrite:  # checked anew each run, not recorded as a failure
            summary.failed[sc.name] = (
                f"output {sc.name} exists but was not written by this batch (other model, options or source); "
                "use overwrite=True"
            )
            continue
        todo.append((sc, dst, key))
    return todo


def _results(futures: dict[Any, tuple[Scene, str, str]]) -> Iterator[tuple[Scene, str, str, dict[str, Any]]]:
    """Each scene's result as its task finishes; a task that raised (KilledWorker...) is a failed scene."""
    from distributed import as_completed

    for fut in as_completed(futures):
        sc, dst, key = futures[fut]
        try:
            res = fut.result()
        except Exception as exc:  # noqa: BLE001 - KilledWorker, cancelled: the scene fails alone
            res = {"state": "failed", "error": f"{type(exc).__name__}: {one_line(exc)}"}
        yield sc, dst, key, res


def _record(manifest: Manifest, summary: BatchSummary, sc: Scene, dst: str, key: str, res: dict[str, Any]) -> None:
    """One finished scene into the summary and the manifest (a failed one's temporaries removed)."""
    if res["state"] == "done":
        summary.done.append(sc.name)
    else:
        remove_stale_temps(dst, only_dead=False)
        summary.failed[sc.name] = res["error"]
    manifest.set(sc.name, sc.src, key, res["state"], **{k: v for k, v in res.items() if k != "state"})


def _wants_gpu(device: str) -> bool:
    if device.startswith("cuda"):
        return True
    if device == "auto":
        try:
            import torch

            return bool(torch.cuda.is_available())
        except ImportError:
            return False
    return False
