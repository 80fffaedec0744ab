"""geo2map batch on a REAL Dask cluster (scheduler + workers on 127.0.0.1): a killed worker,
a killed batch process, a corrupt scene, STAC in and out, the embedded LocalCluster."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from conftest import DATA, GRD, RGB, SLC, geo2map_exe, save_tiny_model, smooth_field, write_raster

from geo2map.batch import MANIFEST, collect_inputs, run_batch
from geo2map.errors import InputError

pytest.importorskip("distributed")
DASK = Path(sys.executable).parent / "dask"


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ResNet (1 band → RGB, 64-px tiles), random weights: any scene's band 1 goes in."""
    return save_tiny_model(
        tmp_path_factory.mktemp("model") / "tiny_batch.safetensors",
        "tiny_batch",
        {"name": "sar", "params": {"input": "amplitude", "method": "quantile"}},
        seed=0,
    )


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """13 good scenes (real: Landsat 7, S1 GRD and SLC with GCPs, 6 BigEarthNet S1; generated:
    4 float32 fields, one in a sub-folder) and one corrupt file."""
    root = tmp_path_factory.mktemp("archive")
    for f in (RGB, GRD, SLC, *sorted((DATA / "bigearthnet" / "A").glob("*.tif"))):
        shutil.copy(f, root / f.name)
    rng = np.random.default_rng(5)
    (root / "generated").mkdir()
    for i in range(4):
        folder = root / "generated" if i == 3 else root
        data = (smooth_field(rng, 1, 700, 640) * 100 + 1).astype("float32")
        write_raster(folder / f"field_{i}.tif", data, crs=f"EPSG:{32630 + i}")
    (root / "corrupt.tif").write_bytes(b"II*\x00 this is not a GeoTIFF" * 10)
    return root


GOOD = 13


