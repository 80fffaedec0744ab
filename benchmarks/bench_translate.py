"""Benchmark ``geo2map translate``: end-to-end wall time against the bare network.

By default the shipped ``sar2rgb`` on a generated 8000 x 8000 VV+VH uint16 GRD-like
scene (``--model`` picks another built-in or model file; models with other inputs get a
3-band uint8 scene). ``--archs`` instead times generators of random weights at ``--ngf``
(default 16, the built-ins' width; timing does not depend on the weights).

* **end to end**: ``geo2map translate`` in its own process, process start included
  (imports, model load, scene statistics, reading, scaling, batched inference,
  blending, compressed GeoTIFF writing), wall time and peak RSS (VmHWM);
* **network only**: the same :class:`~geo2map.inference.Translator` (same device,
  precision, batch size, memory format) over the same number of patches, from one
  pre-made batch in memory: no reading, scaling, blending or writing.

The ratio end-to-end ÷ network-only is the pipeline's overhead (goal ≤ 1.3, stretch
1.15). ``--repeat`` runs both several times and reports medians: on a shared 2-core
machine single runs vary by 10 % or more. Pause other work while it runs.

    python benchmarks/bench_translate.py                          # shipped sar2rgb, 8000²
    python benchmarks/bench_translate.py --size 4000 --repeat 3
    python benchmarks/bench_translate.py --size 25000 --height 16000 --cog   # a whole IW GRD to COG
    python benchmarks/bench_translate.py --archs unet_256 resnet_9blocks --ngf 64
    python benchmarks/bench_translate.py --device cuda --precision bf16

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
from bench_raster import make_sar_scene, make_scene, run_capture  # noqa: E402


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
import json, sys
from geo2map.translate import translate_raster
src, dst, model, device, precision, batch, preset = sys.argv[1:8]
r = translate_raster(src, dst, model, device=device, precision=precision, batch_size=int(batch) or None,
                     overwrite=True, preset=preset)
print(json.dumps({"seconds": r.seconds, "translated": r.translated, "tiles": r.tiles, "device": r.device,
                  "precision": r.precision}))
"""

_NET = """
import json, sys, time
import numpy as np
from geo2map.inference import Translator
from geo2map.models.package import load_model
from geo2map.models.registry import resolve
model, device, precision, batch, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
t = Translator(load_model(resolve(model)), device=device, precision=precision, batch_size=batch or None)
bands, size, batch = t.card.architecture.in_bands, t.card.tile_size, t.batch_size
x = np.random.default_rng(0).uniform(-1, 1, (batch, bands, size, size)).astype("float32")
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
print(json.dumps({"seconds": time.perf_counter() - t0, "patches": done, "batch": batch}))
"""


def run_py(code: str, *args: str) -> tuple[dict, float]:
    """Run a Python snippet in its own process; return its JSON output and its peak RSS (MB)."""
    _, peak, out = run_capture([sys.executable, "-c", code, *args])
    return json.loads(out.strip().splitlines()[-1]), peak


def _scene_for(model: str, size: int, work: Path, height: int | None = None) -> Path:
    """A generated scene the model takes: VV+VH uint16 for SAR input, else 3-band uint8 (square unless ``height``)."""
    from geo2map.models.package import read_card
    from geo2map.models.registry import resolve

    sar = read_card(resolve(model)).input_scaling.get("name") == "sar"
    name = f"{size}" if height in (None, size) else f"{size}x{height}"
    scene = work / (f"sar_{name}.tif" if sar else f"scene_{name}.tif")
    if not scene.exists():
        t0 = time.perf_counter()
        if sar:
            make_sar_scene(scene, size, height)
        elif height in (None, size):
            make_scene(scene, size)
        else:
            raise SystemExit("--height: only for a SAR model's scene (optical scenes are square)")
        print(f"# generated {scene.name} in {time.perf_counter() - t0:.0f} s", flush=True)
    return scene


def _median(values: list[float]) -> float:
    return float(np.median(values))


def bench_one(args: argparse.Namespace, work: Path, model: str, label: str) -> dict:
    scene = _scene_for(model, args.size, work, args.height)
    e2e_s, rss, net_s = [], [], []
    for _ in range(args.repeat):
        e2e = [str(scene), str(work / "out.tif"), model, args.device, args.precision, str(args.batch_size)]
        e2e.append("cog" if args.cog else args.preset)
        wall, peak, out = run_capture([sys.executable, "-c", _E2E, *e2e])  # wall includes process start
        info = json.loads(out.strip().splitlines()[-1])
        e2e_s.append(wall)
        rss.append(peak)
        n = args.network_patches or info["translated"]
        net, _ = run_py(_NET, model, args.device, args.precision, str(args.batch_size), str(n))
        net_s.append(net["seconds"] / net["patches"] * info["translated"])
        print(f"# {label}: end to end {wall:.1f} s, network {net_s[-1]:.1f} s, {info}", flush=True)
    (work / "out.tif").unlink(missing_ok=True)
    e2e, network = _median(e2e_s), _median(net_s)
    return {"model": label, "device": info["device"], "precision": info["precision"], "batch": net.get("batch"),
            "patches": info["translated"], "network_s": network, "e2e_s": e2e, "ratio": e2e / network,
            "net_pps": info["translated"] / network, "e2e_pps": info["translated"] / e2e, "rss": max(rss)}  # fmt: skip


def bench(args: argparse.Namespace, work: Path) -> list[dict]:
    if not args.archs:
        return [bench_one(args, work, args.model, args.model)]
    rows = []
    for arch in args.archs:
        model = work / f"{arch}_ngf{args.ngf}.safetensors"
        make_model(model, arch, args.ngf)
        rows.append(bench_one(args, work, str(model), f"{arch} ngf{args.ngf} (random weights)"))
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
    ap.add_argument("--size", type=int, default=8000, help="scene width in pixels (square unless --height)")
    ap.add_argument("--height", type=int, default=None, help="scene height (full IW GRD: 25000 x 16000)")
    ap.add_argument("--cog", action="store_true", help="write a Cloud-Optimized GeoTIFF (default: tiled DEFLATE)")
    ap.add_argument("--preset", default="deflate", choices=["deflate", "zstd", "cog"], help="output preset")
    ap.add_argument("--model", default="sar2rgb", help="a built-in name or model file (default: sar2rgb)")
    ap.add_argument("--archs", nargs="+", default=None, help="instead: generators of random weights at --ngf")
    ap.add_argument("--ngf", type=int, default=16, help="with --archs (16: the built-ins' width)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each measurement; medians are reported")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    ap.add_argument("--batch-size", type=int, default=0, help="tiles per batch (default: the library's)")
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
        "| scene | model | device | precision | batch | patches | network s | end-to-end s | ratio | "
        "network patches/s | end-to-end patches/s | peak RSS MB |"
    )
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    scene = f"{args.size}²" if args.height in (None, args.size) else f"{args.size} × {args.height}"
    for r in rows:
        print(
            f"| {scene} | {r['model']} | {r['device']} | {r['precision']} | {r['batch']} | "
            f"{r['patches']} | {r['network_s']:.1f} | {r['e2e_s']:.1f} | {r['ratio']:.3f} | {r['net_pps']:.1f} | "
            f"{r['e2e_pps']:.1f} | {r['rss']:.0f} |"
        )


if __name__ == "__main__":
    main()
