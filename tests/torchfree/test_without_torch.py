"""The torch-free install (``pip install geo2map[onnx]``): translate, tile, mosaic and batch with ONNX models.

These run in a virtualenv without torch (``.ci/run`` makes one); where torch is importable
they skip, and tests/test_onnx.py checks the same paths with torch blocked instead.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import numpy as np
import pytest
import rasterio
from conftest import DATA, RGB, geo2map_exe

pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed here")

SEN12 = DATA / "s1_vh_sen12_059.tif"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([geo2map_exe(), *args], capture_output=True, text=True, timeout=600)


def test_builtin_translates_through_onnxruntime(tmp_path: Path) -> None:
    out = tmp_path / "sar2rgb.tif"
    r = _run("translate", str(SEN12), "--model", "sar2rgb", "-o", str(out), "-q")
    assert r.returncode == 0, r.stderr
    with rasterio.open(SEN12) as s, rasterio.open(out) as o:
        assert (o.crs, o.transform, o.width, o.height) == (s.crs, s.transform, s.width, s.height)
        assert o.count == 3 and o.read().std() > 5
    r = _run("models", "info", "sar2rgb")
    assert r.returncode == 0 and "receptive field" in r.stdout


def test_tile_mosaic_and_batch(tmp_path: Path) -> None:
    r = _run("tile", str(RGB), str(tmp_path / "tiles"), "--size", "256", "--overlap", "64", "-q")
    assert r.returncode == 0, r.stderr
    r = _run("mosaic", str(tmp_path / "tiles"), str(tmp_path / "m.tif"), "-q")
    assert r.returncode == 0, r.stderr
    with rasterio.open(RGB) as a, rasterio.open(tmp_path / "m.tif") as b:
        assert np.array_equal(a.read(), b.read())
    r = _run("batch", str(SEN12), "--model", "sar2rgb", "-o", str(tmp_path / "batch"), "--workers", "1", "-q")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "batch" / SEN12.name).exists()


def test_torch_commands_say_what_to_install(tmp_path: Path) -> None:
    builtin = Path(__file__).resolve().parents[2] / "geo2map" / "models" / "builtin" / "sar2rgb.safetensors"
    for args in (
        ["translate", str(SEN12), "--model", str(builtin), "-o", str(tmp_path / "x.tif")],
        ["train", "--data", str(tmp_path), "--out", str(tmp_path / "run")],
        ["models", "export", "sar2rgb", "-o", str(tmp_path / "x.onnx")],
    ):
        r = _run(*args)
        assert r.returncode == 1 and "pip install 'geo2map[" in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr
    assert not list(tmp_path.glob("x.*"))