def _wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Cluster:
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1."""

    def __init__(self, tmp: Path, workers: int) -> None:
        if not DASK.exists():
            pytest.skip("the dask command is not installed")
        self.file = tmp / "scheduler.json"
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        self.scheduler = subprocess.Popen(
            [
                str(DASK),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(self.file),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        _wait_for(self.file.exists, 60, "the scheduler file")
        self.address = json.loads(self.file.read_text())["address"]
        self.workers = [
            subprocess.Popen(
                [
                    str(DASK),
                    "worker",
                    self.address,
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--name",
                    f"w{i}",
                    "--no-dashboard",
                    "--death-timeout",
                    "60",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            for i in range(workers)
        ]
        from distributed import Client

        with Client(self.address, timeout="30s") as c:
            c.wait_for_workers(workers, timeout=60)

    def close(self) -> None:
        for p in [*self.workers, self.scheduler]:
            if p.poll() is None:
                p.terminate()
        for p in [*self.workers, self.scheduler]:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture
def cluster(tmp_path: Path):
    c = Cluster(tmp_path, 2)
    yield c
    c.close()


def _batch_cmd(archive: Path, out: Path, model: Path, *extra: str) -> list[str]:
    return [
        geo2map_exe(),
        "batch",
        str(archive),
        "-o",
        str(out),
        "--model",
        str(model),
        "--bidx",
        "1",
        "--precision",
        "fp32",
        "-q",
        *extra,
    ]


def _events(out: Path) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(out / MANIFEST) as db:
        return db.execute("SELECT name, state, error FROM events ORDER BY at").fetchall()


def _done(out: Path) -> int:
    if not (out / MANIFEST).exists():
        return 0
    try:
        return sum(1 for _, state, _ in _events(out) if state == "done")
    except sqlite3.OperationalError:  # locked or being created
        return 0


def _check_complete(out: Path, archive: Path) -> None:
    events = _events(out)
    done = [n for n, s, _ in events if s == "done"]
    assert sorted(done) == sorted(set(done)), "a scene completed twice"
    assert len(set(done)) == GOOD
    failed = {n: e for n, s, e in events if s == "failed"}
    assert list(failed) == ["corrupt.tif"] and "not a raster" in failed["corrupt.tif"]
    for name in done:
        with rasterio.open(out / name) as ds, rasterio.open(archive / name) as src:
            assert ds.count == 3 and ds.tags()["GEO2MAP_MODEL"] == "tiny_batch"
            if src.crs is not None:  # GCP-only sources are warped
                assert ds.crs == src.crs and ds.transform == src.transform
    assert not list(out.rglob("*geo2map-tmp*")), "temporary files left behind"
    import geopandas as gpd

    assert len(gpd.read_file(out / "footprints.gpkg")) == GOOD


def _pixels(out: Path) -> dict[str, np.ndarray]:
    res = {}
    for p in sorted(out.rglob("*.tif")):
        with rasterio.open(p) as ds:
            res[str(p.relative_to(out))] = ds.read()
    return res


# ---------------------------------------------------------------------------
# tests on the real cluster
# ---------------------------------------------------------------------------
def test_a_worker_killed_mid_run(tmp_path: Path, cluster: Cluster, archive: Path, tiny_model: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        _batch_cmd(archive, out, tiny_model, "--scheduler", cluster.address), stderr=subprocess.PIPE, text=True
    )
    _wait_for(lambda: _done(out) >= 2 or proc.poll() is not None, 180, "two finished scenes")
    assert proc.poll() is None, "the batch finished before a worker could be killed"
    cluster.workers[0].send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err  # the corrupt scene failed, alone
    assert "failed  corrupt.tif" in err
    _check_complete(out, archive)


def test_batch_killed_then_rerun(tmp_path: Path, cluster: Cluster, archive: Path, tiny_model: Path) -> None:
    ref = tmp_path / "reference"
    r = subprocess.run(_batch_cmd(archive, ref, tiny_model, "--scheduler", cluster.address), capture_output=True)
    assert r.returncode == 1, r.stderr

    out = tmp_path / "out"
    proc = subprocess.Popen(_batch_cmd(archive, out, tiny_model, "--scheduler", cluster.address))
    _wait_for(lambda: _done(out) >= 3 or proc.poll() is not None, 180, "three finished scenes")
    assert proc.poll() is None, "the batch finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(3)  # tasks still running when the client vanished may finish: that is fine
    finished = {n for n, s, _ in _events(out) if s == "done"}
    stamps = {n: (out / n).stat().st_mtime_ns for n in finished}
    assert len(finished) < GOOD

    r = subprocess.run(
        _batch_cmd(archive, out, tiny_model, "--scheduler", cluster.address), capture_output=True, text=True
    )
    assert r.returncode == 1, r.stderr
    done, skipped = (int(x) for x in re.match(r"(\d+) done, (\d+) skipped", r.stdout).groups())
    # scenes running when the client vanished may have finished after it: they are complete, so skipped too
    assert skipped >= len(finished) and done + skipped == GOOD, r.stdout
    for n, stamp in stamps.items():  # finished scenes were not redone
        assert (out / n).stat().st_mtime_ns == stamp, n
    with sqlite3.connect(out / MANIFEST) as db:
        assert dict(db.execute("SELECT name, state FROM scenes")) == {
            **{n: "done" for n in _pixels(ref)},
            "corrupt.tif": "failed",
        }
    a, b = _pixels(ref), _pixels(out)
    assert a.keys() == b.keys() and len(a) == GOOD
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)  # identical to the uninterrupted run
    assert not list(out.rglob("*geo2map-tmp*"))


# ---------------------------------------------------------------------------
# embedded LocalCluster, STAC, inputs, retry
# ---------------------------------------------------------------------------
def test_embedded_cluster_stac_in_and_out_and_retry(tmp_path: Path, tiny_model: Path, archive: Path) -> None:
    import pystac

    src = tmp_path / "src"
    src.mkdir()
    items = []
    for name in ("RGB.byte.tif", "field_0.tif", "corrupt.tif"):
        shutil.copy(archive / name, src / name)
        it = pystac.Item(
            id=name.split(".")[0],
            geometry={"type": "Point", "coordinates": [0, 0]},
            bbox=[0, 0, 0, 0],
            datetime=pystac.utils.str_to_datetime("2024-05-01T10:00:00Z"),
            properties={"platform": "test"},
        )
        it.add_asset("image", pystac.Asset(href=str(src / name), media_type=pystac.MediaType.GEOTIFF, roles=["data"]))
        it.add_asset("thumbnail", pystac.Asset(href="thumb.png", media_type=pystac.MediaType.PNG))
        items.append(it)
    stac = tmp_path / "items.json"
    stac.write_text(json.dumps(pystac.ItemCollection(items).to_dict()))
    out = tmp_path / "out"
    messages: list[str] = []
    summary = run_batch(
        [str(stac)],
        str(out),
        str(tiny_model),
        workers=1,
        translate_options={"bidx": "1", "precision": "fp32"},
        log=messages.append,
    )
    assert sorted(summary.done) == ["RGB.tif", "field_0.tif"] and list(summary.failed) == ["corrupt.tif"]
    assert any(m.startswith("Dask dashboard: http") for m in messages)
    coll = json.loads((out / "outputs.stac.json").read_text())
    assert sorted(f["id"] for f in coll["features"]) == ["RGB", "field_0"]
    feat = next(f for f in coll["features"] if f["id"] == "RGB")
    assert feat["assets"]["data"]["href"] == "RGB.tif" and feat["properties"]["platform"] == "test"
    assert feat["properties"]["datetime"].startswith("2024-05-01")
    assert -80 < feat["bbox"][0] < -70  # the Landsat scene's real footprint (lon/lat), not the input's dummy point
    with sqlite3.connect(out / MANIFEST) as db:  # one model load per worker process, not per scene
        assert {n for (n,) in db.execute("SELECT model_loads FROM scenes WHERE state = 'done'")} == {1}

    # the corrupt scene is not retried by default; it is with retry_failed once it is fixed
    shutil.copy(archive / "field_1.tif", src / "corrupt.tif")  # fixed in place
    again = run_batch(
        [str(stac)], str(out), str(tiny_model), workers=1, translate_options={"bidx": "1", "precision": "fp32"}
    )
    assert list(again.failed) == ["corrupt.tif"] and not again.done
    again = run_batch(
        [str(stac)],
        str(out),
        str(tiny_model),
        workers=1,
        retry_failed=True,
        translate_options={"bidx": "1", "precision": "fp32"},
    )
    assert again.done == ["corrupt.tif"] and again.ok


def test_input_forms(tmp_path: Path, archive: Path) -> None:
    folder = {s.name for s in collect_inputs([str(archive)])}
    assert "generated/field_3.tif" in folder and len(folder) == GOOD + 1  # mirrored sub-folder
    listing = tmp_path / "scenes.txt"
    listing.write_text(f"# two scenes\n{archive / 'RGB.byte.tif'}\n\n{archive / 'field_0.tif'}\n")
    assert [s.name for s in collect_inputs([str(listing)])] == ["RGB.byte.tif", "field_0.tif"]
    assert len(collect_inputs([str(archive / "29*.tif")])) == 3
    (tmp_path / "x").mkdir()
    shutil.copy(archive / "field_0.tif", tmp_path / "x")
    with pytest.raises(InputError, match="both be written"):
        collect_inputs([str(archive / "field_0.tif"), str(tmp_path / "x" / "field_0.tif")])
    urls = collect_inputs(["/vsis3/bucket/s1/scene_a.tif", "https://example.org/data/scene_b.TIF?sig=1"])
    assert [(s.name, s.src) for s in urls] == [
        ("scene_a.tif", "/vsis3/bucket/s1/scene_a.tif"),
        ("scene_b.TIF", "https://example.org/data/scene_b.TIF?sig=1"),  # names mirrored as they are
    ]
    with pytest.raises(InputError, match="matches no file"):
        collect_inputs([str(tmp_path / "*.nothing")])


def test_cli_one_line_errors(tmp_path: Path, runner, tiny_model: Path) -> None:
    from geo2map.cli.main import cli

    res = runner.invoke(cli, ["batch", str(tmp_path / "missing"), "-o", str(tmp_path / "o"), "--model", "identity"])
    assert res.exit_code == 1 and res.output.startswith("Error: ") and "Traceback" not in res.output
    res = runner.invoke(
        cli, ["batch", str(RGB), "-o", str(tmp_path / "o"), "--model", "identity", "--scheduler", "tcp://127.0.0.1:9"]
    )
    assert res.exit_code == 1 and "Dask scheduler" in res.output
    if not torch.cuda.is_available():
        res = runner.invoke(
            cli, ["batch", str(RGB), "-o", str(tmp_path / "o"), "--model", "identity", "--device", "cuda"]
        )
        assert res.exit_code == 1 and "CUDA is not available" in res.output
