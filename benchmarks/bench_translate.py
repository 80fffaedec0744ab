"""Benchmark ``geo2map translate``: end-to-end wall time against the bare network.

On a generated scene (3-band uint8, smooth image-like content; 8000 x 8000 by
default) with a generator of random weights (timing does not depend on them):

* **end to end**: ``translate_raster`` in its own process (read, scene statistics,
  scaling, batched inference, blending, compressed GeoTIFF writing), wall time and
  that process's peak RSS (VmHWM);
* **network only**: the same :class:`~geo2map.inference.Translator` (same device,
  precision, batch size, memory format) over the same number of patches, from one
  pre-made batch in memory: no reading, scaling, blending or writing.

The ratio end-to-end ÷ network-only is the pipeline's overhead (target ≤ 1.15).

    python benchmarks/bench_translate.py                                  # 8000², unet_256 ngf 64, CPU
    python benchmarks/bench_translate.py --size 4000 --archs unet_256 resnet_9blocks
    python benchmarks/bench_translate.py --device cuda --precision bf16 --archs unet_256 resnet_9blocks

``--compare-precision MODEL SCENE`` instead translates a real scene with a real model
in fp32 and in bf16 and prints how far apart the outputs are (PSNR, mean and max
difference, share of pixels differing by more than 2 levels) and both speeds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_raster import make_scene, run_capture  # noqa: E402


def make_model(path: Path, arch: str, ngf: int, bands: int = 3) -> None:
    import torch

    from geo2map.models.card import Architecture, Band, ModelCard
    from geo2map.models.networks import build_generator
    from geo2map.models.package import save_model

    torch.manual_seed(0)
    net = build_generator(arch, bands, bands, ngf=ngf, norm="batch" if arch.startswith("unet") else "instance")
    card = ModelCard(
        name=f"bench_{arch}_ngf{ngf}",
        task="pix2pix",
        architecture=Architecture(arch, bands, bands, ngf, "batch" if arch.startswith("unet") else "instance", False),
        input_scaling={"name": "optical_u8", "params": {}},
        output_scaling={"name": "optical_u8", "params": {}},
        input_bands=[Band(f"b{i}") for i in range(bands)],
        output_bands=[Band(f"b{i}") for i in range(bands)],
        output_dtype="uint8",
        output_colorinterp=["red", "green", "blue"],
        tile_size=256,
        overlap=64,
    )
    save_model(path, net, card)


_E2E = """
import json, sys, time
from geo2map.translate import translate_raster
src, dst, model, device, precision, batch = sys.argv[1:7]
r = translate_raster(src, dst, model, device=device, precision=precision, batch_size=int(batch), overwrite=True)
print(json.dumps({"seconds": r.seconds, "translated": r.translated, "tiles": r.tiles, "device": r.device,
                  "precision": r.precision}))
"""

_NET = """
import json, sys, time
import numpy as np
from geo2map.inference import Translator
from geo2map.models.package import load_model
model, device, precision, batch, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
t = Translator(load_model(model), device=device, precision=precision, batch_size=batch)
bands = t.card.architecture.in_bands
x = np.random.default_rng(0).uniform(-1, 1, (batch, bands, 256, 256)).astype("float32")
for _ in t((i, x[i % batch]) for i in range(batch)):  # warm-up (one batch; not timed)
    pass
if t.device.type == "cuda":
    import torch; torch.cuda.synchronize()
t0 = time.perf_counter()
done = 0
for _ in t(((i, x[i % batch]) for i in range(n)), prefetch=False):
    done += 1
if t.device.type == "cuda":
    import torch; torch.cuda.synchronize()
