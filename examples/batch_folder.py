"""Translate a folder of rasters on Dask and map the footprints of the outputs.

python examples/batch_folder.py                              # bundled Sentinel-1 patches, identity model
python examples/batch_folder.py --input archive/ --model sar2rgb --workers 2
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", default=str(ROOT / "tests" / "data" / "bigearthnet" / "A"))
    ap.add_argument("--model", default="identity")
    ap.add_argument("--bidx", default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="out/examples/batch")
    args = ap.parse_args(argv)
    from geo2map.batch import FOOTPRINTS, run_batch

    options = {"bidx": args.bidx} if args.bidx else {}
    summary = run_batch([args.input], args.out, args.model, workers=args.workers, translate_options=options, log=print)
    print(f"{len(summary.done)} done, {len(summary.skipped)} skipped, {len(summary.failed)} failed")

    import geopandas as gpd

    from geo2map.plots import pyplot

    plt = pyplot()
    gdf = gpd.read_file(Path(args.out) / FOOTPRINTS)
    fig, ax = plt.subplots(figsize=(9, 5))
    gdf.plot(ax=ax, column="crs", categorical=True, legend=True, edgecolor="k", alpha=0.6)
    gdf.set_geometry(gdf.representative_point()).plot(ax=ax, color="k", markersize=12)  # small scenes stay visible
    for _, row in gdf.iterrows():
        c = row.geometry.centroid
        ax.annotate(row["name"], (c.x, c.y), fontsize=6, ha="center")
    ax.set_title(f"footprints.gpkg: {len(gdf)} outputs of geo2map batch (EPSG:4326, colour = output CRS)")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    fig.tight_layout()
    figure = Path(args.out) / "footprints.png"
    fig.savefig(figure, dpi=90)
    print(f"figure {figure}")
    return figure


if __name__ == "__main__":
    main()
