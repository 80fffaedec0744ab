"""The command line: commands work, bad input gives one line, exit != 0, no traceback, no output."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from conftest import GRD, RGB, gdalinfo_json, geo2map_exe, save_tiny_model, smooth_field, write_raster

from geo2map.cli.main import cli


def _fails(runner, args, match: str, out: Path | None = None) -> None:
    res = runner.invoke(cli, [str(a) for a in args])
    text = res.output  # click >= 8.2: stdout and stderr together
    assert res.exit_code != 0, text
    assert "Traceback" not in text
    lines = [ln for ln in text.splitlines() if ln.startswith("Error")]
    assert len(lines) == 1 and match.lower() in lines[0].lower(), text
    if out is not None:
        assert not out.exists()
        assert not [p for p in out.parent.iterdir() if "geo2map-tmp" in p.name]


def test_version_and_help_do_not_import_torch_or_rasterio() -> None:
    # what makes them instant is importing neither (no wall-clock limit here: it flaked on a loaded machine)
    for args in (["--help"], ["--version"], ["translate", "--help"]):
        code = (
            "import sys; from click.testing import CliRunner; from geo2map.cli.main import cli;"
            f"r = CliRunner().invoke(cli, {args!r}); assert r.exit_code == 0, r.output;"
            "assert 'torch' not in sys.modules and 'rasterio' not in sys.modules, sorted(sys.modules)"
        )
        subprocess.run([sys.executable, "-c", code], check=True)
    out = subprocess.run([geo2map_exe(), "--version"], check=True, capture_output=True, text=True)
    assert out.stdout.startswith("geo2map, version")


def test_tile_then_mosaic_cli(runner, tmp_path: Path) -> None:
    res = runner.invoke(cli, ["tile", str(RGB), str(tmp_path / "t"), "--size", "256", "--overlap", "64", "-q"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "t" / "tiles.gpkg").exists()
    umask = os.umask(0o022)
    os.umask(umask)
    assert (tmp_path / "t").stat().st_mode & 0o777 == 0o777 & ~umask  # not the temporary folder's 0700
    import geopandas as gpd

    gdf = gpd.read_file(tmp_path / "t" / "tiles.gpkg")
    assert {"row", "col", "col_off", "row_off", "width", "height", "file"} <= set(gdf.columns)
    assert gdf.crs.to_epsg() == 32618
    first = gdf.iloc[0]
    with rasterio.open(tmp_path / "t" / first["file"]) as ds:
        left, bottom, right, top = ds.bounds
        assert gdf.geometry.iloc[0].bounds == pytest.approx((left, bottom, right, top))
        assert ds.shape == (256, 256)
    res = runner.invoke(cli, ["mosaic", str(tmp_path / "t"), str(tmp_path / "m.tif"), "--cog", "-q"])
    assert res.exit_code == 0, res.output
    assert gdalinfo_json(tmp_path / "m.tif")["metadata"]["IMAGE_STRUCTURE"]["LAYOUT"] == "COG"
    # existing output needs --overwrite; then it is replaced
    _fails(runner, ["mosaic", tmp_path / "t", tmp_path / "m.tif", "-q"], "--overwrite")
    res = runner.invoke(
        cli,
        [
            "mosaic",
            str(tmp_path / "t"),
            str(tmp_path / "m.tif"),
            "-q",
            "--overwrite",
            "--blend",
            "linear",
            "--co",
            "COMPRESS=ZSTD",
        ],
    )
    assert res.exit_code == 0, res.output


def test_tile_pair_cli(runner, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    with rasterio.open(RGB) as ds:
        t, crs, shape = ds.transform, ds.crs, ds.shape
    # the same area at half the resolution: cut on RGB's grid
    low = write_raster(
        tmp_path / "dsm.tif",
        (smooth_field(rng, 1, shape[0] // 2, shape[1] // 2) * 100).astype("float32"),
        crs=crs.to_string(),
        transform=t * t.scale(2, 2),
    )
    res = runner.invoke(
        cli, ["tile", str(RGB), str(tmp_path / "p"), "--size", "128", "--overlap", "32", "--pair", str(low), "-q"]
    )
    assert res.exit_code == 0, res.output
    a = sorted(os.listdir(tmp_path / "p" / "A"))
    assert a == sorted(os.listdir(tmp_path / "p" / "B")) and a
    with rasterio.open(tmp_path / "p" / "B" / a[0]) as b, rasterio.open(tmp_path / "p" / "A" / a[0]) as aa:
        assert b.res == aa.res and b.transform == aa.transform and b.dtypes[0] == "float32"


def test_bad_inputs(runner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    text = tmp_path / "notes.txt"
    text.write_text("not a raster\n")
    _fails(runner, ["tile", text, out], "not a raster", out)
    _fails(runner, ["tile", tmp_path / "missing.tif", out], "no such file", out)
    # truncated TIFF: the header is there, the pixels are not
    good = write_raster(
        tmp_path / "full.tif", (smooth_field(np.random.default_rng(0), 1, 300, 300) * 255).astype("uint8")
    )
    truncated = tmp_path / "truncated.tif"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _fails(runner, ["tile", truncated, out], "truncated", out)
    # no georeference at all
    bare = write_raster(tmp_path / "bare.tif", np.ones((1, 50, 50), "uint8"), crs=None)
    _fails(runner, ["tile", bare, out], "no georeference", out)
    res = runner.invoke(
        cli,
        ["tile", str(bare), str(tmp_path / "ok"), "--allow-ungeoreferenced", "-q", "--size", "32", "--overlap", "8"],
    )
    assert res.exit_code == 0, res.output
    _fails(runner, ["tile", RGB, out, "--bidx", "4"], "out of range", out)
    _fails(runner, ["tile", RGB, out, "--bidx", "a,b"], "bidx", out)
    _fails(runner, ["tile", RGB, out, "--size", "64", "--overlap", "64"], "overlap", out)
    _fails(runner, ["mosaic", tmp_path / "nothing", tmp_path / "m.tif"], "tiles.gpkg", tmp_path / "m.tif")
    _fails(runner, ["mosaic", tmp_path / "ok", tmp_path / "no" / "such" / "m.tif"], "does not exist")
    _fails(
        runner, ["mosaic", tmp_path / "ok", tmp_path / "m.tif", "--co", "NOEQUALS"], "NAME=VALUE", tmp_path / "m.tif"
    )


def test_unwritable_output_folder(runner, tmp_path: Path) -> None:
    runner.invoke(cli, ["tile", str(RGB), str(tmp_path / "t"), "-q"])
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions: use a read-only mount instead
            target = Path("/proc/geo2map-test.tif")
        else:
            target = locked / "m.tif"
        _fails(runner, ["mosaic", tmp_path / "t", target], "writ")
    finally:
        locked.chmod(0o700)


def test_sigterm_leaves_no_output(tmp_path: Path) -> None:
    """SIGTERM mid-run: the process exits non-zero and nothing is left at the output path."""
    rng = np.random.default_rng(5)
    big = write_raster(
        tmp_path / "big.tif",
        (smooth_field(rng, 3, 3000, 3000) * 255).astype("uint8"),
        tiled=True,
        blockxsize=256,
        blockysize=256,
    )
    out = tmp_path / "big_out.tif"
    code = (
        "import sys; from geo2map.cli.main import cli; "
        f"sys.argv=['geo2map','tile','{big}','{tmp_path / 'tiles'}','--size','64','--overlap','8','-q']; cli()"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
    proc = subprocess.Popen(
        [geo2map_exe(), "mosaic", str(tmp_path / "tiles"), str(out), "-q"], stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 60  # signal once it writes (its temporary file exists), not after a fixed sleep
    while not [p for p in tmp_path.iterdir() if "geo2map-tmp" in p.name] and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "Traceback" not in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if "geo2map-tmp" in p.name]


@pytest.mark.parametrize("user_policy", [None, "ACTIVE"])
def test_openmp_threads_do_not_spin_unless_the_user_asks(tmp_path: Path, user_policy: str | None) -> None:
    """The CLI sets OMP_WAIT_POLICY=PASSIVE before torch loads libgomp, whose own report (OMP_DISPLAY_ENV)
    then shows a spin count of 0; a user's own OMP_WAIT_POLICY is kept."""
    model = save_tiny_model(tmp_path / "m.safetensors", "tiny", {"name": "optical_u8", "params": {}})
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["OMP_DISPLAY_ENV"] = "VERBOSE"
    if user_policy:
        env["OMP_WAIT_POLICY"] = user_policy
    cmd = [geo2map_exe(), "translate", str(RGB), "--model", str(model), "--bidx", "1", "-o", str(tmp_path / "o.tif")]
    err = subprocess.run(cmd + ["-q"], env=env, capture_output=True, text=True, timeout=300, check=True).stderr
    spin = re.search(r"GOMP_SPINCOUNT = '(\d+)'", err)
    assert spin, err
    assert (spin.group(1) == "0") == (user_policy is None)


