"""Nothing lost, nothing destroyed: a full disk, quick-looks, output folders around inputs, and what a
killed run leaves behind. Real processes, a real tmpfs (as root; skipped otherwise)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import rasterio
from conftest import RGB, geo2map_exe, write_raster

from geo2map.raster.safety import remove_stale_temps, stale_temps


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([geo2map_exe(), *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.fixture
def full_disk(tmp_path: Path):
    """A 2 MB tmpfs: any output bigger than that fills it."""
    mnt = tmp_path / "full"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    yield mnt
    if subprocess.run(["umount", str(mnt)], capture_output=True).returncode:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)  # still busy: detach it


@pytest.fixture
def big(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    return write_raster(tmp_path / "big.tif", rng.integers(0, 255, (3, 1500, 1500)).astype("uint8"))


def _one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr[-2000:]
    return lines[0]


@pytest.mark.parametrize("options", [[], ["--format", "zstd"], ["--cog"]], ids=["deflate", "zstd", "cog"])
def test_a_full_disk_is_an_error_and_leaves_nothing(full_disk: Path, big: Path, options: list[str]) -> None:
    out = full_disk / "out.tif"
    r = _run("translate", big, "-m", "identity", "-o", out, "-q", *options)
    assert r.returncode == 1
    assert "no space left" in _one_error_line(r.stderr)
    assert os.listdir(full_disk) == []  # no truncated output, no temporary file


def test_a_full_disk_in_mosaic_and_batch(full_disk: Path, big: Path, tmp_path: Path) -> None:
    assert _run("tile", big, tmp_path / "tiles", "-q").returncode == 0
    r = _run("mosaic", tmp_path / "tiles", full_disk / "m.tif", "-q")
    assert r.returncode == 1 and "no space left" in _one_error_line(r.stderr)
    assert os.listdir(full_disk) == []
    r = _run("batch", big, "-m", "identity", "-o", full_disk / "b", "-q", "--workers", "1")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert os.listdir(full_disk / "b") == ["geo2map-batch.sqlite"]  # the scene failed; the manifest survives
    import sqlite3

    db = sqlite3.connect(full_disk / "b" / "geo2map-batch.sqlite")
    try:
        ((state, error),) = db.execute("SELECT state, error FROM scenes").fetchall()
    finally:
        db.close()
    assert state == "failed" and "no space left" in error


def test_quicklook_never_replaces_an_input_the_output_or_an_existing_file(tmp_path: Path) -> None:
    src = tmp_path / "src.tif"
    shutil.copy(RGB, src)
    before = src.read_bytes()
    out = tmp_path / "out.tif"
    for args in (
        ["translate", src, "-m", "identity", "-o", out, "--quicklook", src],
        ["translate", src, "-m", "identity", "-o", out, "--quicklook", out, "--overwrite"],
        ["tile", src, tmp_path / "tiles", "--quicklook", src],
    ):
        r = _run(*args)
        assert r.returncode == 1 and "quick-look" in _one_error_line(r.stderr), args
    assert src.read_bytes() == before and not out.exists()
    png = tmp_path / "q.png"
    png.write_bytes(b"mine")
    r = _run("translate", src, "-m", "identity", "-o", out, "--quicklook", png)
    assert r.returncode == 1 and "exists" in _one_error_line(r.stderr)
    assert png.read_bytes() == b"mine" and not out.exists()  # refused before any work
    assert _run("translate", src, "-m", "identity", "-o", out, "--quicklook", png, "--overwrite").returncode == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _run("tile", src, tmp_path / "t", "--quicklook", tmp_path / "t.png", "-q").returncode == 0
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in tmp_path.iterdir() if "geo2map-tmp" in p.name]


def test_an_output_folder_around_an_input_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    src = folder / "src.tif"
    shutil.copy(RGB, src)
    r = _run("tile", src, folder, "--overwrite")
    assert r.returncode == 1 and "contains the input" in _one_error_line(r.stderr)
    assert src.exists()
    r = _run("batch", folder, "-m", "identity", "-o", folder / "translated")
    assert r.returncode == 1 and "inside the input folder" in _one_error_line(r.stderr)
    r = _run("augment", "-m", "identity", folder, folder / "aug")
    assert r.returncode == 1 and "outside the input folder" in _one_error_line(r.stderr)
    assert sorted(p.name for p in folder.iterdir()) == ["src.tif"]


def test_a_killed_run_leaves_temporaries_that_the_next_run_removes(tmp_path: Path) -> None:
    out = tmp_path / "out.tif"
    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid is no process now
    stale = tmp_path / f".out.tif.{dead.pid}.abcd.geo2map-tmp.tif"
    live = tmp_path / f".out.tif.{os.getpid()}.efgh.geo2map-tmp.tif"  # this process is alive
    stale_dir = tmp_path / f".tiles.{dead.pid}.ijkl.geo2map-tmp"
    for p in (stale, live):
        p.write_bytes(b"partial")
    stale_dir.mkdir()
    assert stale_temps(out) == [str(stale)]
    assert _run("translate", RGB, "-m", "identity", "-o", out, "-q").returncode == 0
    assert not stale.exists() and live.exists()
    assert _run("tile", RGB, tmp_path / "tiles", "-q").returncode == 0
    assert not stale_dir.exists()
    remove_stale_temps(out)
    assert live.exists()
    with rasterio.open(out) as ds:
        assert ds.count == 3


def test_the_quick_start_tile_quicklook_goes_into_a_folder_tile_creates(tmp_path: Path) -> None:
    """README's quick start: `geo2map tile ... out/tiles --quicklook out/tiles.png` with no out/ yet."""
    r = _run("tile", RGB, tmp_path / "out" / "tiles", "--quicklook", tmp_path / "out" / "tiles.png", "-q")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "tiles.png").read_bytes()[:4] == b"\x89PNG"