print(json.dumps({"seconds": time.perf_counter() - t0, "patches": done}))
"""


def run_py(code: str, *args: str) -> tuple[dict, float]:
    """Run a Python snippet in its own process; return its JSON output and its peak RSS (MB)."""
    _, peak, out = run_capture([sys.executable, "-c", code, *args])
    return json.loads(out.strip().splitlines()[-1]), peak


def bench(args: argparse.Namespace, work: Path) -> list[dict]:
    scene = work / f"scene_{args.size}.tif"
    if not scene.exists():
        t0 = time.perf_counter()
        make_scene(scene, args.size)
        print(f"# generated {scene.name} in {time.perf_counter() - t0:.0f} s", flush=True)
    rows = []
    for arch in args.archs:
        model = work / f"{arch}_ngf{args.ngf}.safetensors"
        make_model(model, arch, args.ngf)
        e2e, rss = run_py(
            _E2E, str(scene), str(work / "out.tif"), str(model), args.device, args.precision, str(args.batch_size)
        )
        print(f"# {arch}: end to end {e2e}", flush=True)
        n = args.network_patches or e2e["translated"]
        net, _ = run_py(_NET, str(model), args.device, args.precision, str(args.batch_size), str(n))
        per_patch = net["seconds"] / net["patches"]
        network_s = per_patch * e2e["translated"]  # the same number of patches as end to end
        print(f"# {arch}: network only {net}", flush=True)
        rows.append(
            {
                "arch": arch,
                "device": e2e["device"],
                "precision": e2e["precision"],
                "patches": e2e["translated"],
                "network_s": network_s,
                "e2e_s": e2e["seconds"],
                "ratio": e2e["seconds"] / network_s,
                "net_pps": 1 / per_patch,
                "e2e_pps": e2e["translated"] / e2e["seconds"],
                "rss": rss,
            }
        )
        (work / "out.tif").unlink(missing_ok=True)
    return rows


def compare_precision(model: str, scene: str, device: str, work: Path, options: dict) -> None:
    import rasterio

    from geo2map.translate import translate_raster

    out = {}
    for p in ("fp32", "bf16"):
        dst = work / f"{p}.tif"
        r = translate_raster(scene, dst, model, device=device, precision=p, overwrite=True, **options)
        with rasterio.open(dst) as ds:
            out[p] = (ds.read().astype(np.float64), ds.dataset_mask() > 0, r.seconds, ds.dtypes[0])
    a, m, ta, dtype = out["fp32"]
    b, _, tb, _ = out["bf16"]
    d = np.abs(a - b)[:, m]
    peak = 255.0 if dtype == "uint8" else float(a[:, m].max() - a[:, m].min())
    mse = float((d**2).mean())
    psnr = 10 * np.log10(peak**2 / mse) if mse > 0 else float("inf")
    print("| model | scene | fp32 s | bf16 s | PSNR bf16 vs fp32 dB | mean diff | max diff | share > 2 levels |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {Path(model).name} | {Path(scene).name} | {ta:.1f} | {tb:.1f} | {psnr:.1f} | {d.mean():.2f} | "
        f"{d.max():.0f} | {100 * (d > 2).mean():.2f}% |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=8000, help="scene size in pixels (square)")
    ap.add_argument("--archs", nargs="+", default=["unet_256"], help="generators (ngf --ngf, random weights)")
    ap.add_argument("--ngf", type=int, default=64)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument(
        "--network-patches",
        type=int,
        default=None,
        help="time the bare network over this many patches and scale to the end-to-end count "
        "(default: exactly the end-to-end count)",
    )
    ap.add_argument("--workdir", default=None, help="where the scene is generated (default: a temp folder)")
    ap.add_argument("--compare-precision", nargs=2, metavar=("MODEL", "SCENE"), default=None)
    ap.add_argument("--bidx", default=None, help="with --compare-precision: bands of SCENE")
    ap.add_argument("--nodata", type=float, default=None, help="with --compare-precision: nodata of SCENE")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="geo2map-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    import torch

    print(f"# {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads); workdir {work}")
    if args.compare_precision:
        opts = {k: v for k, v in (("bidx", args.bidx), ("nodata", args.nodata)) if v is not None}
        compare_precision(*args.compare_precision, args.device, work, opts)
        return
    rows = bench(args, work)
    print()
    print(
        "| scene | generator | device | precision | batch | patches | network s | end-to-end s | ratio | "
        "network patches/s | end-to-end patches/s | peak RSS MB |"
    )
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {args.size}² | {r['arch']} ngf{args.ngf} | {r['device']} | {r['precision']} | {args.batch_size} | "
            f"{r['patches']} | {r['network_s']:.1f} | {r['e2e_s']:.1f} | {r['ratio']:.3f} | {r['net_pps']:.1f} | "
            f"{r['e2e_pps']:.1f} | {r['rss']:.0f} |"
        )


if __name__ == "__main__":
    main()
