"""The QGIS Processing script, run by REAL QGIS (Debian's qgis + python3-qgis, headless)."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
import rasterio
from conftest import DATA, RGB, geo2map_exe, save_tiny_model, smooth_field, write_raster

QGIS_PROCESS = shutil.which("qgis_process.bin") or "/usr/bin/qgis_process.bin"
SYSTEM_PYTHON = "/usr/bin/python3"


def _qgis_env(home: Path) -> dict[str, str]:
    """A clean environment: QGIS's embedded Python must not pick up this virtualenv."""
    return {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_RUNTIME_DIR": str(home / "runtime"),
        "LANG": "C.UTF-8",
    }


@pytest.fixture(scope="module")
def qgis_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not os.path.exists(QGIS_PROCESS):
        pytest.skip("QGIS (Debian qgis, python3-qgis) is not installed")
    home = tmp_path_factory.mktemp("qgis_home")
    (home / "runtime").mkdir(mode=0o700)
    scripts = home / ".local" / "share" / "QGIS" / "QGIS3" / "profiles" / "default" / "processing" / "scripts"
    r = subprocess.run([geo2map_exe(), "qgis", "install", "--dir", str(scripts)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (scripts / "geo2map_translate.py").exists()
    return home


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ResNet reading 8-bit band 1."""
    return save_tiny_model(
        tmp_path_factory.mktemp("model") / "small_qgis.safetensors",
        "small_qgis",
        {"name": "optical_u8", "params": {}},
        seed=1,
    )


def _run_qgis(home: Path, params: dict[str, str]) -> subprocess.CompletedProcess:
    args = [QGIS_PROCESS, "run", "script:geo2map_translate", "--"] + [f"{k}={v}" for k, v in params.items()]
    return subprocess.run(args, capture_output=True, text=True, env=_qgis_env(home), timeout=300)


def test_qgis_process_runs_the_script_like_the_cli(tmp_path: Path, qgis_home: Path, small_model: Path) -> None:
    out = tmp_path / "qgis.tif"
    r = _run_qgis(
        qgis_home,
        {
            "INPUT": str(RGB),
            "MODEL": str(small_model),
            "BANDS": "1",
            "OVERLAP": "24",
            "BLEND": "0",
            "RESAMPLE": "1",  # off: passed on to the command as --resample off
            "DEVICE": "cpu",
            "FORMAT": "1",
            "OUTPUT": str(out),
        },
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "100" in r.stdout
    cli = tmp_path / "cli.tif"
    c = subprocess.run(
        [
            geo2map_exe(),
            "translate",
            str(RGB),
            "--model",
            str(small_model),
            "--bidx",
            "1",
            "--overlap",
            "24",
            "--resample",
            "off",
            "--device",
            "cpu",
            "--cog",
            "-o",
            str(cli),
            "-q",
        ],
        capture_output=True,
    )
    assert c.returncode == 0, c.stderr
    with rasterio.open(RGB) as s, rasterio.open(out) as q, rasterio.open(cli) as c_:
        assert q.crs == s.crs and q.bounds == s.bounds and q.transform == s.transform
        assert q.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        np.testing.assert_array_equal(q.read(), c_.read())  # the same pixels as the CLI
        np.testing.assert_array_equal(q.read_masks(), c_.read_masks())


@pytest.mark.parametrize("model", [None, "sar2rgb.onnx"], ids=["default-torch", "onnx"])
def test_qgis_runs_the_builtin_sar2rgb_on_a_real_sentinel1_scene(
    tmp_path: Path, qgis_home: Path, model: str | None
) -> None:
    """The script's defaults: MODEL sar2rgb (the built-in), the model's tile size and overlap; and its
    ONNX export through onnxruntime."""
    scene = tmp_path / "s1_vh.tif"  # a copy: QGIS writes statistics (.aux.xml) beside a float raster it opens
    shutil.copy(DATA / "s1_vh_sen12_059.tif", scene)
    out, cli = tmp_path / "qgis.tif", tmp_path / "cli.tif"
    params = {"INPUT": str(scene), "DEVICE": "cpu", "OUTPUT": str(out), **({"MODEL": model} if model else {})}
    r = _run_qgis(qgis_home, params)
    assert r.returncode == 0, r.stdout + r.stderr
    c = subprocess.run(
        [geo2map_exe(), "translate", str(scene), "--model", model or "sar2rgb", "--device", "cpu", "-o", str(cli)]
        + ["-q"],
        capture_output=True,
    )
    assert c.returncode == 0, c.stderr
    with rasterio.open(scene) as s, rasterio.open(out) as q, rasterio.open(cli) as c_:
        assert q.crs == s.crs and q.transform == s.transform and q.count == 3
        np.testing.assert_array_equal(q.read(), c_.read())


def test_qgis_reports_geo2map_errors(tmp_path: Path, qgis_home: Path, small_model: Path) -> None:
    out = tmp_path / "bad.tif"
    r = _run_qgis(qgis_home, {"INPUT": str(RGB), "MODEL": str(small_model), "OUTPUT": str(out)})  # 3 bands, needs 1
    assert r.returncode != 0
    assert "expects 1 input band" in r.stdout + r.stderr
    assert not out.exists()


DRIVER_PREAMBLE = """
import importlib.util, sys
from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingFeedback, QgsRasterLayer
app = QgsApplication([], False)
app.initQgis()
spec = importlib.util.spec_from_file_location("g2m_script", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
alg = mod.Geo2MapTranslate().create()
"""


def _run_pyqgis(tmp_path: Path, qgis_home: Path, body: str, marker: str, *args: str) -> str:
    """Run the installed script's algorithm in PyQGIS (system Python): DRIVER_PREAMBLE + ``body``,
    with ``sys.argv[1:]`` = script, ``*args``; return the stdout line starting with ``marker``."""
    if subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], env=_qgis_env(qgis_home)).returncode != 0:
        pytest.skip("PyQGIS is not importable by the system Python")
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER_PREAMBLE + textwrap.dedent(body))
    script = next((qgis_home / ".local").rglob("geo2map_translate.py"))
    r = subprocess.run(
        [SYSTEM_PYTHON, str(driver), str(script), *args],
        capture_output=True,
        text=True,
        env=_qgis_env(qgis_home),
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return next(ln for ln in r.stdout.splitlines() if ln.startswith(marker))


CANCEL_DRIVER = """
class CancelAfterProgress(QgsProcessingFeedback):
    def isCanceled(self):  # the user presses Cancel once work is under way
        return self.progress() > 0 or super().isCanceled()

feedback = CancelAfterProgress()
params = {"INPUT": sys.argv[2], "MODEL": sys.argv[3], "OUTPUT": sys.argv[4], "DEVICE": "cpu"}
results, ok = alg.run(params, QgsProcessingContext(), feedback)
print("RESULT", ok, sorted(results or {}), feedback.progress())
app.exitQgis()
"""


def test_cancel_stops_geo2map_and_leaves_no_output(tmp_path: Path, qgis_home: Path, small_model: Path) -> None:
    rng = np.random.default_rng(0)
    scene = write_raster(tmp_path / "big.tif", (smooth_field(rng, 1, 2500, 2500) * 255).astype("uint8"))
    outdir = tmp_path / "out"
    outdir.mkdir()
    line = _run_pyqgis(
        tmp_path, qgis_home, CANCEL_DRIVER, "RESULT", str(scene), str(small_model), str(outdir / "out.tif")
    )
    assert "RESULT True []" in line, line  # canceled: no OUTPUT reported
    assert float(line.split()[-1]) < 100  # stopped before the end
    assert os.listdir(outdir) == []  # no output, no temporary file
    ps = subprocess.run(["pgrep", "-f", str(outdir)], capture_output=True, text=True)
    assert ps.stdout.strip() == "", "geo2map still running after cancel"


LOAD_DRIVER = """
params = {"INPUT": sys.argv[2], "MODEL": sys.argv[3], "BANDS": "1", "OUTPUT": sys.argv[4], "DEVICE": "cpu"}
results, ok = alg.run(params, QgsProcessingContext(), QgsProcessingFeedback())
src, out = QgsRasterLayer(sys.argv[2], "in"), QgsRasterLayer(results["OUTPUT"], "out")
print("LOADED", ok, out.isValid(), out.crs() == src.crs(), out.crs().authid(), out.extent() == src.extent(),
      out.bandCount() >= 3, flush=True)
del src, out  # layers must go before QGIS shuts down
app.exitQgis()
"""


def test_result_loads_as_a_layer_with_the_inputs_crs(tmp_path: Path, qgis_home: Path, small_model: Path) -> None:
    line = _run_pyqgis(tmp_path, qgis_home, LOAD_DRIVER, "LOADED", str(RGB), str(small_model), str(tmp_path / "o.tif"))
    assert line == "LOADED True True True EPSG:32618 True True", line