def test_gcp_scene_cli_with_dst_crs(runner, tmp_path: Path) -> None:
    res = runner.invoke(cli, ["tile", str(GRD), str(tmp_path / "g"), "--dst-crs", "EPSG:4326", "-q"])
    assert res.exit_code == 0, res.output
    first = sorted((tmp_path / "g").glob("*.tif"))[0]
    with rasterio.open(first) as ds:
        assert ds.crs.to_epsg() == 4326


def test_nodata_override_and_quicklook(runner, tmp_path: Path) -> None:
    """--nodata 0 masks Sentinel-1 GRD border noise; --quicklook draws the grid."""
    png = tmp_path / "grid.png"
    res = runner.invoke(cli, ["tile", str(GRD), str(tmp_path / "a"), "-q", "--quicklook", str(png)])
    assert res.exit_code == 0, res.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    res = runner.invoke(cli, ["tile", str(GRD), str(tmp_path / "b"), "-q", "--nodata", "0"])
    assert res.exit_code == 0, res.output
    runner.invoke(cli, ["mosaic", str(tmp_path / "a"), str(tmp_path / "a.tif"), "-q"])
    runner.invoke(cli, ["mosaic", str(tmp_path / "b"), str(tmp_path / "b.tif"), "-q"])
    with rasterio.open(tmp_path / "a.tif") as a, rasterio.open(tmp_path / "b.tif") as b:
        va, vb = a.read_masks(1) > 0, b.read_masks(1) > 0
        assert b.nodata == 0
        data_b = b.read(1)
    assert vb.sum() < va.sum()  # the zero-valued border is now nodata
    assert (data_b[vb] != 0).all()


def test_tile_folder_overwrite_rules(runner, tmp_path: Path) -> None:
    out = tmp_path / "t"
    assert runner.invoke(cli, ["tile", str(RGB), str(out), "-q"]).exit_code == 0
    _fails(runner, ["tile", RGB, out, "-q"], "--overwrite")
    assert (
        runner.invoke(
            cli, ["tile", str(RGB), str(out), "-q", "--overwrite", "--size", "128", "--overlap", "16"]
        ).exit_code
        == 0
    )
    assert len(list(out.glob("*.tif"))) > 16  # replaced by the finer grid
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"x")
    _fails(runner, ["tile", RGB, other, "-q", "--overwrite"], "not empty")
    assert (other / "holiday.jpg").exists()
