"""Benchmark the raster engine: tile + cosine-blend mosaic (identity, no network).

Compared with GDAL on the same generated scene (3-band uint8, tiled DEFLATE,
smooth image-like content):

* ``geo2map translate --model identity`` (the translate pipeline without a network)
  and ``remosaic_raster`` (tile + blend + write);
* ``gdal_translate`` copying the file (tiled DEFLATE, all cores), at GDAL's default
  DEFLATE level 6 and at level 1, geo2map's default;
* ``gdal_retile.py -ps 256 256 -overlap 64`` + ``gdalbuildvrt`` + ``gdal_translate``
  (the classic GDAL tile-and-rebuild chain).

Each step runs in its own process; wall time and that process's peak RSS are
printed as a table. Needs Debian's gdal-bin and python3-gdal for the GDAL rows.

    python benchmarks/bench_raster.py                 # 20000 x 20000 and 5000 x 5000
    python benchmarks/bench_raster.py --sizes 12000 --no-retile   # issue 17's identity goal
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GTIFF_CO = [
    "TILED=YES",
    "COMPRESS=DEFLATE",
    "PREDICTOR=2",
    "BLOCKXSIZE=512",
    "BLOCKYSIZE=512",
    "NUM_THREADS=ALL_CPUS",
    "BIGTIFF=IF_SAFER",
]


def _profile(width: int, height: int, count: int, dtype: str) -> dict:
    """A tiled DEFLATE GeoTIFF profile (UTM 33N, 10 m pixels) for a generated scene."""
    from rasterio.transform import from_origin

    return {
        "driver": "GTiff", "width": width, "height": height, "count": count, "dtype": dtype,
        "crs": "EPSG:32633", "transform": from_origin(300000, 5000000, 10, 10), "tiled": True,
        "blockxsize": 512, "blockysize": 512, "compress": "deflate", "predictor": 2,
        "num_threads": "ALL_CPUS", "bigtiff": "IF_SAFER",
    }  # fmt: skip


def _wave_strips(rng: np.random.Generator, width: int, height: int, max_freq: float):
    """``(r0, n, field)`` for 512-row strips of a smooth field: a sum of 8 random 2-D waves."""
    waves = [(rng.uniform(2, max_freq, 2), rng.uniform(0, 2 * np.pi, 2), rng.uniform(0.3, 1)) for _ in range(8)]
    x = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    for r0 in range(0, height, 512):
        n = min(512, height - r0)
        y = (np.arange(r0, r0 + n, dtype=np.float32) / height)[:, None]
        field = np.zeros((n, width), np.float32)
        for (fy, fx), (py, px), a in waves:
            field += a * np.sin(2 * np.pi * fy * y + py) * np.cos(2 * np.pi * fx * x + px)
        yield r0, n, field


def make_scene(path: Path, size: int, seed: int = 0) -> None:
    """A smooth, image-like 3-band uint8 scene (waves + gentle texture), written strip by strip."""
    import rasterio

    rng = np.random.default_rng(seed)
    with rasterio.open(path, "w", **_profile(size, size, 3, "uint8"), photometric="RGB") as dst:
        for r0, n, base in _wave_strips(rng, size, size, 40):
            base = (base - base.min()) / max(float(np.ptp(base)), 1e-6)
            texture = rng.normal(0, 0.02, (n, size)).astype(np.float32)
            bands = np.stack([base, np.roll(base, 37, axis=1) * 0.8 + 0.1, 1 - base]) + texture
            dst.write((np.clip(bands, 0, 1) * 255).astype(np.uint8), window=((r0, r0 + n), (0, size)))


def make_sar_scene(path: Path, width: int, height: int | None = None, seed: int = 0) -> None:
    """A Sentinel-1 GRD-like 2-band uint16 scene (VV, VH amplitude DN with speckle), strip by strip.

    Backscatter varies smoothly between about -22 and -8 dB (VH 6 dB below VV), with
    single-look gamma speckle; DN = 1000·sqrt(σ⁰), as Sentinel-1 GRD amplitudes are scaled.
    Band descriptions are ``VV`` and ``VH`` (so sar2rgb picks VH by name).
    """
    import rasterio

    height = height or width
    rng = np.random.default_rng(seed)
    with rasterio.open(path, "w", **_profile(width, height, 2, "uint16")) as dst:
        dst.descriptions = ("VV", "VH")
        for r0, n, base in _wave_strips(rng, width, height, 60):
            db = -15 + 7 * np.tanh(base / 2)  # VV in dB
            bands = []
            for offset in (0.0, -6.0):
                sigma0 = 10 ** ((db + offset) / 10) * rng.gamma(1.0, 1.0, (n, width)).astype(np.float32)
                bands.append(np.clip(1000 * np.sqrt(sigma0), 1, 65535))
            dst.write(np.stack(bands).astype(np.uint16), window=((r0, r0 + n), (0, width)))


def _hwm_mb(pid: int) -> float | None:
    """The process's peak resident set (VmHWM) in MB, from /proc; None once it has exited."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def run(cmd: list[str]) -> tuple[float, float]:
    """Run a command; return (wall seconds, peak RSS MB of that process)."""
    wall, peak, _ = run_capture(cmd)
    return wall, peak


def run_capture(cmd: list[str]) -> tuple[float, float, str]:
    """Run a command; return (wall seconds, peak RSS MB of that process, its stdout).

    The peak is the kernel's high-water mark of the process's own memory (VmHWM),
    polled until it exits (rusage from wait4 is not used: on Linux it can carry
    the parent's or an earlier child's peak).
    """
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0.0
    while proc.poll() is None:
        hwm = _hwm_mb(proc.pid)
        if hwm is not None:
            peak = max(peak, hwm)
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {err.decode()[-2000:]}")
    return wall, peak, out.decode()


