"""Draw README's pictures of the built-in models, each on real scenes it was not trained on.

* ``docs/images/builtin_sar2rgb.png``: the six BigEarthNet-MM Sentinel-1 patches bundled in
  ``tests/data/bigearthnet`` (Portugal, Ireland, Austria, Finland, 2017-18; 10 m, VV+VH in dB, so sar2rgb
  picks VH by its name): Sentinel-1 VH | sar2rgb | the Sentinel-2 patch taken within a day.
* ``docs/images/builtin_sat2map.png``: the Lake Tahoe aerial photo (0.5 m, NIR-R-G, not the
  true colour sat2map was trained on): translated at sat2map's 2 m (``--resample auto``).
* ``docs/images/builtin_dsm2rgb.png``: the Lake Tahoe lidar first-return DSM (0.5 m) |
  dsm2rgb | the NIR-R-G aerial photo of the same grid.

Each is the shipped model run as users run it (``translate_raster`` with its defaults).

    python tools/make_readme_pictures.py                 # all three
    python tools/make_readme_pictures.py --only sat2map
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import rasterio

from geo2map.plots import display_rgb, pyplot, save_png
from geo2map.translate import translate_raster

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
OUT = ROOT / "docs" / "images"
TAHOE = DATA / "tahoe"


def _read(path: Path, bands: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    with rasterio.open(path) as ds:
        data = ds.read(bands) if bands else ds.read()
        return data, ds.dataset_mask() > 0


def _translated(src: Path, model: str, work: Path) -> np.ndarray:
    out = work / f"{src.stem}.{model}.tif"
    result = translate_raster(src, out, model, overwrite=True)
    for note in result.notes:
        print(f"  {src.name}: note: {note}")
    return _read(out)[0]


def _figure(rows: list[list[tuple[str, np.ndarray]]], title: str, path: Path, size: float = 3.2) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(len(rows), len(rows[0]), figsize=(size * len(rows[0]), size * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        for c, (label, picture) in enumerate(row):
            ax = axes[r][c]
            ax.imshow(picture, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(label, fontsize=9)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    save_png(fig, path, overwrite=True)
    plt.close(fig)
    print(f"wrote {path}")


def sar2rgb(work: Path) -> None:
    sar, out, optical = [], [], []
    for a in sorted((DATA / "bigearthnet" / "A").glob("*.tif")):
        vh, valid = _read(a, [2])
        s2, s2_valid = _read(DATA / "bigearthnet" / "B" / a.name)
        sar.append((f"{a.stem}: S1 VH (dB)", display_rgb(vh, valid)))
        out.append(("sar2rgb", _translated(a, "sar2rgb", work).transpose(1, 2, 0)))
        optical.append(("Sentinel-2, within a day", display_rgb(s2, s2_valid)))
    title = "sar2rgb on BigEarthNet-MM patches (10 m, 2017-18; not in its training data)"
    _figure([sar, out, optical], title, OUT / "builtin_sar2rgb.png", 2.4)


def sat2map(work: Path) -> None:
    photo = TAHOE / "tahoe_highrez.tif"
    rows = [
        [
            ("aerial photo, NIR-R-G, 0.5 m", _read(photo)[0].transpose(1, 2, 0)),
            ("sat2map (translated at its 2 m)", _translated(photo, "sat2map", work).transpose(1, 2, 0)),
        ]
    ]
    _figure(rows, "sat2map on a Lake Tahoe aerial photo (not in its training data)", OUT / "builtin_sat2map.png", 4.0)


def dsm2rgb(work: Path) -> None:
    dsm = TAHOE / "tahoe_lidar_highesthit.tif"
    height, valid = _read(dsm)
    rows = [
        [
            ("lidar DSM, 0.5 m", display_rgb(height, valid)),
            ("dsm2rgb (IR-R-G)", _translated(dsm, "dsm2rgb", work).transpose(1, 2, 0)),
            ("aerial photo, NIR-R-G", _read(TAHOE / "tahoe_highrez.tif")[0].transpose(1, 2, 0)),
        ]
    ]
    _figure(rows, "dsm2rgb on a Lake Tahoe lidar DSM (not in its training data)", OUT / "builtin_dsm2rgb.png", 4.0)


PICTURES = {"sar2rgb": sar2rgb, "sat2map": sat2map, "dsm2rgb": dsm2rgb}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="+", choices=sorted(PICTURES), default=sorted(PICTURES))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="geo2map-pictures-") as tmp:
        for name in args.only:
            PICTURES[name](Path(tmp))


if __name__ == "__main__":
    main()
