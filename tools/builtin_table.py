"""Print README's model table: each built-in against its reference-recipe baseline, from their evaluate reports.

    python tools/builtin_table.py runs            # runs/NAME/eval/report.json and runs/NAME_baseline/eval/report.json

A cell reads "built-in / baseline"; the better of the two is in bold (lower RMSE and MAE,
higher PSNR, SSIM and pixel accuracies).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

METRICS = (
    ("rmse", "RMSE", -1),
    ("mae", "MAE", -1),
    ("psnr", "PSNR dB", 1),
    ("ssim", "SSIM", 1),
    ("acc_delta5", "δ5", 1),
    ("acc_delta10", "δ10", 1),
)


def cell(a: float, b: float, sign: int, digits: int) -> str:
    fa, fb = f"{a:.{digits}f}", f"{b:.{digits}f}"
    if (a - b) * sign > 0:
        fa = f"**{fa}**"
    elif (b - a) * sign > 0:
        fb = f"**{fb}**"
    return f"{fa} / {fb}"


def main() -> None:
    runs = Path(sys.argv[1] if len(sys.argv) > 1 else "runs")
    print("| model | split (pairs) | " + " | ".join(label for _, label, _ in METRICS) + " |")
    print("|---|---|" + "---|" * len(METRICS))
    for name in ("sar2rgb", "sat2map", "dsm2rgb"):
        paths = runs / name / "eval" / "report.json", runs / f"{name}_baseline" / "eval" / "report.json"
        if not all(p.exists() for p in paths):
            print(f"| {name} | (no report) |" + " |" * len(METRICS))
            continue
        built, base = (json.loads(p.read_text()) for p in paths)
        row = [
            cell(built["metrics"][k], base["metrics"][k], sign, 3 if k.startswith(("ssim", "acc")) else 2)
            for k, _, sign in METRICS
        ]
        print(f"| `{name}` | {built['split']} ({built['pairs']}) | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
