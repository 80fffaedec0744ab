"""The COG preset's last pass (GDAL's COG driver copying the tiled intermediate) by codec and level.

``geo2map translate --cog`` writes a tiled GeoTIFF while the network runs, then GDAL's COG
driver copies it with overviews. This times that copy on any raster, with the options
``geo2map.raster.write.OutputSpec.cog_options`` gives, at each DEFLATE level asked (and ZSTD
level 1 for comparison), and prints seconds and file size::

    python benchmarks/bench_cog.py out.tif                       # levels 6 (GDAL's default), 3, 1
    python benchmarks/bench_cog.py out.tif --levels 1 --no-overviews

docs/benchmarks.md has the figures (a 25000 x 16000 sar2rgb output: 37.1 s at level 6, 13.7 s at 1).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import rasterio
import rasterio.shutil

from geo2map.raster.write import OutputSpec


def _options(src: str, compress: str, level: int, overviews: bool) -> dict:
    with rasterio.open(src) as ds:
        options = {"compress": compress, "level": str(level)}
        spec = OutputSpec.on_grid(ds, dtype=ds.dtypes[0], count=ds.count, preset="cog", creation_options=options)
    opts = spec.cog_options()
    if not overviews:
        opts["overviews"] = "NONE"
    return opts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", help="a raster (e.g. a translate output made with --format deflate)")
    ap.add_argument("--levels", type=int, nargs="+", default=[6, 3, 1], help="DEFLATE levels")
    ap.add_argument("--zstd", action="store_true", help="also ZSTD level 1")
    ap.add_argument("--no-overviews", action="store_true", help="copy without building overviews")
    args = ap.parse_args()
    runs = [("deflate", level) for level in args.levels] + ([("zstd", 1)] if args.zstd else [])
    with tempfile.TemporaryDirectory(dir=Path(args.src).resolve().parent) as tmp:
        for compress, level in runs:
            out = os.path.join(tmp, f"{compress}{level}.tif")
            opts = _options(args.src, compress, level, not args.no_overviews)
            t0 = time.perf_counter()
            rasterio.shutil.copy(args.src, out, driver="COG", **opts)
            seconds = time.perf_counter() - t0
            print(f"{compress} level {level}: {seconds:.1f} s, {os.path.getsize(out) / 1e6:.1f} MB", flush=True)
            os.remove(out)


if __name__ == "__main__":
    main()
