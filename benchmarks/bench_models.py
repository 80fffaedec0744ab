"""Benchmark the generators: inference patches/s and Pix2Pix training iterations/s.

For each generator at 256 px (U-Net-256, ResNet-9 and -6, U-Net-128 at 128 px): fp32 vs bf16
autocast, channels_last on/off, batch 1/4/16, on the CPU; on a CUDA GPU too when one is
present (then also ``torch.compile``). Prints a markdown table.

    python benchmarks/bench_models.py                          # everything (slow on a small CPU)
    python benchmarks/bench_models.py --generators unet_256 --batches 1 4 --ngf 64
    python benchmarks/bench_models.py --device cuda --compile
    python benchmarks/bench_models.py --generators unet_256 --ngf 16 --batches 4 --size 256   # the built-ins' step
    python benchmarks/bench_models.py --generators unet_32 --ngf 16 --batches 1 --size 640 --no-train \
        --padding reflect --upsample resize resize_as_transposed   # sat2map's network, as the library runs it

``--upsample``: ``deconv`` (transposed convs), ``resize`` (nearest x2 + 3x3 conv, as trained) and
``resize_as_transposed`` (the same resize-conv network as ``Translator`` runs it: each resize-conv
as the transposed conv it equals, :func:`geo2map.models.resize_projection.resize_as_transposed`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import time
from typing import Any

import torch

from geo2map.models.networks import GENERATORS, build_generator
from geo2map.train.config import resolve_config
from geo2map.train.gans import Pix2Pix


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time(fn: Any, device: torch.device, reps: int, min_seconds: float) -> float:
    """Seconds per call: one warm-up, then at least ``reps`` calls and ``min_seconds``."""
    fn()
    _sync(device)
    n, t0 = 0, time.perf_counter()
    while n < reps or time.perf_counter() - t0 < min_seconds:
        fn()
        n += 1
    _sync(device)
    return (time.perf_counter() - t0) / n


SIZE: int | None = None  # --size: one tile size for every generator


def size_for(arch: str) -> int:
    if SIZE:
        return SIZE
    return 128 if arch in ("unet_128", "resnet_6blocks") else 256


def _generator(arch: str, ngf: int, upsample: str, padding: str) -> torch.nn.Module:
    from geo2map.models.resize_projection import resize_as_transposed

    up = "deconv" if upsample == "deconv" else "resize"
    net = build_generator(arch, 3, 3, ngf=ngf, norm="batch", upsample=up, padding=padding)  # type: ignore[arg-type]
    return resize_as_transposed(net) if upsample == "resize_as_transposed" else net


def bench_inference(
    arch: str, ngf: int, batch: int, bf16: bool, cl: bool, device: torch.device, compile_: bool, reps: int,
    min_s: float, upsample: str = "deconv", padding: str = "zeros",
) -> float:  # fmt: skip
    net = _generator(arch, ngf, upsample, padding).eval().to(device)
    fmt = torch.channels_last if cl else torch.contiguous_format
    net = net.to(memory_format=fmt)
    if compile_:
        net = torch.compile(net)
    s = size_for(arch)
    x = torch.randn(batch, 3, s, s, device=device).to(memory_format=fmt)
    ctx = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

    def run() -> None:
        with torch.inference_mode(), ctx:
            net(x)

    return batch / _time(run, device, reps, min_s)


def bench_training(
    arch: str, ngf: int, batch: int, bf16: bool, cl: bool, device: torch.device, reps: int, min_s: float,
    upsample: str = "deconv", padding: str = "zeros",
) -> float:  # fmt: skip
    s = size_for(arch)
    cfg = resolve_config(
        "pix2pix",
        "paper",
        None,
        {
            "data": "-",
            "generator": arch,
            "ngf": ngf,
            "ndf": 64,
            "channels_last": cl,
            "crop_size": s,
            "device": device.type,
            "upsample": "deconv" if upsample == "deconv" else "resize",  # training runs the resize-conv as trained
            "padding": padding,
        },
    )
    model = Pix2Pix(cfg, 3, 3, device, torch.bfloat16 if bf16 else None)
    batch_data = {"A": torch.randn(batch, 3, s, s), "B": torch.randn(batch, 3, s, s).clamp(-1, 1)}
    return 1.0 / _time(lambda: model.step(batch_data), device, reps, min_s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generators", nargs="+", default=list(GENERATORS), choices=list(GENERATORS))
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 4, 16])
    ap.add_argument("--ngf", type=int, default=64)
    ap.add_argument(
        "--size", type=int, default=None, help="tile size for all (default: 128 for unet_128/resnet_6, else 256)"
    )
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (GPU)")
    ap.add_argument("--no-train", action="store_true", help="inference only")
    ap.add_argument(
        "--upsample", nargs="+", default=["deconv"], choices=["deconv", "resize", "resize_as_transposed"],
        help="decoder(s) to time (training always runs the resize-conv as trained)",
    )  # fmt: skip
    ap.add_argument("--padding", default="zeros", choices=["zeros", "reflect"])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--min-seconds", type=float, default=1.0)
    args = ap.parse_args()
    global SIZE
    SIZE = args.size
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    if device.type == "cuda":
        machine = torch.cuda.get_device_name(device)
    else:
        machine = f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    print(f"# torch {torch.__version__} on {machine}; ngf {args.ngf}; {os.cpu_count()} cores")
    print("| generator | upsample | px | batch | dtype | channels_last | compile | infer patches/s | train it/s |")
    print("|---|---|---:|---:|---|---|---|---:|---:|")
    compiles = [False, True] if args.compile and device.type == "cuda" else [False]
    for arch, upsample in ((a, u) for a in args.generators for u in args.upsample):
        for batch in args.batches:
            for bf16 in (False, True):
                for cl in (False, True):
                    for comp in compiles:
                        inf = bench_inference(
                            arch, args.ngf, batch, bf16, cl, device, comp, args.reps, args.min_seconds,
                            upsample, args.padding,
                        )  # fmt: skip
                        tr = float("nan")
                        if not args.no_train and not comp:
                            tr = bench_training(
                                arch, args.ngf, batch, bf16, cl, device, args.reps, args.min_seconds,
                                upsample, args.padding,
                            )  # fmt: skip
                        print(
                            f"| {arch} | {upsample} | {size_for(arch)} | {batch} | {'bf16' if bf16 else 'fp32'} | "
                            f"{'on' if cl else 'off'} | {'yes' if comp else 'no'} | {inf:.1f} | {tr:.2f} |",
                            flush=True,
                        )


if __name__ == "__main__":
    main()
