"""Profile ``geo2map translate`` stage by stage (py-spy, all threads; or cProfile, main thread).

Runs ``geo2map translate SCENE --model MODEL`` in its own process under py-spy
(``pip install py-spy``), sampling every Python thread, and sorts each sample into a
stage by the innermost geo2map/torch function on its stack. Two tables come out:

* **main thread, wall time**: where the thread that drives the network spends the
  run: start-up (imports, model load), the scene-statistics pass, the network, waiting
  for tiles (the readers are behind), blending, waiting for the writer, ...
* **helper threads, busy time**: reading and decompression, scaling, un-scaling,
  compression and writing. On a 2-core machine every second here is taken from the
  network's two threads.

Without a scene, an 8000 x 8000 VV+VH uint16 GRD-like scene is generated (the issue's
benchmark; ``--size`` changes it). ``--cprofile`` prints cProfile's top functions of
the main thread instead.

    python benchmarks/profile_translate.py                         # 8000², shipped sar2rgb
    python benchmarks/profile_translate.py --size 4000 --model sar2rgb
    python benchmarks/profile_translate.py --scene scene.tif --model identity
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_raster import make_sar_scene  # noqa: E402

#: (stage, substrings of a frame "function (file"), checked from the innermost frame outwards
RULES: list[tuple[str, tuple[str, ...]]] = [
    (
        "waiting",
        ("Condition.wait", "Queue.get (", "Queue.put (", "Future.result", "Thread.join", "_worker (", "stderr_filter"),
    ),
    ("start-up: model load", ("load_model (",)),
    ("start-up: imports", ("_find_and_load (",)),
    ("statistics pass", ("fit_input_scaling (",)),
    ("network", ("Translator._forward (",)),
    ("network output to numpy", ("Translator._collect (",)),
    ("batching (stack)", ("_batches (",)),
    ("un-scaling", ("_inverse (geo2map/sensors", ".inverse (geo2map/sensors")),
    ("scaling", ("_forward (geo2map/sensors", ".forward (geo2map/sensors", "TileFlow._scaled (")),
    ("reading + decompression", ("_read_strip (", "RasterSource.read (", "ReflectPadded.read (")),
    ("tile slicing", ("iter_tiles (",)),
    ("blending", ("StreamingMosaic.add (",)),
    ("normalisation + cast", ("StreamingMosaic._flush_rows (", "_cast (geo2map")),
    ("compression + writing", ("RasterWriter.", "BackgroundWriter.", "CroppedSink.")),
    ("finish (rename, checks)", ("translate_raster (",)),
    ("start-up: CLI, open, checks", ("geo2map/cli", "open_for_model (", "load_while_fitting (")),
]


def stage_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for stage, keys in RULES:
            if any(k in frame for k in keys):
                return stage
    return "other"


def read_samples(path: Path) -> tuple[collections.Counter[str], collections.Counter[str]]:
    """(main-thread samples by stage, helper-thread samples by stage) from py-spy's raw output."""
    main: collections.Counter[str] = collections.Counter()
    helpers: collections.Counter[str] = collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if len(frames) < 2 or not count.isdigit():
            continue
        which = main if "MainThread" in frames[0] else helpers
        which[stage_of(frames[1:])] += int(count)
    return main, helpers


def table(title: str, counts: collections.Counter[str], rate: int, skip_waiting: bool) -> None:
    rows = [(s, n) for s, n in counts.most_common() if not (skip_waiting and s == "waiting")]
    total = sum(n for _, n in rows) or 1
    print(f"\n| {title} | s | share |\n|---|---:|---:|")
    for stage, n in rows:
        print(f"| {stage} | {n / rate:.1f} | {100 * n / total:.0f} % |")
    print(f"| total | {total / rate:.1f} | |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scene", default=None, help="raster to translate (default: generate a VV+VH uint16 scene)")
    ap.add_argument("--size", type=int, default=8000, help="generated scene size (square)")
    ap.add_argument("--model", default="sar2rgb")
    ap.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    ap.add_argument("--cprofile", action="store_true", help="cProfile the main thread instead of py-spy")
    ap.add_argument("--workdir", default=None, help="where the scene is generated (default: a temp folder)")
    ap.add_argument("extra", nargs="*", help="more translate options, after --")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="geo2map-profile-"))
    work.mkdir(parents=True, exist_ok=True)
    scene = Path(args.scene) if args.scene else work / f"sar_{args.size}.tif"
    if not scene.exists():
        make_sar_scene(scene, args.size)
    exe = shutil.which("geo2map")
    if exe is None:
        raise SystemExit("geo2map is not installed in this environment")
    cmd = [sys.executable, exe, "translate", str(scene), "--model", args.model, "-o", str(work / "out.tif")]
    cmd += ["--overwrite", "-q", *args.extra]
    if args.cprofile:
        stats = work / "translate.pstats"
        subprocess.run([sys.executable, "-m", "cProfile", "-o", str(stats), *cmd[1:]], check=True)
        import pstats

        pstats.Stats(str(stats)).sort_stats("cumulative").print_stats(40)
        return
    spy = shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is not installed: pip install py-spy (or use --cprofile)")
    raw = work / "translate.pyspy.txt"
    t0 = time.perf_counter()
    spy_cmd = [spy, "record", "--nonblocking", "-r", str(args.rate), "--threads", "--format", "raw", "-o", str(raw)]
    subprocess.run([*spy_cmd, "--", *cmd], check=True, capture_output=True)
    wall = time.perf_counter() - t0
    print(f"# {' '.join(cmd[1:])}\n# wall {wall:.1f} s under py-spy at {args.rate} Hz; raw samples in {raw}")
    main_thread, helpers = read_samples(raw)
    table("main thread (drives the network): stage", main_thread, args.rate, skip_waiting=False)
    table("helper threads (reader, prefetch, writer): stage, busy", helpers, args.rate, skip_waiting=True)


if __name__ == "__main__":
    main()
