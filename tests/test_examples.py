"""Each example in examples/ runs (at a small size) and writes its PNG figure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str) -> str:
    r = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args], capture_output=True, text=True, timeout=600, cwd=ROOT
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def _figure(stdout: str) -> Path:
    path = Path(stdout.strip().split()[-1])
    assert path.suffix == ".png" and path.stat().st_size > 10_000, stdout
    return path


def test_translate_sar(tmp_path: Path) -> None:
    _figure(_run("translate_sar.py", "--out", str(tmp_path)))  # the built-in sar2rgb, by default
    assert (tmp_path / "sar_rgb.tif").exists()


def test_train_tahoe(tmp_path: Path) -> None:
    _figure(_run("train_tahoe.py", "--epochs", "1", "--out", str(tmp_path)))
    assert (tmp_path / "run" / "model.safetensors").exists() and (tmp_path / "tahoe_pred.tif").exists()


def test_batch_folder(tmp_path: Path) -> None:
    out = _run("batch_folder.py", "--workers", "1", "--out", str(tmp_path))
    assert "6 done" in out
    _figure(out)


def test_evaluate_model(tmp_path: Path) -> None:
    out = _run("evaluate_model.py", "--out", str(tmp_path))
    _figure(out)
    assert (tmp_path / "report.json").exists() and (tmp_path / "samples.png").exists()
