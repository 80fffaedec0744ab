"""Benchmark ``geo2map batch``: scenes per minute on the embedded Dask LocalCluster.

Generates N scenes (3-band uint8, smooth image-like content) and a U-Net-256
generator with random weights (ngf 16 by default: the size of a built-in model),
then runs ``run_batch`` with 1 worker process and with 2 (torch threads split so
the cores are not oversubscribed). Each run starts from an empty output folder and
includes cluster start-up.

    python benchmarks/bench_batch.py                       # 12 scenes of 1500², 1 and 2 workers
    python benchmarks/bench_batch.py --scenes 24 --size 3000 --workers 1 2 4
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_raster import make_scene  # noqa: E402
from bench_translate import make_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=12)
    ap.add_argument("--size", type=int, default=1500)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--arch", default="unet_256")
    ap.add_argument("--ngf", type=int, default=16)
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    from geo2map.batch import run_batch

    work = Path(args.workdir or tempfile.mkdtemp(prefix="geo2map-bench-batch-"))
    scenes = work / "scenes"
    scenes.mkdir(parents=True, exist_ok=True)
    for i in range(args.scenes):
        p = scenes / f"scene_{i:03d}.tif"
        if not p.exists():
            make_scene(p, args.size, seed=i)
    model = work / "model.safetensors"
    make_model(model, args.arch, args.ngf)
    print(f"# {os.cpu_count()} cores; {args.scenes} scenes of {args.size}²; {args.arch} ngf{args.ngf}; workdir {work}")
    rows = []
    for n in args.workers:
        out = work / f"out_{n}"
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        summary = run_batch(
            [str(scenes)], str(out), str(model), workers=n, translate_options={"precision": args.precision}
        )
        wall = time.perf_counter() - t0
        assert summary.ok and len(summary.done) == args.scenes, summary.failed
        rows.append((n, wall, args.scenes / wall * 60))
        print(f"# {n} worker(s): {wall:.1f} s", flush=True)
    print()
    print("| workers | scenes | scene size | model | wall s | scenes/minute |")
    print("|---:|---:|---|---|---:|---:|")
    for n, wall, spm in rows:
        print(f"| {n} | {args.scenes} | {args.size}² | {args.arch} ngf{args.ngf} | {wall:.1f} | {spm:.1f} |")


if __name__ == "__main__":
    main()
