"""onnxruntime against torch on the CPU: network-only patches/s for the built-in models' size.

For each generator (default: the built-ins' U-Net-256 at ngf 16; also the bounded U-Net-32),
random weights, batch 4 of 256-px tiles, 1 → 3 bands:

* torch fp32 (channels_last), torch bf16 autocast (where the CPU runs bf16 natively
  it is fast; elsewhere it is emulated), onnxruntime fp32 (CPU provider; it has no
  bf16 convolutions), onnxruntime with fp16-stored weights (the built-ins' .onnx files).

    python benchmarks/bench_onnx.py
    python benchmarks/bench_onnx.py --generators unet_256 unet_32 --ngf 16 --threads 2 --seconds 5

Prints a markdown table. Outputs of every engine are compared with torch fp32 too
(max absolute difference on the [-1, 1] scale).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _rate(fn, x: np.ndarray, seconds: float) -> float:
    fn(x)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn(x)
        n += x.shape[0]
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generators", nargs="+", default=["unet_256", "unet_32"])
    ap.add_argument("--ngf", type=int, default=16)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()

    import onnxruntime as ort
    import torch

    from geo2map.inference import cpu_has_fast_bf16
    from geo2map.models.card import Architecture, Band, ModelCard
    from geo2map.models.networks import build_generator
    from geo2map.models.onnx_model import export_onnx
    from geo2map.models.package import load_model, save_model

    torch.set_num_threads(args.threads)
    print(
        f"# torch {torch.__version__}, onnxruntime {ort.__version__}; CPU, {args.threads} threads; "
        f"native bf16: {cpu_has_fast_bf16()}; batch {args.batch} x {args.size} px, ngf {args.ngf}\n"
    )
    print("| generator | engine | patches/s | max abs diff vs torch fp32 |")
    print("|---|---|---:|---:|")
    x = np.random.default_rng(0).uniform(-1, 1, (args.batch, 1, args.size, args.size)).astype(np.float32)
    with tempfile.TemporaryDirectory() as work:
        for arch in args.generators:
            torch.manual_seed(0)
            net = build_generator(arch, 1, 3, ngf=args.ngf, norm="batch", dropout=True).eval()
            card = ModelCard(
                name=arch,
                task="pix2pix",
                architecture=Architecture(arch, 1, 3, args.ngf, "batch", True),
                input_scaling={"name": "optical_u8", "params": {}},
                output_scaling={"name": "optical_u8", "params": {}},
                input_bands=[Band("b")],
                output_bands=[Band("r"), Band("g"), Band("b")],
                tile_size=args.size,
                overlap=args.size // 4,
            )
            path = save_model(Path(work) / f"{arch}.safetensors", net, card)
            net = load_model(path).generator.eval().to(memory_format=torch.channels_last)

            def torch_run(a: np.ndarray, dtype: torch.dtype | None = None, net: torch.nn.Module = net) -> np.ndarray:
                with torch.inference_mode():
                    t = torch.from_numpy(a).contiguous(memory_format=torch.channels_last)
                    if dtype is None:
                        return net(t).float().numpy()
                    with torch.autocast("cpu", dtype=dtype):
                        return net(t).float().numpy()

            ref = torch_run(x)
            rows = [("torch fp32", torch_run), ("torch bf16 autocast", lambda a: torch_run(a, torch.bfloat16))]
            for half in (False, True):
                onnx_path = export_onnx(path, Path(work) / f"{arch}_{half}.onnx", half=half)
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = args.threads
                sess = ort.InferenceSession(onnx_path, sess_options=opts, providers=["CPUExecutionProvider"])
                label = "onnxruntime fp32" + (", fp16 weights" if half else "")
                rows.append((label, lambda a, s=sess: s.run(None, {"input": a})[0]))
            for label, fn in rows:
                diff = float(np.abs(fn(x) - ref).max())
                print(f"| {arch} | {label} | {_rate(fn, x, args.seconds):.1f} | {diff:.2g} |", flush=True)


if __name__ == "__main__":
    main()
