"""The least ``geo2map translate`` can cost beyond its network, on this machine: the ratio's floor.

``bench_translate.py`` compares ``translate`` end to end with the bare network on the
same patches. Some of the difference no pipeline can remove:

* **process start**: a fresh Python importing torch, rasterio and geo2map;
* **reading**: decompressing every block of the scene (CPU seconds, GDAL's threads included);
* **writing**: compressing a real translated output again with the GeoTIFF profile
  translate writes (the default preset: DEFLATE level 1, predictor, 512-px blocks, its
  compression threads).

On a machine whose cores the network keeps busy, reading and writing take their CPU
seconds from it: at best (perfect packing over all cores) they add CPU ÷ cores to the
wall time. The floor printed is ``(start + network + (read + write) / cores) / network``:
a pipeline that did nothing else (no statistics, scaling, blending or Python) would
still take that ratio. Pause other work while it runs.

    python benchmarks/translate_floor.py                  # shipped sar2rgb, generated 8000² VV+VH scene
    python benchmarks/translate_floor.py --size 4000 --model sar2rgb
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_raster import run_capture  # noqa: E402
from bench_translate import _E2E, _NET, _scene_for, run_py  # noqa: E402


def _cpu() -> float:
    """CPU seconds of this process so far, all threads (GDAL's included)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def read_cpu(scene: Path) -> float:
    """CPU seconds to decompress every band of ``scene``, 512 rows at a time."""
    import rasterio

    c0 = _cpu()
    with rasterio.open(scene) as ds:
        for r in range(0, ds.height, 512):
            ds.read(window=((r, min(r + 512, ds.height)), (0, ds.width)))
    return _cpu() - c0


def write_cpu(output: Path, work: Path) -> float:
    """CPU seconds to compress ``output``'s pixels again with translate's own GeoTIFF profile."""
    import rasterio

    from geo2map.raster.open import open_raster
    from geo2map.raster.output_policy import spec_for

    with open_raster(output) as src:
        profile = spec_for(src).gtiff_profile()  # the default preset, as translate writes it
    with rasterio.open(output) as src:
        data = src.read()
    c0 = _cpu()
    with rasterio.open(work / "rewrite.tif", "w", **profile) as dst:
        dst.write(data)
    spent = _cpu() - c0
    (work / "rewrite.tif").unlink()
    return spent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=8000, help="scene width and height in pixels")
    ap.add_argument("--model", default="sar2rgb", help="a built-in name or model file")
    ap.add_argument("--repeat", type=int, default=3, help="process starts timed (median)")
    ap.add_argument("--workdir", default=None, help="where the scene is generated (default: a temp folder)")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="geo2map-floor-"))
    work.mkdir(parents=True, exist_ok=True)
    scene, out = _scene_for(args.model, args.size, work), work / "out.tif"
    cmd = [sys.executable, "-c", "import torch, rasterio, geo2map.translate"]
    start = float(np.median([run_capture(cmd)[0] for _ in range(args.repeat)]))
    e2e_args = [str(scene), str(out), args.model, "auto", "auto", "0", "deflate"]
    e2e, _, stdout = run_capture([sys.executable, "-c", _E2E, *e2e_args])
    patches = int(json.loads(stdout.strip().splitlines()[-1])["translated"])
    net = run_py(_NET, args.model, "auto", "auto", "0", str(patches))[0]["seconds"]
    read, write = read_cpu(scene), write_cpu(out, work)
    cores = os.cpu_count() or 1
    floor = (start + net + (read + write) / cores) / net
    print(f"# {cores} cores; scene {scene.name}, {patches} patches; workdir {work}")
    print("| process start s | network s | read CPU s | write CPU s | floor ratio | end to end s | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {start:.2f} | {net:.2f} | {read:.2f} | {write:.2f} | {floor:.2f} | {e2e:.1f} | {e2e / net:.2f} |")
    out.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
