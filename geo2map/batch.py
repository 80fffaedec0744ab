"""Translate whole raster archives on Dask: one scene = one task, resumable, fault-tolerant.

:func:`run_batch` is the library behind ``geo2map batch``:

* **Inputs**: folders (searched recursively for rasters), globs, text files with
  one path per line, and STAC ItemCollections or catalogs (an asset picked by key).
  Outputs mirror the input names in the output folder.
* **Dask**: an embedded ``LocalCluster`` of worker processes by default, or an
  existing cluster (``scheduler="tcp://host:8786"``). Each task runs
  :func:`~geo2map.translate.translate_raster` on one scene; the model is loaded
  once per worker process and kept. When the device is CUDA, tasks ask for a
  ``GPU`` resource (start workers with ``--resources GPU=1``).
* **Resumable**: ``OUT_DIR/geo2map-batch.sqlite`` records each scene's state and
  every completion. Outputs are written atomically and carry a fingerprint of
  (source file, model, options) in their metadata (``GEO2MAP_BATCH_KEY``): a rerun
  skips scenes whose output exists, opens and carries the right fingerprint, and
  scenes that failed before unless ``retry_failed``.
* **Isolation**: a scene that fails (unreadable, wrong bands, a worker crash that
  Dask's retries could not overcome) is recorded with its one-line error; the
  others go on. A worker killed mid-scene is replaced by Dask rescheduling the
  scene on another worker; the killed attempt's temporary file is removed.
* At the end: ``footprints.gpkg`` (one polygon per output, EPSG:4326) and, for
  STAC input, ``outputs.stac.json`` (an ItemCollection of the outputs).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.util import find_spec
from typing import Any

from geo2map.errors import Geo2MapError, InputError, OutputError, one_line
from geo2map.raster.safety import remove_stale_temps, same_or_inside

MANIFEST = "geo2map-batch.sqlite"
FOOTPRINTS = "footprints.gpkg"
STAC_OUT = "outputs.stac.json"
KEY_TAG = "GEO2MAP_BATCH_KEY"
RASTER_EXT = (".tif", ".tiff", ".vrt", ".jp2", ".img", ".nc", ".hdf", ".h5", ".safe", ".dim")


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------
@dataclass
class Scene:
    """One input raster and where its output goes."""

    name: str  # output path relative to the output folder (also the manifest key)
    src: str  # path or GDAL-readable URL
    item: dict[str, Any] | None = None  # the STAC item (as a dict) it came from
    asset: str | None = None


def _is_raster_name(path: str) -> bool:
    return path.lower().endswith(RASTER_EXT)


def _out_name(rel: str) -> str:
    stem, ext = os.path.splitext(rel)
    return stem + ".tif" if ext.lower() != ".tif" else rel


def _stac_scenes(path: str, asset: str | None) -> list[Scene]:
    import pystac

    try:
        return _stac_items(path, asset)
    except Geo2MapError:
        raise
    except (pystac.STACError, pystac.STACTypeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path} is not a valid STAC document: {one_line(exc, 200)}") from None


def _stac_items(path: str, asset: str | None) -> list[Scene]:
    import pystac

    with open(path) as f:
        doc = json.load(f)
    if doc.get("type") == "FeatureCollection":
        items = list(pystac.ItemCollection.from_dict(doc, preserve_dict=True))
        base = os.path.dirname(os.path.abspath(path))
        for it in items:  # hrefs in a bare ItemCollection are relative to the file
            for a in it.assets.values():
                if not (os.path.isabs(a.href) or "://" in a.href):
                    a.href = os.path.normpath(os.path.join(base, a.href))
    elif doc.get("type") in ("Catalog", "Collection"):
        cat = pystac.read_file(path)
        items = list(cat.get_items(recursive=True))  # type: ignore[union-attr]
    elif doc.get("type") == "Feature":
        items = [pystac.Item.from_file(path)]
    else:
        raise InputError(f"{path} is JSON but not a STAC ItemCollection, Catalog, Collection or Item")
    scenes = []
    for it in items:
        key = asset or _default_asset(it)
        if key not in it.assets:
            raise InputError(
                f"STAC item {it.id} has no asset {key!r} (it has {', '.join(it.assets)}); choose one with asset=KEY"
            )
        href = it.assets[key].get_absolute_href() or it.assets[key].href
        scenes.append(Scene(name=_out_name(it.id), src=href, item=it.to_dict(), asset=key))
    return scenes


def _default_asset(item: Any) -> str:
    for key, a in item.assets.items():
        if "data" in (a.roles or []):
            return str(key)
    for key, a in item.assets.items():
        if (a.media_type or "").startswith("image/tiff") or _is_raster_name(a.href):
            return str(key)
    raise InputError(f"STAC item {item.id}: no data asset found; choose one with asset=KEY")


def collect_inputs(inputs: Sequence[str], asset: str | None = None) -> list[Scene]:
    """Expand folders, globs, lists of paths and STAC documents into scenes with unique output names."""
    scenes: list[Scene] = []
    for inp in inputs:
        if os.path.isdir(inp):
            root = os.path.abspath(inp)
            found = sorted(
                os.path.join(d, f)
                for d, _, files in os.walk(root)
                for f in files
                if _is_raster_name(f) and not f.startswith(".")
            )
            scenes += [Scene(_out_name(os.path.relpath(p, root)), p) for p in found]
        elif os.path.isfile(inp) and inp.lower().endswith(".json"):
            scenes += _stac_scenes(inp, asset)
        elif os.path.isfile(inp) and inp.lower().endswith((".txt", ".lst", ".list")):
            base = os.path.dirname(os.path.abspath(inp))
            with open(inp) as f:
                for line in f:
                    p = line.strip()
                    if p and not p.startswith("#"):
                        p = p if os.path.isabs(p) or "://" in p else os.path.join(base, p)
                        scenes.append(Scene(_out_name(os.path.basename(p)), p))
        elif os.path.isfile(inp):
            scenes.append(Scene(_out_name(os.path.basename(inp)), os.path.abspath(inp)))
        elif inp.startswith("/vsi") or "://" in inp:  # a GDAL virtual path or URL: one raster
            name = inp.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or "scene"
            scenes.append(Scene(_out_name(name), inp))
        elif any(c in inp for c in "*?["):
            matches = sorted(m for m in glob.glob(inp, recursive=True) if os.path.isfile(m))
            if not matches:
                raise InputError(f"the pattern {inp!r} matches no file")
            scenes += [Scene(_out_name(os.path.basename(m)), os.path.abspath(m)) for m in matches]
        else:
            raise InputError(f"input {inp!r} is not a file, folder, glob, list of paths or STAC document")
    if not scenes:
        raise InputError("no input raster found")
    seen: dict[str, str] = {}
    for s in scenes:
        if s.name in seen and seen[s.name] != s.src:
            raise InputError(
                f"{seen[s.name]} and {s.src} would both be written to {s.name}; rename or batch them apart"
            )
        seen[s.name] = s.src
    unique = {s.name: s for s in scenes}
    return list(unique.values())


# ---------------------------------------------------------------------------
# manifest
# ---------------------------------------------------------------------------
class Manifest:
    """SQLite record of a batch in its output folder (written by the batch process only)."""

    def __init__(self, path: str) -> None:
        self.path = path
        with self._errors():
            self._open()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """sqlite's errors (a full disk: "database or disk is full") as one-line output errors; a
        failed write is rolled back, so the manifest keeps its last good state."""
        try:
            yield
        except sqlite3.Error as exc:
            try:
                self.db.rollback()
            except (sqlite3.Error, AttributeError):
                pass
            raise OutputError(f"cannot update the batch manifest {self.path}: {exc}") from None

    def _open(self) -> None:
        self.db = sqlite3.connect(self.path)
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS scenes (
                name TEXT PRIMARY KEY, src TEXT, key TEXT, state TEXT, error TEXT,
                attempts INTEGER DEFAULT 0, seconds REAL, tiles INTEGER, worker TEXT, model_loads INTEGER,
                updated REAL);
            CREATE TABLE IF NOT EXISTS events (
                name TEXT, state TEXT, error TEXT, worker TEXT, seconds REAL, at REAL);
            """
        )
        self.db.commit()

    def get(self, name: str) -> dict[str, Any] | None:
        cur = self.db.execute("SELECT name, src, key, state, error, attempts FROM scenes WHERE name = ?", (name,))
        row = cur.fetchone()
        return dict(zip(("name", "src", "key", "state", "error", "attempts"), row, strict=True)) if row else None

    def set(self, name: str, src: str, key: str, state: str, **fields: Any) -> None:
        with self._errors():
            self._set(name, src, key, state, fields)

    def _set(self, name: str, src: str, key: str, state: str, fields: dict[str, Any]) -> None:
        now = time.time()
        row = self.get(name)
        attempts = (row["attempts"] if row else 0) + (1 if state == "running" else 0)
        self.db.execute(
            "INSERT OR REPLACE INTO scenes (name, src, key, state, error, attempts, seconds, tiles, worker, "
            "model_loads, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                src,
                key,
                state,
                fields.get("error"),
                attempts,
                fields.get("seconds"),
                fields.get("tiles"),
                fields.get("worker"),
                fields.get("model_loads"),
                now,
            ),
        )
        if state in ("done", "failed", "skipped"):
            self.db.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
                (name, state, fields.get("error"), fields.get("worker"), fields.get("seconds"), now),
            )
        self.db.commit()

    def states(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT name, state FROM scenes").fetchall())

    def close(self) -> None:
        self.db.close()


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


# ---------------------------------------------------------------------------
# the batch (runs in the client)
# ---------------------------------------------------------------------------
def _model_fingerprint(model: str) -> str:
    from geo2map.models.registry import IDENTITY, resolve

    if model == IDENTITY:
        return IDENTITY
    path = resolve(model)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _scene_key(src: str, model_fp: str, options: dict[str, Any]) -> str:
    try:
        st = os.stat(src)
        stamp: list[Any] = [os.path.abspath(src), st.st_size, st.st_mtime_ns]
    except OSError:
        stamp = [src]  # a URL: its name only
    blob = json.dumps([stamp, model_fp, sorted(options.items())], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def output_is_complete(dst: str, key: str) -> bool:
    """True when ``dst`` opens as a raster and was written by this batch configuration."""
    if not os.path.isfile(dst):
        return False
    try:
        import rasterio

        with rasterio.open(dst) as ds:
            return bool(ds.tags().get(KEY_TAG) == key and ds.width > 0 and ds.height > 0)
    except Exception:  # noqa: BLE001 - unreadable = not complete
        return False


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
    from distributed import as_completed

    t0 = time.perf_counter()
    say = log or (lambda _msg: None)
    options = dict(translate_options or {})
    out_dir = os.path.abspath(out_dir)
    for item in inputs:  # an output folder inside an input folder: the next run translates its outputs
        if os.path.isdir(item) and same_or_inside(out_dir, item):
            raise InputError(f"the output folder {out_dir} lies inside the input folder {item}; choose one outside")
    scenes = collect_inputs(inputs, asset)
    model_arg = model if not os.path.exists(model) else os.path.abspath(model)
    model_fp = _model_fingerprint(model_arg)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {out_dir}: {exc.strerror}") from None
    manifest = Manifest(os.path.join(out_dir, MANIFEST))
    summary = BatchSummary(out_dir)
    todo: list[tuple[Scene, str, str]] = []
    for sc in scenes:
        dst = os.path.join(out_dir, sc.name)
        key = _scene_key(sc.src, model_fp, options)
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
    total = len(scenes)
    finished = len(summary.skipped) + len(summary.failed)
    if progress:
        progress(finished, total)
    device = options.get("device", "auto")
    if not scheduler:  # a local cluster: a device this machine lacks fails once, here, not once per scene
        from geo2map.inference import check_device

        check_device(model, device)
    gpu = _wants_gpu(device)
    if todo:
        client, cluster, torch_threads = _client(scheduler, workers, threads, gpu and not scheduler)
        try:
            summary.dashboard = client.dashboard_link if client.dashboard_link else None
            if summary.dashboard:
                say(f"Dask dashboard: {summary.dashboard}")
            resources = {"GPU": 1} if gpu else None
            futures = {}
            for sc, dst, key in todo:
                manifest.set(sc.name, sc.src, key, "running")
                fut = client.submit(
                    translate_scene,
                    sc.src,
                    dst,
                    model_arg,
                    options,
                    key,
                    torch_threads,
                    key=f"geo2map-{sc.name}-{key[:12]}",
                    pure=False,
                    resources=resources,
                )
                futures[fut] = (sc, dst, key)
            for fut in as_completed(futures):
                sc, dst, key = futures[fut]
                try:
                    res = fut.result()
                except Exception as exc:  # noqa: BLE001 - KilledWorker, cancelled: the scene fails alone
                    res = {"state": "failed", "error": f"{type(exc).__name__}: {one_line(exc)}"}
                if res["state"] == "done":
                    summary.done.append(sc.name)
                else:
                    remove_stale_temps(dst, only_dead=False)
                    summary.failed[sc.name] = res["error"]
                manifest.set(sc.name, sc.src, key, res["state"], **{k: v for k, v in res.items() if k != "state"})
                finished += 1
                if progress:
                    progress(finished, total)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    done_scenes = [sc for sc in scenes if sc.name in set(summary.done) | set(summary.skipped)]
    write_footprints(out_dir, done_scenes, model)
    if any(sc.item for sc in scenes):
        write_stac(out_dir, done_scenes, model, options)
    manifest.close()
    summary.seconds = time.perf_counter() - t0
    return summary


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


# ---------------------------------------------------------------------------
# outputs index
# ---------------------------------------------------------------------------
def _footprint(path: str) -> tuple[Any, dict[str, Any]]:
    import rasterio
    from rasterio.warp import transform_geom
    from shapely.geometry import box, shape

    with rasterio.open(path) as ds:
        geom = box(*ds.bounds)
        if ds.crs is not None:  # densified so the outline stays true after reprojection
            edge = max(geom.bounds[2] - geom.bounds[0], geom.bounds[3] - geom.bounds[1]) / 20
            geom = shape(transform_geom(ds.crs, "EPSG:4326", geom.segmentize(edge).__geo_interface__))
        attrs = {
            "crs": ds.crs.to_string() if ds.crs else "",
            "width": ds.width,
            "height": ds.height,
            "count": ds.count,
            "dtype": ds.dtypes[0],
        }
    return geom, attrs


def write_footprints(out_dir: str, scenes: Iterable[Scene], model: str) -> str | None:
    """``OUT_DIR/footprints.gpkg``: one EPSG:4326 polygon per output, with its name, source and grid."""
    import geopandas as gpd
    from rasterio.errors import RasterioError

    rows = []
    for sc in scenes:
        dst = os.path.join(out_dir, sc.name)
        try:
            geom, attrs = _footprint(dst)
        except (OSError, RasterioError):  # a vanished output is simply not indexed
            continue
        rows.append({"name": sc.name, "path": dst, "source": sc.src, "model": model, **attrs, "geometry": geom})
    path = os.path.join(out_dir, FOOTPRINTS)
    if not rows:
        return None
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    tmp = path + ".tmp.gpkg"
    gdf.to_file(tmp, layer="footprints", driver="GPKG", engine="pyogrio")
    os.replace(tmp, path)
    return path


def write_stac(out_dir: str, scenes: Iterable[Scene], model: str, options: dict[str, Any]) -> str:
    """``OUT_DIR/outputs.stac.json``: an ItemCollection with one item per output (STAC inputs)."""
    import pystac
    from rasterio.errors import RasterioError
    from shapely.geometry import mapping

    items = []
    for sc in scenes:
        if not sc.item:
            continue
        dst = os.path.join(out_dir, sc.name)
        try:
            geom, attrs = _footprint(dst)
        except (OSError, RasterioError):
            continue
        src_item = pystac.Item.from_dict(sc.item)
        props = {k: v for k, v in src_item.properties.items() if k != "datetime"}
        props.update({"geo2map:model": model, "geo2map:source_asset": sc.asset})
        item = pystac.Item(
            id=src_item.id,
            geometry=mapping(geom),
            bbox=list(geom.bounds),
            datetime=src_item.datetime,
            properties=props,
        )
        media = pystac.MediaType.COG if options.get("preset") == "cog" else pystac.MediaType.GEOTIFF
        item.add_asset("data", pystac.Asset(href=sc.name, media_type=media, roles=["data"], title="geo2map output"))
        self_href = src_item.get_self_href()
        if self_href:
            item.add_link(pystac.Link("derived_from", self_href, media_type=pystac.MediaType.JSON))
        items.append(item)
    path = os.path.join(out_dir, STAC_OUT)
    coll = pystac.ItemCollection(items)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(coll.to_dict(transform_hrefs=False), f, indent=1)
    os.replace(tmp, path)
    return path