def geo2map_cmd(src: Path, dst: Path) -> list[str]:
    code = (
        "import sys; from geo2map.mosaic.stream import remosaic_raster; "
        "remosaic_raster(sys.argv[1], sys.argv[2], size=256, overlap=64, blend='cosine', overwrite=True)"
    )
    return [sys.executable, "-c", code, str(src), str(dst)]


def identity_translate_cmd(src: Path, dst: Path) -> list[str]:
    """``geo2map translate --model identity``: the whole translate pipeline without a network."""
    code = "from geo2map.cli.main import cli; cli()"
    return [
        sys.executable,
        "-c",
        code,
        "translate",
        str(src),
        "--model",
        "identity",
        "-o",
        str(dst),
        "--overwrite",
        "-q",
    ]


def gdal_translate_cmd(src: Path | str, dst: Path, extra: tuple[str, ...] = ()) -> list[str]:
    cmd = ["gdal_translate", "-q", "--config", "GDAL_NUM_THREADS", "ALL_CPUS"]
    for co in (*GTIFF_CO, *extra):
        cmd += ["-co", co]
    return [*cmd, str(src), str(dst)]


def bench(size: int, work: Path, with_retile: bool) -> list[tuple[str, float, float]]:
    scene = work / f"scene_{size}.tif"
    if not scene.exists():
        t0 = time.perf_counter()
        make_scene(scene, size)
        print(
            f"# generated {scene.name} ({scene.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    rows = []
    wall, rss = run(geo2map_cmd(scene, work / "g2m.tif"))
    rows.append(("geo2map tile+cosine mosaic (identity)", wall, rss))
    # sanity: the identity pipeline reproduces the scene exactly
    import rasterio

    with rasterio.open(scene) as a, rasterio.open(work / "g2m.tif") as b:
        win = ((size // 2, size // 2 + 300), (size // 3, size // 3 + 300))
        assert (a.read(window=win) == b.read(window=win)).all(), "identity mismatch"
        assert a.transform == b.transform and a.crs == b.crs
    wall, rss = run(identity_translate_cmd(scene, work / "g2m.tif"))
    rows.append(("geo2map translate --model identity (DEFLATE level 1)", wall, rss))
    if shutil.which("gdal_translate"):
        wall, rss = run(gdal_translate_cmd(scene, work / "copy.tif"))
        rows.append(("gdal_translate copy (all cores, DEFLATE level 6: GDAL's default)", wall, rss))
        wall, rss = run(gdal_translate_cmd(scene, work / "copy.tif", ("ZLEVEL=1",)))
        rows.append(("gdal_translate copy (all cores, DEFLATE level 1: geo2map's default)", wall, rss))
    retile = shutil.which("gdal_retile.py") or shutil.which("gdal_retile")
    if with_retile and retile and shutil.which("gdalbuildvrt"):
        tiles = work / f"retile_{size}"
        shutil.rmtree(tiles, ignore_errors=True)
        tiles.mkdir()
        t = [
            run(
                [
                    retile,
                    "-q",
                    "-ps",
                    "256",
                    "256",
                    "-overlap",
                    "64",
                    "-co",
                    "COMPRESS=DEFLATE",
                    "-targetDir",
                    str(tiles),
                    str(scene),
                ]
            )
        ]
        listing = work / "tiles.txt"
        listing.write_text("\n".join(sorted(glob.glob(str(tiles / "*.tif")))))
        t.append(run(["gdalbuildvrt", "-q", "-input_file_list", str(listing), str(work / "retile.vrt")]))
        t.append(run(gdal_translate_cmd(work / "retile.vrt", work / "retile.tif")))
        rows.append(("gdal_retile + gdalbuildvrt + gdal_translate", sum(w for w, _ in t), max(r for _, r in t)))
        shutil.rmtree(tiles, ignore_errors=True)
    for name in ("g2m.tif", "copy.tif", "retile.tif", "retile.vrt"):
        (work / name).unlink(missing_ok=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20000, 5000], help="scene sizes (pixels)")
    ap.add_argument("--no-retile", action="store_true", help="skip the slow gdal_retile.py chain")
    ap.add_argument("--workdir", default=None, help="where scenes are generated (default: a temp folder)")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="geo2map-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# {os.cpu_count()} cores; workdir {work}")
    results = {}
    for size in args.sizes:
        results[size] = bench(size, work, with_retile=not args.no_retile)
    print()
    print("| scene | method | wall s | peak RSS MB | x gdal_translate level 6 | x gdal_translate level 1 |")
    print("|---|---|---:|---:|---:|---:|")
    for size, rows in results.items():
        refs = [w for n, w, _ in rows if n.startswith("gdal_translate")] or [float("nan")] * 2
        for name, wall, rss in rows:
            print(f"| {size}² | {name} | {wall:.1f} | {rss:.0f} | {wall / refs[0]:.2f} | {wall / refs[-1]:.2f} |")
    if len(results) > 1:
        rss = {s: next(r for n, _, r in rows if n.startswith("geo2map")) for s, rows in results.items()}
        sizes = sorted(rss)
        print(f"\ngeo2map peak RSS difference {sizes[-1]}² vs {sizes[0]}²: {rss[sizes[-1]] - rss[sizes[0]]:.0f} MB")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
