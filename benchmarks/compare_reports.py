"""Compare two ``geo2map evaluate`` reports pair by pair, grouped by scene: is the difference noise?

Pairs cut from one scene are not independent, so the differences are averaged per scene
first (the scene is the part of a pair's name before ``--sep``; SEN12's ``059_3.png`` ->
``059``), then the mean over scenes, its standard error and the scenes where the first
report is better are printed for each metric.

    python benchmarks/compare_reports.py NEW/report.json OLD/report.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

#: metric -> whether higher is better (the artefact metrics where both reports have them)
METRICS = {"rmse": False, "psnr": True, "ssim": True, "checker": False, "crop_ring": False, "crop_inner": False}


def by_scene(report: dict, metric: str, sep: str) -> dict[str, float]:
    """Mean of ``metric`` over each scene's pairs that have it (crop consistency: only the first few)."""
    groups: dict[str, list[float]] = {}
    for pair in report["per_pair"]:
        if pair.get(metric) is not None:
            groups.setdefault(pair["name"].split(sep)[0], []).append(pair[metric])
    return {scene: float(np.mean(values)) for scene, values in groups.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("new", type=Path)
    ap.add_argument("old", type=Path)
    ap.add_argument("--sep", default="_", help="a pair's scene is the part of its name before this")
    args = ap.parse_args()
    new, old = (json.loads(p.read_text()) for p in (args.new, args.old))
    print("| metric | new | old | new − old, mean over scenes | SE | scenes where new is better |")
    print("|---|---:|---:|---:|---:|---:|")
    for metric, higher in METRICS.items():
        a, b = by_scene(new, metric, args.sep), by_scene(old, metric, args.sep)
        diff = np.array([a[s] - b[s] for s in sorted(a.keys() & b.keys())])
        if not len(diff):
            continue
        se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
        better = int((diff > 0).sum() if higher else (diff < 0).sum())
        print(
            f"| {metric} | {new['metrics'][metric]:.3f} | {old['metrics'][metric]:.3f} | {diff.mean():+.3f} | "
            f"{se:.3f} | {better} of {len(diff)} |"
        )


if __name__ == "__main__":
    main()
