"""Translate a real Sentinel-1 scene into optical-looking RGB and draw input | output.

The bundled scene is a Sentinel-1 GRD subset that has only GCPs: geo2map warps it
onto its UTM zone, scales it with scene statistics as the model card says, and
writes a GeoTIFF on that grid.

    python examples/translate_sar.py                          # the built-in sar2rgb model
    python examples/translate_sar.py --model my.safetensors --out out/
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geo2map

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "tests" / "data" / "s1a_iw_grdh_subset_gcps.tif"


def main(argv: list[str] | None = None) -> Path:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="sar2rgb", help="built-in model name or model file")
    ap.add_argument("--scene", default=str(SCENE))
    ap.add_argument("--out", default="out/examples")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = geo2map.translate_raster(
        args.scene,
        out / "sar_rgb.tif",
        args.model,
        nodata=0,  # the GRD subset has a border of DN 0
        overwrite=True,
        quicklook=out / "sar_rgb.png",
    )
    print(f"{result.translated} tiles in {result.seconds:.1f} s on {result.device}; figure {result.quicklook}")
    return Path(result.quicklook)


if __name__ == "__main__":
    main()
